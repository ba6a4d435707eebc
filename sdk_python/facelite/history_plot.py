"""The picture of a skin history: each score over time with its forecast, sized for a phone.

One panel per score, stacked, 1080 pixels wide (a phone screen's width, so nothing is
scaled down when it is shown full width), with large type: the captures as dots on the
good / fair / attention bands, the forecast's mean and its interval as a shaded fan after
the last capture, and a dashed line where the model versions change (scores on either
side are not comparable, see `facelite.skin_history`; older segments are drawn grey).

matplotlib is an optional extra (`pip install "facelite[history]"`); the rest of the
history works without it.

Example:

    >>> from facelite.history_plot import render_history      # doctest: +SKIP
    >>> image = render_history([(series, forecast)])           # doctest: +SKIP
    >>> image.shape                                            # doctest: +SKIP
    (720, 1080, 3)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

import numpy as np

from .errors import UserError
from .forecast import ScoreForecast
from .skin_history import ScoreSeries
from .skin_scores import FAIR_FROM, GOOD_FROM

WIDTH_PX = 1080
PANEL_PX = 720
DPI = 200
BAND_COLOURS = (("attention", 0, FAIR_FROM, "#f4c7c3"), ("fair", FAIR_FROM, GOOD_FROM, "#fde9b5"),
                ("good", GOOD_FROM, 100, "#cfe8cf"))
CURRENT, OLDER, FORECAST = "#1f3a93", "#9a9a9a", "#c0392b"


def _date(t_days: float) -> datetime:
    return datetime(1970, 1, 1) + timedelta(days=float(t_days))


def render_history(panels: Sequence[tuple[ScoreSeries, ScoreForecast | None]]) -> np.ndarray:
    """The history picture as a BGR uint8 image (WIDTH_PX wide, PANEL_PX per panel)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.dates import AutoDateLocator, DateFormatter
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError('the history plot needs matplotlib; install it with pip install "facelite[history]"') \
            from None
    if not panels:
        raise UserError("nothing to plot: the user has no scores yet")
    fig = Figure(figsize=(WIDTH_PX / DPI, PANEL_PX * len(panels) / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (series, forecast) in zip(axes, panels):
        _panel(ax, series, forecast)
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=5))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    fig.tight_layout(h_pad=1.2)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., 2::-1])


def _panel(ax, series: ScoreSeries, forecast: ScoreForecast | None) -> None:
    for name, lo, hi, colour in BAND_COLOURS:
        ax.axhspan(lo, hi, color=colour, zorder=0, lw=0)
        ax.text(0.99, hi - 3, name, transform=ax.get_yaxis_transform(), va="top", ha="right",
                fontsize=9, color="#666666", zorder=4)
    last = len(series.segments) - 1
    for k, seg in enumerate(series.segments):
        x = [_date(p.t_days) for p in seg.points]
        y = [p.score for p in seg.points]
        colour = CURRENT if k == last else OLDER
        ax.plot(x, y, "-", color=colour, lw=1.2, alpha=0.6, zorder=2)
        ax.plot(x, y, "o", color=colour, ms=5, zorder=3, label="captures" if k == last else None)
        if k > 0:
            ax.axvline(x[0], color="#333333", ls="--", lw=1.2, zorder=2)
            ax.text(x[0], 97, " new model", fontsize=9, va="top", ha="left", color="#333333")
    title = series.concern if series.region == "face" else f"{series.region.replace('_', ' ')} {series.concern}"
    detail = ""
    if forecast is not None and forecast.enough_data and series.current is not None:
        start = series.current.points[-1].t_days
        xs = [_date(start)] + [_date(start + p.days) for p in forecast.path]
        mean = [forecast.current] + [p.mean for p in forecast.path]
        lower = [forecast.current] + [p.lower for p in forecast.path]
        upper = [forecast.current] + [p.upper for p in forecast.path]
        ax.fill_between(xs, lower, upper, color=FORECAST, alpha=0.25, lw=0, zorder=1,
                        label=f"{round(100 * forecast.interval)}% range")
        ax.plot(xs, mean, "-", color=FORECAST, lw=2.5, zorder=3, label="forecast")
        detail = (f"{forecast.current:.0f} now → {forecast.mean:.0f} in {forecast.horizon_days} days, "
                  f"{forecast.trend}\n"
                  f"chance below {forecast.threshold + 0.5:.0f} then: {100 * forecast.risk:.0f}%")
        ax.legend(loc="lower left", fontsize=9, frameon=True, framealpha=0.85)
    elif forecast is not None:
        detail = "not enough data for a forecast yet"
    ax.set_title(title, fontsize=13, fontweight="bold", loc="left")
    if detail:
        ax.set_title(detail, fontsize=10, loc="right", color="#333333")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score", fontsize=10)
    ax.tick_params(labelsize=10)
    ax.grid(axis="y", color="white", lw=0.8)
