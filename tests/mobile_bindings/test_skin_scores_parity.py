"""The C score formulas (`mobile_bindings/c/src/skin_scores.c`) give `facelite.skin_scores`' numbers.

`tool_skin_scores` (a helper of the session's CMake build, `c_build`) reads the score
anchors from the shipped skin_metrics bundle's manifest (`output.score_anchors`, the one
place they live), then raw measures as JSON lines, and prints what the C core scores them.
On the same inputs both sides must agree: the same anchors for every concern in every
region as `ScoreTable.from_manifest` of that bundle, the same concerns measured (a NaN or infinite raw is
"not measured" on both), the same bands, ITA° categories and `round_raw` values, scores
within 1e-9. Inputs: every anchor of every concern and region and its neighbouring
doubles, values straddling the band edges, random values over each range and far beyond
it, zeros, negatives, NaN and infinities, and measure dicts with missing or NaN entries.
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np

from facelite.paths import shipped_bundle
from facelite.regions import REGION_NAMES
from facelite.skin_scores import CONCERNS, ITA_CATEGORIES, ita_category, region_scores, round_raw, shipped_score_table

TOLERANCE = 1e-9
MEASURES = ("redness", "spot_fraction", "spot_contrast", "lightness_sd", "b_star_sd", "texture", "shine")
REGIONS = (*REGION_NAMES, "face")


def encode(v: float):
    """A value as the tool reads it: a number, or "nan" / "inf" / "-inf"."""
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def decode(v) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity"))


def score_map(concern: str, region: str):
    """The shipped skin_metrics bundle's ScoreMap (what the tool reads, acne included)."""
    return shipped_score_table().score_map(concern, region)


