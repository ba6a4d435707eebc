"""Raw skin measures → 0–100 scores (higher = healthier), bands and the ITA° tone category.

A raw measure (CIELAB units, pixel fractions, the acne model's severity) means nothing
to a user; a score does when its anchors are stated. Every concern's score is a monotone,
piecewise-linear map of one raw number, `ScoreMap`, whose anchors come from the raw
measures of real photos: the toolchain computes them when it builds the skin_metrics
bundle and stores them in its manifest (`output.score_anchors`), the one place the Python
runtime (`ScoreTable`) and the C core read them from (docs/skin.md "Scores" gives each
formula, the rule and the anchors of the shipped bundle):

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
(the good/fair edge) is their 90th percentile, or `MIN_SPAN` beyond the 10th when their
spread is narrower, and the score falls on at the same rate beyond (`healthy_anchors`).
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

    >>> from facelite.skin_scores import ACNE_MAP, band, concern_score, ita_category, score_map
    >>> ACNE_MAP.score(0.5), ACNE_MAP.score(1.0), ACNE_MAP.score(2.0)
    (70.0, 55.0, 25.0)
    >>> score_map("shine", "nose").anchors[0][1]          # the shipped bundle's anchors
    100.0
    >>> band(70), band(69.6), band(39.4)
    ('good', 'good', 'attention')
    >>> concern_score("acne", 1.0)
    ConcernScore(score=55.0, band='fair', raw=1.0)
    >>> ita_category(48.0), ita_category(-40.0)
    ('light', 'dark')
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .errors import BundleError

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
(a three-quarter view shows one cheek wide and the other narrow; skin is symmetric). The
toolchain writes this table into the bundle (`score_anchors.region_kinds`); scoring reads
the bundle's."""

UNITS = {"acne": "expected grade 0–2", "redness": "ΔA* (a* above the face's skin baseline)",
         "pigmentation": "spot area % × mean ΔL*", "evenness": "ΔE spread of L* and b*",
         "texture": "band-pass L* energy", "shine": "highlight area %"}
"""What each concern's raw number is."""

ACNE_ANCHORS = ((0.0, 100.0), (0.5, 70.0), (1.5, 40.0))
"""Acne's anchors, the same for the face and every graded region: band edges half-way
between grades (fixed by what the grades mean, not calibrated; the toolchain copies them
into the skin_metrics bundle's `score_anchors`)."""
ACNE_MAP = ScoreMap(ACNE_ANCHORS, UNITS["acne"])

MIN_SPAN = {"redness": 4.0, "pigmentation": 30.0, "evenness": 3.0, "texture": 0.5, "shine": 3.0}
"""The least raw distance from the 100 anchor to the 70 anchor, per concern: a change the
relighting benchmark's noise (docs/skin.md §8) cannot fake and a user could see (ΔA* 4,
ΔE 3; 3% of the area more highlight). Without it a concern whose healthy spread is tiny
(shine: 1.1% of the face) maps a flicker of a few highlight pixels to tens of points."""


def two_digits(value: float) -> float:
    """Two significant digits (an anchor is read from a sample; more would be noise)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return round(value, 1 - int(math.floor(math.log10(abs(value)))))


def healthy_anchors(concern: str, p10: float, p90: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The data-anchored map's two anchors from the healthy faces' 10th and 90th
    percentiles: (p10, 100) and (p10 + max(p90 − p10, MIN_SPAN), 70), raws to two
    significant digits; beyond, the same slope (40 one span past the 70 anchor, 0 at
    3.33 spans past p10).

        >>> healthy_anchors("shine", 0.084, 1.2)
        ((0.084, 100.0), (3.1, 70.0))
    """
    low = two_digits(p10)
    return (low, 100.0), (two_digits(low + max(p90 - p10, MIN_SPAN[concern])), 70.0)


