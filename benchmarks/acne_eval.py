"""Acne per face on the held-out ACNE04 photos: severity and score by level, effect
sizes, accuracy and per-class recall per variant and combination rule, and by ITA° group.

The held-out photos are the acne recipe's own validation split
(`facelite_build.face_patches.split_photos`: seeded 80/20 by photo, exact and near
duplicates kept together; `--duplicates exact` keeps identical files only together, the
split acne 2.0.0 was built and first measured on); each photo's face comes from the face-geometry cache the build filled
(the shipped detector and landmarker, fp32; found now where missing), cut with
`skin_measures.face_crop` and graded by `acne.AcneGrader` — the runtime path. Photos
where no face is found are counted and left out.

Per bundle variant:

- `decision`: the bundle's grade decision (`output.grade_decision`, absent: argmax),
  which picks each face's label from its probabilities as the runtime does
  (`acne.grade_index`);
- `rules`: accuracy, per-class recall and confusion of the grade, by that decision, of the
  combined probabilities under the shipped rule (`combined`: ½ whole crop + ½ mean of
  the patches) and, as a sensitivity check only (the rule was fixed before measuring),
  the whole crop alone (`whole`), the patches alone (`patches`) and the flat mean of all
  views (`mean_all`); `combined_argmax` and `combined_median` score the shipped rule
  under each decision, whatever the bundle's;
- `by_level`: per true level, the photos' mean and SD of the severity (expected grade)
  and of the 0–100 acne score (`skin_scores`), and Cohen's d of the score between levels
  (0→1, 1→2, 0→2; negative: the score falls as acne worsens);
- `views`: accuracy of each view's own arg-max (what the manifest's metrics measure).

`--baseline OLD.flb` grades the same photos with a whole-photo bundle (acne 1.x: the
whole photo, no face needed) on all held-out photos and on those with a face. When the
skin_metrics bundle is available (`skin_measures.SkinMeasurer`), photos are grouped by
ITA° category: count, accuracy (fp32 and int8) and score by level per group.

`--export-views DIR` writes every held-out view as the model's own pixels (a PNG of
input size, BGR) under `DIR/<level>/`, so that
`facelite evaluate models/acne/acne.flb --data DIR --variant all` reproduces the
manifest's per-view metrics with the runtime's evaluator (the resize of an image
already at input size is the identity).

Usage (about a minute per variant on 2 cores):

    FACELITE_CACHE=/work/tmp/acne/cache python benchmarks/acne_eval.py \\
        --baseline /tmp/acne_1.0.1.flb --json /tmp/acne_eval.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from facelite.acne import WHOLE_VIEW, AcneGrader, AcneGraderOptions, combine_views, expected_grade, grade_index
from facelite.bundle import Bundle
from facelite.classifier import ClassifierOptions, ImageClassifier
from facelite.image import load_image
from facelite.metrics import accuracy, cohens_d, confusion_matrix, per_class_recall
from facelite.options import BaseOptions
from facelite.preprocess import prepare_pixels
from facelite.skin_measures import face_crop
from facelite.skin_scores import ACNE_MAP, ita_category
from facelite_build.face_patches import face_geometry, split_photos
from facelite_build.paths import CHECKOUT
from facelite_build.recipe import load_recipe

RULES = {
    "combined": lambda names, p: combine_views(names, p),
    "whole": lambda names, p: p[[n == WHOLE_VIEW for n in names]].mean(axis=0),
    "patches": lambda names, p: (p[[n != WHOLE_VIEW for n in names]].mean(axis=0)
                                 if len(names) > 1 else p[0]),
    "mean_all": lambda names, p: p.mean(axis=0),
}


def r4(v):
    return None if v is None else round(float(v), 4)


def decided(probs: np.ndarray, decision: str) -> np.ndarray:
    """Each row's label index by the grade decision (`acne.grade_index`)."""
    return np.array([grade_index(p, decision) for p in probs], np.int64)


def scored(truth: np.ndarray, probs: np.ndarray, labels: list[str], decision: str = "argmax") -> dict:
    """Accuracy, per-class recall and confusion of the labels `decision` picks."""
    predicted = decided(probs, decision)
    conf = confusion_matrix(truth, predicted, len(labels))
    return {"n": len(truth), "accuracy": r4(accuracy(truth, predicted)),
            "per_class_recall": dict(zip(labels, (r4(v) for v in per_class_recall(conf)))),
            "confusion": conf.tolist()}


