"""Per-inference time of every variant of every shipped bundle, interleaved in one run, as ratios to fp32.

Why: issue #13 asks that int8 be at least as fast as fp32 per inference on the CPU for
every shipped model, and that the `dynamic` variant's slowness be explained. A model is
timed three ways, each on the bundle's own golden inputs (real preprocessed pixels):

    invoke    LiteRT alone (`Engine.bind`, then the raw invoke), what the kernels cost
    pixels    `Engine.run_pixels`: uint8 pixels in, float32 outputs back — what the tasks
              call (steps 5–6 fused: a 256-entry table for int8 inputs, one normalise
              for float inputs; int8 outputs dequantized by a table)
    float     `Engine.run(normalize(pixels))`: the float tensor path the tasks used
              before (normalise, then quantize for int8), for comparison

Timing on a shared host is noisy, so every (model, variant, way) is timed once per round,
round after round, in one process, and medians are compared. The script also prints,
per variant, how many delegate partitions LiteRT made of the graph (XNNPack takes what it
supports; each partition boundary hands tensors back to LiteRT's own kernels): the
`dynamic` variant's hybrid depthwise convolutions are what XNNPack leaves out.

    python benchmarks/variants.py                    # every models/*/*.flb, 200 rounds
    python benchmarks/variants.py --rounds 50 --threads 1 --json /tmp/variants.json

Exit status: 0 when int8 is at most `--tolerance` times fp32 (pixels way) for every model
that ships both, else 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from facelite.bundle import Bundle
from facelite.engine import Engine
from facelite.files import write_file_atomic
from facelite.preprocess import normalize

REPO = Path(__file__).resolve().parents[1]
WAYS = ("invoke", "pixels", "float")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def measure(paths: list[Path], rounds: int, threads: int) -> dict:
    sides = []  # (model, variant, engine, pixels, spec)
    for path in paths:
        bundle = Bundle.open(path)
        if bundle.input_spec.extra_channels or not bundle.has_golden or len(bundle.variants) < 2:
            continue  # a model whose input is not pixels, or with nothing to compare
        pixels = bundle.golden_inputs()[:1]
        for variant in bundle.variants:
            sides.append((bundle.name, variant, Engine(bundle, variant, "cpu", threads), pixels, bundle.input_spec))
    times = {(m, v, w): [] for m, v, *_ in sides for w in WAYS}
    for _ in range(2):  # warm-up
        for _, _, eng, px, spec in sides:
            eng.run_pixels(px)
            eng.run(normalize(px, spec))
    for r in range(rounds):
        order = sides[r % len(sides):] + sides[: r % len(sides)]  # rotate who goes first
        for model, variant, eng, px, spec in order:
            ways = {"invoke": eng.bind(normalize(px, spec)), "pixels": lambda: eng.run_pixels(px),
                    "float": lambda: eng.run(normalize(px, spec))}
            for way in WAYS[r % 3:] + WAYS[: r % 3]:  # and who goes first within a model
                times[model, variant, way].append(timed(ways[way]))
    models: dict[str, dict] = {}
    for model, variant, eng, *_ in sides:
        row = {w: statistics.median(times[model, variant, w]) for w in WAYS}
        row["partitions"] = eng.delegate_partitions
        models.setdefault(model, {})[variant] = row
    for variants in models.values():
        base = variants.get("fp32")
        for row in variants.values():
            row["ratio"] = {w: row[w] / base[w] for w in WAYS} if base else None
    return {"rounds": rounds, "threads": threads, "models": models}


def print_text(doc: dict) -> None:
    print(f"median ms per inference, batch 1, {doc['threads']} thread(s), {doc['rounds']} interleaved rounds; "
          "ratio = variant / fp32 of the same way")
    print(f"{'model':14s} {'variant':8s} {'invoke':>8s} {'pixels':>8s} {'float':>8s}  "
          f"{'invoke/fp32':>11s} {'pixels/fp32':>11s}  partitions")
    for model, variants in doc["models"].items():
        for variant, row in variants.items():
            ratio = row["ratio"] or {}
            print(f"{model:14s} {variant:8s} {row['invoke']:8.3f} {row['pixels']:8.3f} {row['float']:8.3f}  "
                  f"{ratio.get('invoke', float('nan')):11.2f} {ratio.get('pixels', float('nan')):11.2f}  "
                  f"{row['partitions']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundles", nargs="*", type=Path, help="bundles (default: every models/*/*.flb)")
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=1.0,
                   help="int8 passes when its pixels-way median is at most this times fp32's")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    doc = measure(args.bundles or sorted(REPO.glob("models/*/*.flb")), args.rounds, args.threads)
    print_text(doc)
    if args.json:
        write_file_atomic(args.json, json.dumps(doc, indent=2).encode())
    slower = [m for m, v in doc["models"].items()
              if "int8" in v and "fp32" in v and v["int8"]["ratio"]["pixels"] > args.tolerance]
    if slower:
        print(f"int8 slower than {args.tolerance:g}x fp32 (pixels way): {', '.join(slower)}", file=sys.stderr)
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
