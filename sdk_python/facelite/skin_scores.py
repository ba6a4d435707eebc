"""Raw skin measures → 0–100 scores (higher = healthier), bands and the ITA° tone category.

A raw measure (CIELAB units, pixel fractions, the acne model's severity) means nothing
to a user; a score does when its anchors are stated. Every concern's score is a monotone,
piecewise-linear map of one raw number, `ScoreMap`, whose anchors come from the raw
measures of real photos (docs/skin.md "Scores" gives each formula, anchor and the
percentiles they were read from; `benchmarks/skin_eval.py --calibrate` prints them):

- `acne`: the acne model's expected grade s in [0, 2] (0 mild, 1 moderate, 2 severe,
  ACNE04's levels); 100 at s = 0, 70 at s = 0.5 and 40 at s = 1.5 (the band edges sit
  half-way between grades), 25 at s = 2.
- `redness`: the region's mean a* above the face's own skin baseline (ΔA*), so a
  darker or redder complexion does not read as redness.
- `pigmentation`: spot load = 100 × spot_fraction × spot_contrast (area % of pixels
  darker than the local skin × their mean ΔL*).
- `evenness`: colour spread = √(lightness_sd² + b_star_sd²) (ΔE over L* and b*).
- `texture`: the pore-scale band-pass energy of L*.
- `shine`: specular-highlight area in % (100 × shine).

For the data-anchored concerns, 100 is the raw value of the clearest 10% of healthy
faces (ACNE04 level0, which is mild acne: the nearest thing to healthy skin we have), 70
(the good/fair edge) is their 90th percentile, and the score falls on at the same rate
beyond, so 40 is one more healthy spread past the 90th percentile (`HEALTHY_RANGES`).
Each region is held to the same region of healthy faces (`REGION_KINDS`: the cheeks
share anchors, so do the under-eyes), because skin differs by region: every nose shines
more than a cheek and under-eyes are darker, and a score says how this region compares
with that region on healthy skin. The whole face has its own anchors.

Bands: `good` (score ≥ 70), `fair` (40 ≤ score < 70), `attention` (score < 40), judged
on the score rounded to a whole number, as it is printed.

Tone is reported, never scored: ITA° = atan2(L* − 50, b*) in degrees, in the categories
of Chardon et al. (1991) / Del Bino et al.: very_light > 55 ≥ light > 41 ≥ intermediate
> 28 ≥ tan > 10 ≥ brown > −30 ≥ dark.

Example:

    >>> from facelite.skin_scores import SCORE_MAPS, band, concern_score, ita_category
    >>> SCORE_MAPS["acne"].score(0.5), SCORE_MAPS["acne"].score(1.0), SCORE_MAPS["acne"].score(2.0)
    (70.0, 55.0, 25.0)
    >>> band(70), band(69.6), band(39.4)
    ('good', 'good', 'attention')
    >>> concern_score("acne", 1.0)
    ConcernScore(score=55.0, band='fair', raw=1.0)
    >>> ita_category(48.0), ita_category(-40.0)
    ('light', 'dark')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONCERNS = ("acne", "redness", "pigmentation", "evenness", "texture", "shine")
"""Scored concerns, in report order."""

GOOD_FROM = 70
"""Rounded scores from here up are `good`."""
FAIR_FROM = 40
"""Rounded scores from here up to GOOD_FROM are `fair`; below, `attention`."""
BANDS = ("good", "fair", "attention")

ITA_CATEGORIES = ((55.0, "very_light"), (41.0, "light"), (28.0, "intermediate"), (10.0, "tan"), (-30.0, "brown"))
"""(lower bound, exclusive; category), from the lightest; at or below the last bound: `dark`."""


@dataclass(frozen=True)
class ScoreMap:
    """A monotone piecewise-linear map raw → score through `anchors`, clamped to [0, 100].

    `anchors` are (raw, score) pairs with raw increasing and score decreasing (a higher
    raw measure is worse); below the first anchor the score is the first anchor's score,
    beyond the last it goes on at the last segment's slope until it reaches 0.
    """

    anchors: tuple[tuple[float, float], ...]
    unit: str
    """What the raw number is, for docs and the report page."""

    def __post_init__(self) -> None:
        raws = [a[0] for a in self.anchors]
        scores = [a[1] for a in self.anchors]
        if len(self.anchors) < 2 or any(b <= a for a, b in zip(raws, raws[1:])) or \
                any(b >= a for a, b in zip(scores, scores[1:])):
            raise ValueError(f"ScoreMap anchors {self.anchors}: need >= 2 with raw increasing and score decreasing")

    def score(self, raw: float) -> float:
        """The score of `raw` (NaN for a NaN raw: nothing was measured)."""
        if raw is None or not math.isfinite(raw):
            return float("nan")
        (x0, y0), (x1, y1) = self.anchors[-2:]
        if raw > x1:
            value = y1 + (raw - x1) * (y1 - y0) / (x1 - x0)
        else:
            value = float(np.interp(raw, [a[0] for a in self.anchors], [a[1] for a in self.anchors]))
        return float(min(100.0, max(0.0, value)))


REGION_KINDS = {"forehead": "forehead", "nose": "nose", "left_cheek": "cheek", "right_cheek": "cheek",
                "left_under_eye": "under_eye", "right_under_eye": "under_eye", "chin": "chin", "face": "face"}
"""Which anchors a region's scores use: the two cheeks share theirs, so do the under-eyes
(a three-quarter view shows one cheek wide and the other narrow; skin is symmetric)."""

HEALTHY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "redness": {"face": (1.9, 4.8), "forehead": (0.97, 3.9), "nose": (1.2, 7.5), "cheek": (0.97, 5.8),
                "under_eye": (-1.3, 5.0), "chin": (2.4, 11.0)},
    "pigmentation": {"face": (39.0, 100.0), "forehead": (38.0, 170.0), "nose": (23.0, 160.0),
                     "cheek": (3.1, 250.0), "under_eye": (10.0, 480.0), "chin": (19.0, 160.0)},
    "evenness": {"face": (9.4, 18.0), "forehead": (9.0, 23.0), "nose": (6.8, 13.0), "cheek": (5.1, 12.0),
                 "under_eye": (4.6, 18.0), "chin": (7.1, 16.0)},
    "texture": {"face": (1.3, 2.4), "forehead": (1.2, 3.1), "nose": (1.4, 2.9), "cheek": (0.71, 2.9),
                "under_eye": (0.92, 5.7), "chin": (1.0, 2.9)},
    "shine": {"face": (0.084, 1.2), "forehead": (0.0, 0.94), "nose": (0.0, 6.0), "cheek": (0.0, 0.84),
              "under_eye": (0.0, 8.7), "chin": (0.0, 2.2)},
}
"""(p10, p90) of each concern's raw number over the healthy reference faces, per region
kind, to two significant digits: the usable ACNE04 level0 photos (`benchmarks/skin_eval.py`,
section `calibration`, prints this table)."""

UNITS = {"acne": "expected grade 0–2", "redness": "ΔA* (a* above the face's skin baseline)",
         "pigmentation": "spot area % × mean ΔL*", "evenness": "ΔE spread of L* and b*",
         "texture": "band-pass L* energy", "shine": "highlight area %"}
"""What each concern's raw number is."""

