"""A day's context (products, sleep, sun, stress, cycle, tags) and its association with score changes.

Why associations and not effects: a user's own records are observational (you sleep less
in a stressful week, you start a cream when your skin is bad), so all the history can
say is how score changes went along with a factor, with an interval, never that the
factor caused them. Every sentence says so.

Factors (one value per user and day; the latest value given for a day wins):

| factor        | value                          | association reported per                 |
|---------------|--------------------------------|------------------------------------------|
| `products`    | list of product names           | each product: used on every day vs none  |
| `sleep_hours` | 0–24                            | extra hour                               |
| `uv_index`    | 0–20                            | UV index step                            |
| `stress`      | whole number 1–5                | stress level step                        |
| `cycle_day`   | whole number 1–60               | stored and exported; not analysed here (its cycle is the forecast's cycle term) |
| `tags`        | list of free words              | each tag: on every day vs none           |

Method (per face-level concern, over one model version's captures, see
`facelite.skin_history`): each capture's score y_i, its time t_i, and the factor's mean
x_i over the days since the previous capture up to the capture's own day (the first
capture: its day alone; for a product or tag, the fraction of recorded days it was
listed; a day with no record of that factor does not count). Ordinary least squares
y_i = α + β·t_i + γ·x_i + e_i: γ is how much higher the score was, relative to its
linear trend, per unit of the factor (per extra hour of sleep; for a product, after
days with it vs without), with a `ASSOCIATION_INTERVAL` Student-t interval (k − 3
degrees of freedom). Levels with the trend taken out, rather than differences between
captures: a capture's noise then enters once, so the interval is right (differences
share each capture's noise with the next pair). It needs at least `MIN_CAPTURES`
captures with the factor recorded, at least `MIN_EACH_SIDE` of them on each side of the
factor's mean; otherwise "not enough data". Many factors × concerns are looked at
together, so an interval that excludes zero now and then is expected by chance alone
(about 1 in 10 at 90%).

Example:

    >>> from facelite.skin_context import parse_context, associate
    >>> parse_context(["sleep_hours=7.5", "products=retinol,spf50", "stress=2"])
    {'sleep_hours': 7.5, 'products': ['retinol', 'spf50'], 'stress': 2}
    >>> parse_context(["sleep=7"])
    Traceback (most recent call last):
    ...
    facelite.errors.HistoryError: context 'sleep': not a known factor; did you mean 'sleep_hours'? (known: products, sleep_hours, uv_index, stress, cycle_day, tags)
    >>> days = ["2024-01-%02d" % d for d in range(1, 21)]
    >>> scores = [70 + (i % 2) * 4 for i in range(20)]                 # up on odd days
    >>> context = {d: {"sleep_hours": 8.0 if i % 2 else 6.0} for i, d in enumerate(days)}
    >>> a = associate(days, scores, context, concern="acne")[0]
    >>> a.factor, round(a.effect, 2), a.enough_data
    ('sleep_hours', 2.0, True)
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

import numpy as np

from .errors import HistoryError

CONTEXT_FACTORS = ("products", "sleep_hours", "uv_index", "stress", "cycle_day", "tags")
NUMERIC_RANGES = {"sleep_hours": (0.0, 24.0), "uv_index": (0.0, 20.0)}
WHOLE_RANGES = {"stress": (1, 5), "cycle_day": (1, 60)}
LIST_FACTORS = ("products", "tags")
MAX_NAME_CHARS = 64
MAX_LIST_ITEMS = 32
UNITS = {"sleep_hours": "per extra hour of sleep", "uv_index": "per UV index step",
         "stress": "per stress level step"}
ANALYSED = ("sleep_hours", "uv_index", "stress", "products", "tags")

MIN_CAPTURES = 8
"""Fewest captures with the factor recorded for an association."""
MIN_EACH_SIDE = 3
"""Fewest captures below and above the factor's mean (a factor that never varies says nothing)."""
ASSOCIATION_INTERVAL = 0.9


