"""Expression ablation: short, equal-budget trainings of recipe variants on FER2013.

Each row trains `models/expression/recipe.toml` with a few `--set` overrides for the
same number of epochs, on FER2013 train, and reports the Keras fp32 accuracy on val
(never trained on). Prints a Markdown table for the model card.

    python benchmarks/expression_ablation.py --epochs 6 [--only v2_scratch,v1_64px]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RECIPE = "models/expression/recipe.toml"
NO_INIT = "backbone.weights=''"
ROWS = {
    "v1_0.25_init_96px": [],
    "v1_0.25_scratch_96px": [NO_INIT],
    "v2_0.35_scratch_96px": ["backbone.arch='mobilenet_v2'", "backbone.alpha=0.35", NO_INIT],
    "v3_small_0.75_scratch_96px": ["backbone.arch='mobilenet_v3_small'", "backbone.alpha=0.75", NO_INIT],
    "v1_0.25_init_64px": ["input.size=64"],
    "v1_0.25_init_112px": ["input.size=112"],
    "v1_init_no_smoothing_no_class_weights": ["training.label_smoothing=0.0", "training.class_weights='none'"],
    "v1_init_cut_conv_pw_11": ["backbone.output_layer='conv_pw_11_relu'"],
    "v1_init_cut_conv_pw_10": ["backbone.output_layer='conv_pw_10_relu'"],
    "v1_init_cut_conv_pw_9": ["backbone.output_layer='conv_pw_9_relu'"],
    "v1_init_flip_only": [
        "training.augmentation.rotation=0.0", "training.augmentation.scale=0.0",
        "training.augmentation.shift=0.0", "training.augmentation.brightness=0.0",
        "training.augmentation.contrast=0.0", "training.augmentation.erasing=0.0",
    ],
}


def run(tag: str, overrides: list[str], epochs: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "facelite_build.cli", "train", RECIPE, "--epochs", str(epochs),
           "--out", str(out / tag), "--json", "--quiet"]
    for o in overrides:
        cmd += ["--set", o]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"tag": tag, "error": proc.stderr.strip().splitlines()[-1]}
    hist = json.loads(proc.stdout)["train"]["history"]
    return {
        "tag": tag,
        "overrides": overrides,
        "val_accuracy_last": round(hist[-1]["val_accuracy"], 4),
        "val_accuracy_best": round(max(h["val_accuracy"] for h in hist), 4),
        "minutes": round((time.perf_counter() - t0) / 60, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--only", default="", help="comma-separated row names")
    ap.add_argument("--out", type=Path, default=Path("build/ablation"))
    args = ap.parse_args()
    tags = [t for t in ROWS if not args.only or t in args.only.split(",")]
    results = []
    for tag in tags:
        r = run(tag, ROWS[tag], args.epochs, args.out)
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    print(f"| variant ({args.epochs} epochs, FER2013 val, Keras fp32) | val acc (last) | val acc (best) | minutes |")
    print("|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['tag']} | error: {r['error']} | | |")
        else:
            print(f"| {r['tag']} | {r['val_accuracy_last']:.3f} | {r['val_accuracy_best']:.3f} | {r['minutes']} |")
    (args.out / "ablation.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
