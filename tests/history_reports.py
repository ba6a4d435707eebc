"""Hand-made skin reports in `SkinReport.to_json()` shape, for the history, forecast and track tests."""

from __future__ import annotations

from facelite.skin_scores import band

MODELS_V1 = {"acne": "2.0.0", "skin_metrics": "2.0.0"}
MODELS_V2 = {"acne": "2.1.0", "skin_metrics": "2.0.0"}
REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")


def skin_report(acne: float = 75, redness: float = 80, models: dict | None = None, reliable: bool = True) -> dict:
    """A report with the face and five regions scored for acne and redness (regions a few points apart)."""

    def entry(score: float, raw: float) -> dict:
        return {"score": int(round(score)), "band": band(score), "raw": raw}

    def block(shift: float) -> dict:
        a, r = min(100, max(0, acne + shift)), min(100, max(0, redness - shift))
        return {"acne": entry(a, round((100 - a) / 60, 3)), "redness": entry(r, round((100 - r) / 7.5, 3))}

    checks = [{"code": "blur", "passed": reliable, "value": 120.0 if reliable else 5.0, "threshold": 20.0,
               "message": "Hold still and let the camera focus on your face."}]
    return {"reliable": reliable, "quality": {"reliable": reliable, "checks": checks},
            "tone": {"ita_deg": 38.5, "category": "intermediate"}, "face": block(0),
            "regions": {r: block(k - 2) for k, r in enumerate(REGIONS)},
            "lighting": {"exposure_gain": 1.02}, "models": dict(models or MODELS_V1)}