def _name_list(value: Any, where: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise HistoryError(f"{where}: expected a list of names (on the command line: a,b,c), got {value!r}")
    names = [v.strip() for v in items if v.strip()]
    if len(names) > MAX_LIST_ITEMS or any(len(v) > MAX_NAME_CHARS or not v.isprintable() for v in names):
        raise HistoryError(f"{where}: at most {MAX_LIST_ITEMS} printable names of at most {MAX_NAME_CHARS} "
                           "characters each")
    return list(dict.fromkeys(names))


def _number(value: Any, where: str, lo: float, hi: float, whole: bool) -> float | int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise HistoryError(f"{where}: expected a number from {lo:g} to {hi:g}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise HistoryError(f"{where}: expected {kind} from {lo:g} to {hi:g}, got {value!r}")
    return int(value) if whole else float(value)


def check_factor(name: str, value: Any, where: str = "context") -> Any:
    """One factor's value checked and normalised (numbers from strings, lists from `a,b`)."""
    here = f"{where} '{name}'"
    if name not in CONTEXT_FACTORS:
        close = difflib.get_close_matches(name, CONTEXT_FACTORS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ";"
        raise HistoryError(f"{here}: not a known factor{hint} (known: {', '.join(CONTEXT_FACTORS)})")
    if name in LIST_FACTORS:
        return _name_list(value, here)
    if name in WHOLE_RANGES:
        return _number(value, here, *WHOLE_RANGES[name], whole=True)
    return _number(value, here, *NUMERIC_RANGES[name], whole=False)


def check_context(factors: dict, where: str = "context") -> dict:
    """A {factor: value} dict checked by `check_factor` (HistoryError naming the factor)."""
    if not isinstance(factors, dict):
        raise HistoryError(f"{where}: expected an object of factors, got {type(factors).__name__}")
    return {name: check_factor(name, value, where) for name, value in factors.items()}


def parse_context(items: Sequence[str]) -> dict:
    """`k=v` strings (the CLI's `--context`) → a checked {factor: value} dict."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise HistoryError(f"context '{item}': write factor=value, e.g. sleep_hours=7 or products=retinol,spf50")
        out[name.strip()] = check_factor(name.strip(), value.strip())
    return out


# -- associations -------------------------------------------------------------------


def student_t_cdf(x: float, dof: float) -> float:
    """P(T ≤ x) for Student's t with `dof` degrees of freedom (Simpson's rule on the density;
    error far below what a reported interval shows)."""
    if x < 0:
        return 1.0 - student_t_cdf(-x, dof)
    n = 2000
    u = np.linspace(0.0, x, n + 1)
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    f = np.exp(log_c - (dof + 1) / 2 * np.log1p(u * u / dof))
    simpson = (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum()) * (x / n) / 3
    return 0.5 + float(simpson)


def student_t_quantile(p: float, dof: float) -> float:
    """The p-quantile of Student's t (bisection on `student_t_cdf`)."""
    if p < 0.5:
        return -student_t_quantile(1 - p, dof)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, dof) < p:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if student_t_cdf(mid, dof) < p else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Association:
    """How one concern's score went along with one factor (or one product or tag), trend taken out."""

    concern: str
    factor: str
    n_captures: int
    enough_data: bool
    sentence: str
    effect: float | None = None
    lower: float | None = None
    upper: float | None = None
    unit: str | None = None

    def to_json(self) -> dict:
        doc = {"concern": self.concern, "factor": self.factor, "n_captures": self.n_captures,
               "enough_data": self.enough_data, "sentence": self.sentence}
        if self.enough_data:
            doc.update(effect=round(self.effect, 3), lower=round(self.lower, 3), upper=round(self.upper, 3),
                       unit=self.unit, interval=ASSOCIATION_INTERVAL)
        return doc


def _days_between(earlier: str | None, later: str) -> list[str]:
    if earlier is None:
        return [later]
    a, b = date.fromisoformat(earlier), date.fromisoformat(later)
    if b <= a:
        return [later]
    return [(a + timedelta(days=k)).isoformat() for k in range(1, (b - a).days + 1)]


def _exposure(days: list[str], context: dict, factor: str, item: str | None) -> float | None:
    values = []
    for d in days:
        value = context.get(d, {}).get(factor)
        if value is None:
            continue
        values.append(float(item in value) if item is not None else float(value))
    return float(np.mean(values)) if values else None


def _fit(concern: str, label: str, unit: str, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> Association:
    k = x.size
    below = int(np.sum(x < x.mean() - 1e-12)) if k else 0
    above = int(np.sum(x > x.mean() + 1e-12)) if k else 0
    if k < MIN_CAPTURES or below < MIN_EACH_SIDE or above < MIN_EACH_SIDE:
        return Association(concern, label, k, False,
                           f"{label}: not enough data ({k} captures with it recorded, {below} below and {above} "
                           f"above its mean; needs {MIN_CAPTURES} captures with {MIN_EACH_SIDE} on each side)")
    X = np.column_stack([np.ones(k), t - t.mean(), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    dof = k - 3
    s2 = float(resid @ resid) / dof
    se = math.sqrt(s2 * np.linalg.inv(X.T @ X)[2, 2])
    q = student_t_quantile(0.5 + ASSOCIATION_INTERVAL / 2, dof)
    g = float(coef[2])
    lo, hi = g - q * se, g + q * se
    pct = f"{round(100 * ASSOCIATION_INTERVAL)}%"
    verdict = ("no clear association" if lo <= 0 <= hi else
               "higher scores went along with it" if lo > 0 else "lower scores went along with it")
    sentence = (f"{label}: your {concern} score was {g:+.1f} points relative to its trend {unit} "
                f"({pct} interval {lo:+.1f} to {hi:+.1f}; {k} captures): {verdict}. "
                "This is an association in your own records, not proof that one causes the other.")
    return Association(concern, label, k, True, sentence, g, lo, hi, unit)


def associate(days: Sequence[str], scores: Sequence[float], context: dict[str, dict], concern: str,
              times: Sequence[float] | None = None) -> list[Association]:
    """Every recorded factor's association with one score series (see the module doc).

    `days`: each capture's day (YYYY-MM-DD), in time order, with its `scores` (and its
    time in days, `times`; default: the day); `context`: {day: {factor: value}} (as
    stored). Products and tags give one association each.
    """
    if times is None:
        times = [date.fromisoformat(d).toordinal() for d in days]
    spans = [_days_between(a, b) for a, b in zip([None, *days[:-1]], days)]
    out = []
    recorded = {f for values in context.values() for f in values}
    for factor in ANALYSED:
        if factor not in recorded:
            continue
        items = sorted({v for values in context.values() for v in values.get(factor, [])}) \
            if factor in LIST_FACTORS else [None]
        for item in items:
            got = [(ti, x, yi) for span, ti, yi in zip(spans, times, scores)
                   if (x := _exposure(span, context, factor, item)) is not None]
            t, x, y = (np.array([g[j] for g in got], np.float64) for j in range(3))
            label = factor if item is None else f"{factor[:-1]} '{item}'"
            unit = UNITS.get(factor, "after days with it, compared with days without")
            out.append(_fit(concern, label, unit, t, x, y))
    return out