def by_level(truth: np.ndarray, severity: np.ndarray, labels: list[str]) -> dict:
    """Severity and score per true level, and Cohen's d of the score between levels."""
    score = np.array([ACNE_MAP.score(float(s)) for s in severity])
    out = {}
    for i, name in enumerate(labels):
        m = truth == i
        out[name] = {"n": int(m.sum()),
                     "severity_mean": r4(severity[m].mean()) if m.any() else None,
                     "severity_sd": r4(severity[m].std(ddof=1)) if m.sum() > 1 else None,
                     "score_mean": r4(score[m].mean()) if m.any() else None,
                     "score_sd": r4(score[m].std(ddof=1)) if m.sum() > 1 else None}
    pairs = [(0, 1), (1, 2), (0, 2)] if len(labels) == 3 else []
    out["cohens_d_score"] = {f"{labels[a]}->{labels[b]}": r4(cohens_d(score[truth == a], score[truth == b]))
                             for a, b in pairs}
    out["cohens_d_severity"] = {f"{labels[a]}->{labels[b]}": r4(cohens_d(severity[truth == a], severity[truth == b]))
                                for a, b in pairs}
    return out


def grade_variant(bundle: Path, variant: str, crops: list, truth: np.ndarray) -> tuple[dict, np.ndarray]:
    """The per-variant report and the shipped rule's (N, K) combined probabilities."""
    options = AcneGraderOptions(base_options=BaseOptions(bundle_path=bundle, variant=variant, accelerator="cpu"))
    with AcneGrader.create_from_options(options) as grader:
        labels, decision = list(grader.labels), grader.decision
        views = grader.view_probabilities(crops)
    report: dict = {"decision": decision, "rules": {}}
    combined = None
    for rule, fn in RULES.items():
        probs = np.stack([fn(names, p) for names, p in views])
        report["rules"][rule] = scored(truth, probs, labels, decision)
        if rule == "combined":
            combined = probs
            for other in ("argmax", "median"):
                report["rules"][f"combined_{other}"] = scored(truth, probs, labels, other)
            report["by_level"] = by_level(truth, expected_grade(probs), labels)
        elif rule == "whole":
            report["by_level_whole"] = by_level(truth, expected_grade(probs), labels)
    per_view: dict[str, tuple[list, list]] = {}
    for (names, p), t in zip(views, truth):
        for n, row in zip(names, p):
            per_view.setdefault(n, ([], []))
            per_view[n][0].append(t)
            per_view[n][1].append(row)
    report["views"] = {n: {"n": len(t), "accuracy": r4(accuracy(np.array(t), np.array(p).argmax(1)))}
                       for n, (t, p) in per_view.items()}
    all_t = np.concatenate([np.array(t) for t, _ in per_view.values()])
    all_p = np.concatenate([np.array(p) for _, p in per_view.values()])
    report["views"]["all"] = {"n": len(all_t), "accuracy": r4(accuracy(all_t, all_p.argmax(1)))}
    return report, combined


def baseline_report(bundle: Path, photos: list, has_face: np.ndarray) -> dict:
    """A whole-photo bundle (acne 1.x) on every held-out photo and on those with a face."""
    truth = np.array([label for _, label in photos])
    out = {}
    with Bundle.open(bundle) as b:
        variants = list(b.variants)
    for v in variants:
        options = ClassifierOptions(base_options=BaseOptions(bundle_path=bundle, variant=v, accelerator="cpu"))
        with ImageClassifier.create_from_options(options) as clf:
            labels = list(clf.labels)
            probs = np.array([[c.scores[l] for l in labels]
                              for i in range(0, len(photos), 32)
                              for c in clf.classify_batch([load_image(p) for p, _ in photos[i:i + 32]])])
        out[v] = {"all_photos": scored(truth, probs, labels),
                  "photos_with_face": scored(truth[has_face], probs[has_face], labels),
                  "by_level_with_face": by_level(truth[has_face], expected_grade(probs[has_face]), labels)}
    return out


def tone_groups(crops: list, truth: np.ndarray, combined: dict[str, np.ndarray], labels: list[str],
                decision: str) -> dict:
    """Count, accuracy per variant (grades by `decision`) and score by level per ITA°
    category (skin_metrics bundle)."""
    try:
        from facelite.skin_measures import SkinMeasurer, SkinMeasurerOptions

        measurer = SkinMeasurer.create_from_options(SkinMeasurerOptions(base_options=BaseOptions(accelerator="cpu")))
    except Exception as exc:  # no skin_metrics bundle (yet): say so in the report
        return {"skipped": f"no SkinMeasurer: {exc}"}
    with measurer:
        ita = np.array([m.tone_ita for i in range(0, len(crops), 16) for m in measurer.measure_crops(crops[i:i + 16])])
    groups = np.array([ita_category(float(v)) for v in ita])
    out: dict = {"ita_deg": {"min": r4(ita.min()), "median": r4(np.median(ita)), "max": r4(ita.max())}}
    order = ["very_light", "light", "intermediate", "tan", "brown", "dark"]
    for g in order:
        m = groups == g
        entry: dict = {"n": int(m.sum()),
                       "per_level_n": {labels[i]: int((truth[m] == i).sum()) for i in range(len(labels))}}
        if m.any():
            for v, probs in combined.items():
                entry[f"accuracy_{v}"] = r4(accuracy(truth[m], decided(probs[m], decision)))
            fp32 = combined.get("fp32", next(iter(combined.values())))
            entry["by_level"] = by_level(truth[m], expected_grade(fp32[m]), labels)
        out[g] = entry
    return out