ACNE_MAP = ScoreMap(((0.0, 100.0), (0.5, 70.0), (1.5, 40.0)), UNITS["acne"])
"""Acne's map, the same for the face and every graded region: band edges half-way between grades."""


def healthy_map(p10: float, p90: float, unit: str) -> ScoreMap:
    """The data-anchored map: 100 at or below the healthy 10th percentile, 70 at the 90th,
    then the same slope on (40 one healthy spread beyond the 90th percentile, 0 below)."""
    return ScoreMap(((p10, 100.0), (p90, 70.0)), unit)


def score_map(concern: str, region: str = "face") -> ScoreMap:
    """The ScoreMap of a concern in a region (by its `REGION_KINDS` kind) or the whole face."""
    if concern == "acne":
        return ACNE_MAP
    p10, p90 = HEALTHY_RANGES[concern][REGION_KINDS[region]]
    return healthy_map(p10, p90, UNITS[concern])


SCORE_MAPS: dict[str, ScoreMap] = {concern: score_map(concern) for concern in CONCERNS}
"""The whole face's map per concern."""


def concern_raw(concern: str, measures: dict[str, float]) -> float:
    """The one raw number a concern's score is read from, out of a region's raw measures
    (`RawSkinMeasures.regions[r]`); NaN when the region lacks what it needs. Not for acne,
    whose raw number is the acne model's severity."""
    m = measures
    if concern == "redness":
        return float(m.get("redness", math.nan))
    if concern == "pigmentation":
        return 100.0 * float(m.get("spot_fraction", math.nan)) * float(m.get("spot_contrast", math.nan))
    if concern == "evenness":
        return math.hypot(float(m.get("lightness_sd", math.nan)), float(m.get("b_star_sd", math.nan)))
    if concern == "texture":
        return float(m.get("texture", math.nan))
    if concern == "shine":
        return 100.0 * float(m.get("shine", math.nan))
    raise ValueError(f"concern '{concern}': not a measured concern; use one of {', '.join(CONCERNS[1:])}")


