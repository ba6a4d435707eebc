"""Score forecasts: where one skin score is heading, with an interval and a risk figure.

Why this model: users photograph themselves when they think of it, so captures are
irregular (three in a week, then nothing for a month), few (a forecast should say
something after a handful) and noisy (light, pose and the camera move a score by a few
points). A local linear trend state-space model takes each gap as it comes, separates a
capture's noise from a real drift of the skin, and gives a full predictive distribution,
so the interval and the risk come from one place. A 28-day cycle term (hormonal skin
changes) is included only as far as the data supports it: its weight comes from the
likelihood. Everything is a 4-state Kalman filter over a fixed grid of noise levels: no
optimiser, no statistics library, small enough for the C core to run later (numpy here).

The model (t in days since the first capture; one grid cell g = (σ, q_l, q_s, s_c)):

    state      x_t = [μ_t, β_t, a, b]: level (points), slope (points/day), cycle coefficients
    observe    y_t = h_tᵀ x_t + ε_t,  h_t = [1, 0, sin ωt, cos ωt],  ε_t ~ N(0, σ²),  ω = 2π/P
    evolve     over a gap Δ ≥ 0: μ ← μ + Δ·β + η_μ,  β ← β + η_β,  a, b constant;
               Cov[η_μ, η_β] = Q(Δ) = q_l·Δ·[[1, 0], [0, 0]] + q_s·[[Δ³/3, Δ²/2], [Δ²/2, Δ]]
               (a random walk on the level plus a continuous-time integrated random walk:
               exact for any Δ, so irregular sampling needs nothing special)
    prior      μ_0 ~ N(50, 40²), β_0 ~ N(0, 0.5²), a, b ~ N(0, s_c²), independent

Kalman filter, per capture (T(Δ) the transition matrix, Q padded with zeros to 4×4):

    predict    m ← T m,   P ← T P Tᵀ + Q(Δ)
    update     v = y − hᵀm,  F = hᵀPh + σ²,  K = Ph / F,  m ← m + K v,  P ← P − K hᵀP
    evidence   log p(y | g) = Σ −½ (log 2πF + v²/F)

Grid and weights: σ ∈ `NOISE_SD` (points), √q_l ∈ `LEVEL_SD`, √q_s ∈ `SLOPE_SD` (per √day),
s_c ∈ `CYCLE_SD` (0 = no cycle), every combination equally likely a priori; the
posterior weight of cell g is w_g ∝ p(y | g) (Bayesian model averaging; cells with
w_g < 1e-9 are dropped).

Forecast at T + h (T the last capture): per cell, m_h = T(h) m, P_h = T(h) P T(h)ᵀ + Q(h);
the underlying score z = h_{T+h}ᵀ x (what a noise-free capture would read) is N(h_{T+h}ᵀ m_h,
h_{T+h}ᵀ P_h h_{T+h}); a new capture adds σ². The forecast is the mixture Σ w_g N(·,·):
its mean, its central interval by bisection of the mixture CDF, and the risk

    risk = P(z_{T+h} < threshold) = Σ_g w_g Φ((threshold − mean_g) / sd_g)

where the threshold is the lower edge of the band the score is in now (`skin_scores`:
good from 70, fair from 40; a band is judged on the rounded score, so "below 70" is
z < 69.5). In the attention band the risk is the chance of still being below 40. The
trend word compares the level's change over the horizon, Δμ = h·β + η_μ (the cycle
left out), with zero: worsening when P(Δμ < 0) ≥ 0.8, improving when P(Δμ > 0) ≥ 0.8.

A forecast needs at least `MIN_CAPTURES` captures spanning `MIN_SPAN_DAYS` days;
fewer gives `enough_data=False` and a sentence saying what is missing. Horizons run
from `MIN_HORIZON_DAYS` to `MAX_HORIZON_DAYS`. Φ is Abramowitz & Stegun 7.1.26
(|error| < 1.5e-7), written out so a C port gives the same numbers.
Calibration on simulated series (also with noise, jumps and cycles the model does not
assume): `benchmarks/forecast_calibration.py`, results in docs/skin_journey.md.

Example (a score falling by about 0.3 points a day over eight weeks):

    >>> from facelite.forecast import forecast_score
    >>> days = [0, 3, 7, 12, 14, 20, 27, 33, 40, 41, 48, 55]
    >>> scores = [82, 80, 81, 77, 78, 76, 74, 72, 71, 70, 68, 66]
    >>> f = forecast_score(days, scores, horizon_days=30, concern="pigmentation")
    >>> f.enough_data, f.trend, f.lower < f.mean < f.upper < 66
    (True, 'worsening', True)
    >>> f.threshold, f.risk > 0.5
    (39.5, False)
    >>> forecast_score([0, 1], [80, 79]).message
    'not enough data: 2 captures over 1 days; a forecast needs at least 5 captures spanning 14 days'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .skin_scores import FAIR_FROM, GOOD_FROM, band

MIN_CAPTURES = 5
"""Fewest captures a forecast is made from (a level, a slope and some idea of the noise)."""
MIN_SPAN_DAYS = 14.0
"""Shortest time between the first and last capture: a slope read off a few days is noise."""
MIN_HORIZON_DAYS, MAX_HORIZON_DAYS = 7, 90
DEFAULT_INTERVAL = 0.8
"""The central probability of the reported interval."""
CYCLE_DAYS = 28.0
"""Period of the cycle term (a typical menstrual cycle)."""

def _log_bins(lo: float, hi: float, k: int) -> tuple[float, ...]:
    """The midpoints (in log) of k equal log-bins of [lo, hi]: a log-uniform prior, discretised."""
    edges = np.geomspace(lo, hi, k + 1)
    return tuple(float(v) for v in np.round(np.sqrt(edges[:-1] * edges[1:]), 5))


NOISE_SD = _log_bins(0.75, 12.0, 9)
"""Capture noise σ of the grid, in score points (log-uniform 0.75–12)."""
LEVEL_SD = _log_bins(0.03, 0.6, 4)
"""√q_l: how far the level wanders on its own, points per √day (log-uniform 0.03–0.6)."""
SLOPE_SD = _log_bins(0.001, 0.03, 4)
"""√q_s: how fast the slope changes, points/day per √day (log-uniform 0.001–0.03)."""
CYCLE_SD = (0.0, 2.0)
"""s_c: prior sd of each cycle coefficient, points (0: no cycle; 2: amplitudes of about 0–5)."""
PRIOR_LEVEL, PRIOR_LEVEL_SD, PRIOR_SLOPE_SD = 50.0, 40.0, 0.12
"""The first capture's level (weak) and slope (about ±3.6 points a month at one sd)."""
TREND_PROBABILITY = 0.8
"""P(level change < 0) from which the trend is `worsening` (> 0: `improving`)."""
_MIN_WEIGHT = 1e-9