def export_views(folder: Path, crops: list, photos_with_face: list, bundle: Path, labels: list[str]) -> int:
    """Every held-out view's model pixels as a BGR PNG under folder/<level>/; returns the count."""
    with Bundle.open(bundle) as b:
        spec = b.input_spec
    count = 0
    options = AcneGraderOptions(base_options=BaseOptions(bundle_path=bundle, accelerator="cpu"))
    with AcneGrader.create_from_options(options) as grader:
        for crop, (path, label) in zip(crops, photos_with_face):
            for name, box in grader.views(crop):
                pixels = prepare_pixels(crop.image, spec, box)[0]
                out = folder / labels[label] / f"{Path(path).stem}__{name}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
                count += 1
    return count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=CHECKOUT / "models" / "acne" / "acne.flb")
    ap.add_argument("--recipe", type=Path, default=CHECKOUT / "models" / "acne" / "recipe.toml")
    ap.add_argument("--data", type=Path, default=None, help="data root (default: the recipe's, FACELITE_DATA)")
    ap.add_argument("--baseline", type=Path, default=None, help="a whole-photo acne bundle (1.x) to compare")
    ap.add_argument("--variants", default="all", help="comma-separated, or all (default)")
    ap.add_argument("--no-tone", action="store_true", help="skip the ITA° groups")
    ap.add_argument("--duplicates", choices=("near", "exact"), default="near",
                    help="held-out photos without exact and near copies in training (default), or without "
                         "identical copies only (the split acne 2.0.0 was measured on)")
    ap.add_argument("--export-views", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    a = ap.parse_args(argv)

    recipe = load_recipe(a.recipe)
    photos = split_photos(recipe, recipe.data_dir(a.data), near=a.duplicates == "near")
    faces = face_geometry([p for p, _ in photos.val])
    has_face = np.array([faces[p] is not None for p, _ in photos.val])
    with_face = [ph for ph, ok in zip(photos.val, has_face) if ok]
    truth = np.array([label for _, label in with_face])
    labels = photos.labels
    crops = [face_crop(load_image(p), faces[p].points) for p, _ in with_face]
    with Bundle.open(a.bundle) as b:
        variants = list(b.variants) if a.variants == "all" else a.variants.split(",")
        version = b.manifest["version"]
    report: dict = {
        "bundle": str(a.bundle), "version": version,
        "held_out": {"photos": len(photos.val), "with_face": int(has_face.sum()),
                     "no_face": {labels[i]: int(((~has_face) & (np.array([l for _, l in photos.val]) == i)).sum())
                                 for i in range(len(labels))},
                     "per_level_with_face": {labels[i]: int((truth == i).sum()) for i in range(len(labels))},
                     "duplicate_groups": len(photos.duplicate_groups),
                     "moved_to_train": photos.moved_to_train},
        "variants": {},
    }
    combined = {}
    for v in variants:
        print(f"grading {len(crops)} faces with {v}", file=sys.stderr)
        report["variants"][v], combined[v] = grade_variant(a.bundle, v, crops, truth)
        ref, decision = combined.get("fp32"), report["variants"][v]["decision"]
        if ref is not None and v != "fp32":
            report["variants"][v]["agreement_vs_fp32"] = r4(np.mean(decided(ref, decision) ==
                                                                    decided(combined[v], decision)))
    if a.baseline:
        print("grading the whole photos with the baseline", file=sys.stderr)
        report["baseline"] = {"bundle": str(a.baseline), "variants": baseline_report(a.baseline, photos.val, has_face)}
    if not a.no_tone:
        report["tone"] = tone_groups(crops, truth, combined, labels, decision)
    if a.export_views:
        report["exported_views"] = export_views(a.export_views, crops, with_face, a.bundle, labels)
    text = json.dumps(report, indent=1)
    if a.json:
        a.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