def run_tool(c_build, lines: list[dict]) -> list[dict]:
    p = subprocess.run([str(c_build.tool("tool_skin_scores")), str(shipped_bundle("skin_metrics"))],
                       input="".join(json.dumps(x) + "\n" for x in lines), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(out) == len(lines) and not any("error" in o for o in out), out[:3]
    return out


def test_the_c_core_reads_the_bundle_s_anchors_as_python_does(c_build):
    c_anchors = run_tool(c_build, [{"anchors": True}])[0]["anchors"]
    for concern in CONCERNS:
        for region in REGIONS:
            want = [list(a) for a in score_map(concern, region).anchors]
            got = [[decode(a["raw"]), decode(a["score"])] for a in c_anchors[concern][region]]
            assert got == want, f"{concern} in {region}: anchors {got} in C, {want} in Python (ScoreTable)"


def test_a_bundle_without_score_anchors_is_refused_naming_the_fix(c_build, tmp_path):
    """A skin_metrics bundle older than 2.1.0 has no `output.score_anchors`: the C core
    refuses it as `ScoreTable.from_manifest` does, saying to rebuild it."""
    from facelite.bundle import Bundle

    with Bundle.open(shipped_bundle("skin_metrics")) as bundle:
        assert "score_anchors" in bundle.manifest["output"]
    p = subprocess.run([str(c_build.tool("tool_skin_scores")), str(shipped_bundle("expression"))], input="",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no output.score_anchors" in p.stderr and "rebuild" in p.stderr, p.stderr


def edge_raws(rng: np.random.Generator, concern: str, region: str) -> list[float]:
    """Anchors and their neighbours, band edges, random values near and far, specials."""
    raws = [0.0, -0.0, -1.0, -1e300, 1e300, 5e-324, math.nan, math.inf, -math.inf]
    anchors = score_map(concern, region).anchors
    for x, _ in anchors:
        raws += [x, np.nextafter(x, -math.inf), np.nextafter(x, math.inf), x + 1e-12, x - 1e-12]
    (x0, y0), (x1, y1) = anchors[-2:]
    for target in (70.5, 69.5, 40.5, 39.5, 0.0, 0.5):  # where a band edge or 0 is reached
        raws.append(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
    hi = max(abs(anchors[-1][0]), 1.0)
    raws += list(rng.uniform(-0.5 * hi, 4 * hi, 20)) + list(rng.uniform(0, 100 * hi, 5))
    return [float(r) for r in raws]


def test_scores_bands_and_raws_equal_python_on_edge_and_random_inputs(c_build):
    rng = np.random.default_rng(11)
    lines = [{"concern": c, "region": r, "raw": encode(x)} for c in CONCERNS for r in REGIONS
             for x in edge_raws(rng, c, r)]
    worst = 0.0
    for line, got in zip(lines, run_tool(c_build, lines)):
        want = score_map(line["concern"], line["region"]).score(decode(line["raw"]))
        got = decode(got["score"])
        assert math.isnan(got) == math.isnan(want), (line, got, want)
        if not math.isnan(want):
            worst = max(worst, abs(got - want))
            assert abs(got - want) <= TOLERANCE, (line, got, want)
    print(f"\n{len(lines)} raw values: max score difference {worst:.3g}")


def random_measures(rng: np.random.Generator) -> dict:
    """A region's measures as the skin_metrics bundle gives them, some missing or NaN."""
    m = {"redness": rng.uniform(-6, 14), "spot_fraction": rng.uniform(0, 0.4), "spot_contrast": rng.uniform(0, 25),
         "lightness_sd": rng.uniform(0, 20), "b_star_sd": rng.uniform(0, 12), "texture": rng.uniform(0, 6),
         "shine": rng.uniform(0, 0.1)}
    m = {k: float(v) for k, v in m.items()}
    kind = rng.integers(0, 6)
    if kind == 0:
        m[MEASURES[rng.integers(len(MEASURES))]] = math.nan
    elif kind == 1:
        del m[MEASURES[rng.integers(len(MEASURES))]]
    elif kind == 2:
        m = {}
    return m


def test_region_scores_measure_the_same_concerns_as_python(c_build):
    """`region_scores`: the same concerns (acne from the severity, NaN: left out), scores,
    bands and raw numbers (pigmentation, evenness and shine computed from the measures)."""
    rng = np.random.default_rng(12)
    cases = []
    for i in range(400):
        acne = [math.nan, 0.0, 2.0, float(rng.uniform(0, 2)), math.inf][i % 5]
        cases.append((REGIONS[i % len(REGIONS)], random_measures(rng), acne))
    lines = [{"region": r, "measures": {k: encode(v) for k, v in m.items()}, "acne": encode(a)} for r, m, a in cases]
    for (region, measures, acne), got in zip(cases, run_tool(c_build, lines)):
        want = region_scores(region, measures, None if math.isnan(acne) else acne, shipped_score_table())
        got = got["scores"]
        assert list(got) == list(want), (measures, acne, list(got), list(want))
        for concern, score in want.items():
            assert got[concern]["band"] == score.band, (concern, measures, got[concern], score)
            assert abs(decode(got[concern]["score"]) - score.score) <= TOLERANCE, (concern, got[concern], score)
            assert abs(decode(got[concern]["raw"]) - score.raw) <= TOLERANCE * max(1.0, abs(score.raw))


def test_ita_categories_and_rounded_raws_equal_python(c_build):
    rng = np.random.default_rng(13)
    itas = [b + d for b, _ in ITA_CATEGORIES for d in (0.0, 1e-9, -1e-9)]
    itas += [float(v) for v in rng.uniform(-90, 90, 200)] + [math.nan, math.inf, -math.inf, 90.0, -90.0]
    values = [0.0, -0.0, 1.0, 9999.5, 12345.678, 0.00012345, -3.14159, 1e-300, 5e-324, 1e300, math.nan, math.inf]
    values += [float(v) for v in 10.0 ** rng.uniform(-8, 8, 300) * rng.choice([-1, 1], 300)]
    values += [round(float(v), 4) + 5e-5 for v in rng.uniform(0, 10, 100)]  # near decimal ties
    lines = [{"ita": encode(v)} for v in itas] + [{"round_raw": encode(v)} for v in values]
    out = run_tool(c_build, lines)
    for ita, got in zip(itas, out):
        assert got["category"] == ita_category(ita), (ita, got)
    for value, got in zip(values, out[len(itas):]):
        want, got = round_raw(value), decode(got["value"])
        assert (math.isnan(want) and math.isnan(got)) or (got == want and math.copysign(1, got) == math.copysign(1, want)), \
            (value, got, want)