_A1, _A2, _A3, _A4, _A5, _P = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429, 0.3275911


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """Φ(x) by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), elementwise."""
    z = np.abs(np.asarray(x, np.float64)) / math.sqrt(2.0)
    t = 1.0 / (1.0 + _P * z)
    erf = 1.0 - ((((_A5 * t + _A4) * t + _A3) * t + _A2) * t + _A1) * t * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def mixture_cdf(x: np.ndarray, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """Σ_g w_g Φ((x − mean_g)/sd_g) for each x (x: (k,), components: (k, G) or (G,))."""
    x = np.asarray(x, np.float64)[..., None]
    return np.sum(weights * normal_cdf((x - means) / sds), axis=-1)


def mixture_quantile(p: float, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """The p-quantile of each row's Gaussian mixture (rows: (k, G)), by 64 bisection steps."""
    means, sds = np.atleast_2d(means), np.atleast_2d(sds)
    lo = np.min(means - 10.0 * sds, axis=1)
    hi = np.max(means + 10.0 * sds, axis=1)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        below = mixture_cdf(mid, weights, means, sds) < p
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class _Grid:
    noise_var: np.ndarray
    level_var: np.ndarray
    slope_var: np.ndarray
    cycle_var: np.ndarray

    @staticmethod
    def full() -> "_Grid":
        cells = np.array(np.meshgrid(NOISE_SD, LEVEL_SD, SLOPE_SD, CYCLE_SD, indexing="ij")).reshape(4, -1) ** 2
        return _Grid(*cells)

    def take(self, keep: np.ndarray) -> "_Grid":
        return _Grid(self.noise_var[keep], self.level_var[keep], self.slope_var[keep], self.cycle_var[keep])


def _predict(m: np.ndarray, P: np.ndarray, dt: float | np.ndarray, grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """The filter's predict step over a gap of `dt` days (per cell; dt scalar or (G,))."""
    dt = np.broadcast_to(np.asarray(dt, np.float64), m.shape[:1])
    m = m.copy()
    m[:, 0] += dt * m[:, 1]
    P = P.copy()
    P[:, 0, :] += dt[:, None] * P[:, 1, :]
    P[:, :, 0] += dt[:, None] * P[:, :, 1]
    P[:, 0, 0] += grid.level_var * dt + grid.slope_var * dt ** 3 / 3.0
    P[:, 0, 1] += grid.slope_var * dt ** 2 / 2.0
    P[:, 1, 0] += grid.slope_var * dt ** 2 / 2.0
    P[:, 1, 1] += grid.slope_var * dt
    return m, P


def _design(t: float, cycle_days: float) -> np.ndarray:
    w = 2.0 * math.pi / cycle_days
    return np.array([1.0, 0.0, math.sin(w * t), math.cos(w * t)])


def _filter(t: np.ndarray, y: np.ndarray, grid: _Grid, cycle_days: float):
    """Run the Kalman filter of every grid cell over the series: (m, P, log evidence) at the last capture."""
    n_cells = grid.noise_var.size
    m = np.zeros((n_cells, 4))
    m[:, 0] = PRIOR_LEVEL
    P = np.zeros((n_cells, 4, 4))
    P[:, 0, 0] = PRIOR_LEVEL_SD ** 2
    P[:, 1, 1] = PRIOR_SLOPE_SD ** 2
    P[:, 2, 2] = P[:, 3, 3] = grid.cycle_var
    loglik = np.zeros(n_cells)
    previous = t[0]
    for ti, yi in zip(t, y):
        if ti > previous:
            m, P = _predict(m, P, ti - previous, grid)
        previous = ti
        h = _design(ti, cycle_days)
        Ph = P @ h
        F = Ph @ h + grid.noise_var
        v = yi - m @ h
        loglik -= 0.5 * (np.log(2.0 * math.pi * F) + v * v / F)
        K = Ph / F[:, None]
        m = m + K * v[:, None]
        P = P - K[:, :, None] * Ph[:, None, :]
        P = 0.5 * (P + np.transpose(P, (0, 2, 1)))
    return m, P, loglik


@dataclass(frozen=True)
class ForecastPoint:
    """The forecast of the underlying score `days` after the last capture."""

    days: int
    mean: float
    lower: float
    upper: float

    def to_json(self) -> dict:
        return {"days": self.days, "mean": round(self.mean, 2), "lower": round(self.lower, 2),
                "upper": round(self.upper, 2)}


@dataclass(frozen=True)
class ScoreForecast:
    """One score's forecast `horizon_days` after its last capture.

    Scores are 0–100, higher = healthier. `mean`, `lower`, `upper`: the underlying score
    (what a noise-free capture would read) and its central `interval`; `capture_lower/upper`:
    where a single new capture would fall. `current`: the underlying score now (at the last
    capture). `risk`: P(underlying score < `threshold` at the horizon). `trend`:
    `worsening`, `improving` or `no clear trend`. With `enough_data=False` only `message`,
    `n_captures` and `span_days` are set.
    """

    concern: str
    horizon_days: int
    interval: float
    n_captures: int
    span_days: float
    enough_data: bool
    message: str
    current: float | None = None
    current_band: str | None = None
    mean: float | None = None
    lower: float | None = None
    upper: float | None = None
    capture_lower: float | None = None
    capture_upper: float | None = None
    trend: str | None = None
    p_worse: float | None = None
    threshold: float | None = None
    risk: float | None = None
    risk_sentence: str | None = None
    cycle_probability: float | None = None
    noise_sd: float | None = None
    path: tuple[ForecastPoint, ...] = field(default=())

    def to_json(self) -> dict:
        doc = {"concern": self.concern, "horizon_days": self.horizon_days, "interval": self.interval,
               "n_captures": self.n_captures, "span_days": round(self.span_days, 2),
               "enough_data": self.enough_data, "message": self.message}
        if self.enough_data:
            doc.update({k: _round(getattr(self, k)) for k in (
                "current", "current_band", "mean", "lower", "upper", "capture_lower", "capture_upper", "trend",
                "p_worse", "threshold", "risk", "risk_sentence", "cycle_probability", "noise_sd")})
            doc["path"] = [p.to_json() for p in self.path]
        return doc


def _clip(score: float) -> float:
    """Scores are 0–100; the model is not bounded, so its numbers are clipped for reporting."""
    return float(min(100.0, max(0.0, score)))


def _round(v):
    return round(v, 4) if isinstance(v, float) else v


def check_horizon(horizon_days: int) -> int:
    """`horizon_days` as an int within MIN_HORIZON_DAYS..MAX_HORIZON_DAYS, else ValueError saying so."""
    if not (MIN_HORIZON_DAYS <= int(horizon_days) <= MAX_HORIZON_DAYS) or int(horizon_days) != horizon_days:
        raise ValueError(f"forecast horizon {horizon_days} days: use a whole number of days from "
                         f"{MIN_HORIZON_DAYS} to {MAX_HORIZON_DAYS}")
    return int(horizon_days)


def likelihood_words(p: float) -> str:
    """A probability in plain words (for sentences a user reads)."""
    for bound, words in ((0.05, "very unlikely"), (0.2, "unlikely"), (0.4, "possible"), (0.6, "about even"),
                         (0.8, "likely")):
        if p < bound:
            return words
    return "very likely"


def risk_threshold(current: float) -> tuple[float, str]:
    """(threshold on the underlying score, band below it) for a score now at `current`:
    the lower edge of its band (bands are judged on the rounded score, hence the −0.5)."""
    now = band(current)
    if now == "good":
        return GOOD_FROM - 0.5, "fair"
    return FAIR_FROM - 0.5, "attention"


def forecast_score(days: Sequence[float], scores: Sequence[float], horizon_days: int = 30,
                   interval: float = DEFAULT_INTERVAL, concern: str = "score",
                   cycle_days: float = CYCLE_DAYS) -> ScoreForecast:
    """Forecast one score series `horizon_days` after its last capture (see the module doc).

    `days`: capture times in days (any origin, any spacing, repeats allowed), `scores`:
    the 0–100 scores of those captures (one model version: see `facelite.skin_history`).
    """
    horizon_days = check_horizon(horizon_days)
    if not 0.0 < interval < 1.0:
        raise ValueError(f"interval {interval}: a central probability strictly between 0 and 1, e.g. 0.8")
    t = np.asarray(days, np.float64)
    y = np.asarray(scores, np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"days and scores must be two sequences of one length (got {t.shape} and {y.shape})")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("days and scores must be finite numbers")
    order = np.argsort(t, kind="stable")
    t, y = t[order] - (t[order][0] if t.size else 0.0), y[order]
    n, span = int(t.size), float(t[-1]) if t.size else 0.0
    if n < MIN_CAPTURES or span < MIN_SPAN_DAYS:
        return ScoreForecast(concern, horizon_days, interval, n, span, False,
                             f"not enough data: {n} captures over {span:g} days; a forecast needs at least "
                             f"{MIN_CAPTURES} captures spanning {MIN_SPAN_DAYS:g} days")
    grid = _Grid.full()
    m, P, loglik = _filter(t, y, grid, cycle_days)
    w = np.exp(loglik - loglik.max())
    w /= w.sum()
    keep = w >= _MIN_WEIGHT
    w, m, P, grid = w[keep] / w[keep].sum(), m[keep], P[keep], grid.take(keep)

    h_now = _design(span, cycle_days)
    now_mean = m @ h_now
    current = float(w @ now_mean)

    steps = np.unique(np.append(np.arange(1, horizon_days + 1), horizon_days)).astype(np.float64)
    means, sds = [], []
    for d in steps:
        mh, Ph = _predict(m, P, d, grid)
        hh = _design(span + d, cycle_days)
        means.append(mh @ hh)
        sds.append(np.sqrt(np.einsum("i,gij,j->g", hh, Ph, hh)))
    means, sds = np.array(means), np.array(sds)
    tail = (1.0 - interval) / 2.0
    lower = mixture_quantile(tail, w, means, sds)
    upper = mixture_quantile(1.0 - tail, w, means, sds)
    mean = means @ w
    capture_sd = np.sqrt(sds[-1] ** 2 + grid.noise_var)
    cap_lo, cap_hi = (float(mixture_quantile(p, w, means[-1], capture_sd)[0]) for p in (tail, 1.0 - tail))

    level_change_mean = horizon_days * m[:, 1]
    level_change_sd = np.sqrt(horizon_days ** 2 * P[:, 1, 1] + grid.level_var * horizon_days +
                              grid.slope_var * horizon_days ** 3 / 3.0)
    p_worse = float(mixture_cdf(0.0, w, level_change_mean, level_change_sd))
    trend = ("worsening" if p_worse >= TREND_PROBABILITY else
             "improving" if 1.0 - p_worse >= TREND_PROBABILITY else "no clear trend")

    threshold, worse_band = risk_threshold(_clip(current))
    risk = float(mixture_cdf(threshold, w, means[-1], sds[-1]))
    path = tuple(ForecastPoint(int(d), _clip(a), _clip(b), _clip(c)) for d, a, b, c in zip(steps, mean, lower, upper))
    f = ScoreForecast(
        concern, horizon_days, interval, n, span, True, "", current=_clip(current), current_band=band(_clip(current)),
        mean=path[-1].mean, lower=path[-1].lower, upper=path[-1].upper, capture_lower=_clip(cap_lo),
        capture_upper=_clip(cap_hi), trend=trend, p_worse=p_worse, threshold=threshold, risk=risk,
        cycle_probability=float(w[grid.cycle_var > 0].sum()), noise_sd=float(w @ np.sqrt(grid.noise_var)), path=path)
    sentence = risk_sentence(f, worse_band)
    return ScoreForecast(**{**f.__dict__, "message": sentence, "risk_sentence": sentence})


def risk_sentence(f: ScoreForecast, worse_band: str) -> str:
    """The forecast and its risk in one plain sentence (an estimate from past captures, no advice)."""
    pct = f"{round(100 * f.interval)}%"
    head = (f"Your {f.concern} score is about {f.current:.0f} ({f.current_band}); in {f.horizon_days} days it is "
            f"expected around {f.mean:.0f} ({pct} range {f.lower:.0f}–{f.upper:.0f}, {f.trend}).")
    edge = f.threshold + 0.5
    if f.current_band == "attention":
        tail = f"Chance it is still below {edge:.0f} then: {100 * f.risk:.0f}% ({likelihood_words(f.risk)})."
    else:
        tail = (f"Chance it is below {edge:.0f} ({worse_band}) then: {100 * f.risk:.0f}% "
                f"({likelihood_words(f.risk)}).")
    return f"{head} {tail}"