def band(score: float) -> str:
    """`good`, `fair` or `attention` for a score, judged on the score rounded as printed."""
    s = round(score)
    return "good" if s >= GOOD_FROM else "fair" if s >= FAIR_FROM else "attention"


@dataclass(frozen=True)
class ConcernScore:
    """One concern in one region: the 0–100 score, its band and the raw measure it came from."""

    score: float
    band: str
    raw: float

    def to_json(self) -> dict:
        return {"score": int(round(self.score)), "band": self.band, "raw": round_raw(self.raw)}


def concern_score(concern: str, raw: float, region: str = "face") -> ConcernScore | None:
    """The ConcernScore of a raw value in a region (None when raw is NaN: not measured)."""
    if raw is None or not math.isfinite(raw):
        return None
    score = score_map(concern, region).score(raw)
    return ConcernScore(score, band(score), float(raw))


def region_scores(region: str, measures: dict[str, float],
                  acne_severity: float | None = None) -> dict[str, ConcernScore]:
    """{concern: ConcernScore} of one region's (or "face"'s) raw measures (+ the acne
    severity for it), in CONCERNS order; concerns that could not be measured are left out."""
    out = {}
    for concern in CONCERNS:
        raw = acne_severity if concern == "acne" else concern_raw(concern, measures)
        scored = concern_score(concern, raw, region) if raw is not None else None
        if scored is not None:
            out[concern] = scored
    return out


def round_raw(value: float) -> float:
    """A raw measure kept to 4 significant digits (enough for a history, small in JSON)."""
    if not math.isfinite(value) or value == 0:
        return value
    return round(value, max(0, 3 - int(math.floor(math.log10(abs(value))))))


@dataclass(frozen=True)
class Tone:
    """Skin tone: ITA° of the face's skin and its category (reported, never scored)."""

    ita_deg: float
    category: str

    def to_json(self) -> dict:
        return {"ita_deg": round(self.ita_deg, 1), "category": self.category}


def ita_category(ita_deg: float) -> str:
    """The ITA° category (ITA_CATEGORIES): very_light > 55 ≥ light > 41 ≥ intermediate > 28
    ≥ tan > 10 ≥ brown > −30 ≥ dark."""
    for bound, name in ITA_CATEGORIES:
        if ita_deg > bound:
            return name
    return "dark"


def tone(ita_deg: float) -> Tone:
    return Tone(float(ita_deg), ita_category(ita_deg))