@dataclass(frozen=True)
class ScoreTable:
    """Every concern's score map per region kind: the skin_metrics bundle's
    `output.score_anchors` (computed by the toolchain from healthy faces, docs/skin.md
    "Scores"), so the Python runtime and the C core read the same anchors.

    Attributes:
        anchors: concern → region kind → ((raw, score), ...).
        region_kinds: region (and "face") → its kind.
        source: where the anchors came from (the calibration rule and count).
    """

    anchors: dict[str, dict[str, tuple[tuple[float, float], ...]]]
    region_kinds: dict[str, str]
    source: str = ""

    @classmethod
    def from_manifest(cls, manifest: dict, where: str = "skin_metrics bundle") -> "ScoreTable":
        doc = (manifest.get("output") or {}).get("score_anchors")
        if not isinstance(doc, dict) or "anchors" not in doc or "region_kinds" not in doc:
            raise BundleError(f"{where}: its manifest has no output.score_anchors (a skin_metrics bundle older than "
                              "this facelite); rebuild it: facelite-build build models/skin_metrics/recipe.toml")
        anchors = {c: {k: tuple((float(x), float(y)) for x, y in pairs) for k, pairs in kinds.items()}
                   for c, kinds in doc["anchors"].items()}
        missing = [c for c in CONCERNS if c not in anchors]
        if missing:
            raise BundleError(f"{where}: output.score_anchors lacks {missing}; rebuild the bundle")
        return cls(anchors, {str(r): str(k) for r, k in doc["region_kinds"].items()}, str(doc.get("source", "")))

    def score_map(self, concern: str, region: str = "face") -> ScoreMap:
        """The ScoreMap of a concern in a region (by its kind) or the whole face."""
        if concern not in self.anchors:
            raise ValueError(f"concern '{concern}': not scored; use one of {', '.join(CONCERNS)}")
        if region not in self.region_kinds:
            raise ValueError(f"region '{region}': no score anchors; use one of {', '.join(self.region_kinds)}")
        return ScoreMap(self.anchors[concern][self.region_kinds[region]], UNITS[concern])


@functools.lru_cache(maxsize=1)
def shipped_score_table() -> ScoreTable:
    """The ScoreTable of the shipped skin_metrics bundle (read once)."""
    from .bundle import Bundle
    from .paths import shipped_bundle

    path = shipped_bundle("skin_metrics")
    if path is None:
        raise BundleError("no shipped skin_metrics bundle to read the score anchors from; reinstall facelite or "
                          "pass a ScoreTable (ScoreTable.from_manifest of your bundle)")
    with Bundle.open(path) as bundle:
        return ScoreTable.from_manifest(bundle.manifest, str(path))


def score_map(concern: str, region: str = "face", table: ScoreTable | None = None) -> ScoreMap:
    """The ScoreMap of a concern in a region (`table`: default the shipped bundle's)."""
    if concern == "acne" and table is None:
        return ACNE_MAP
    return (table or shipped_score_table()).score_map(concern, region)


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


def concern_score(concern: str, raw: float, region: str = "face",
                  table: ScoreTable | None = None) -> ConcernScore | None:
    """The ConcernScore of a raw value in a region (None when raw is NaN: not measured)."""
    if raw is None or not math.isfinite(raw):
        return None
    score = score_map(concern, region, table).score(raw)
    return ConcernScore(score, band(score), float(raw))


def region_scores(region: str, measures: dict[str, float], acne_severity: float | None = None,
                  table: ScoreTable | None = None) -> dict[str, ConcernScore]:
    """{concern: ConcernScore} of one region's (or "face"'s) raw measures (+ the acne
    severity for it), in CONCERNS order; concerns that could not be measured are left out.
    `table`: the skin_metrics bundle's anchors (default: the shipped bundle's)."""
    out = {}
    for concern in CONCERNS:
        raw = acne_severity if concern == "acne" else concern_raw(concern, measures)
        scored = concern_score(concern, raw, region, table) if raw is not None else None
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
