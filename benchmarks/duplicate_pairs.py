"""How near is a near duplicate: pairs of images by perceptual-hash distance, the share
the detail match confirms, and sample pairs side by side to look at (docs/dedup.md).

For the image folders given (searched recursively), every pair within `--max-bits` of
each other's 64-bit DCT hash (`facelite_build.splits.near_pairs`) is counted by
distance; per distance, the share whose `detail_match` reaches `splits.DETAIL_MATCH`,
and, with `--out DIR`, a PNG of up to `--samples` random pairs (left | right, 128 px)
per distance, confirmed and rejected apart. This is how `NEAR_DUPLICATE_BITS` and
`DETAIL_MATCH` were chosen: look at the pictures, count the pairs that are not the same
picture.

    python benchmarks/duplicate_pairs.py ../shared/data/fer2013/train ../shared/data/fer2013/val --out /tmp/pairs
    python benchmarks/duplicate_pairs.py ../shared/data/acne04 --out /tmp/acne_pairs --samples 16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from facelite.datasets import list_images
from facelite.image import load_image
from facelite_build.splits import DETAIL_MATCH, detail_match, detail_thumbnail, image_hashes, near_pairs

TILE = 128


def montage(pairs: list[tuple[Path, Path]]) -> np.ndarray:
    """Rows of four pairs, each `left | right` at TILE px with a white gap."""
    tiles = []
    for a, b in pairs:
        left, right = (cv2.resize(load_image(p), (TILE, TILE), interpolation=cv2.INTER_AREA) for p in (a, b))
        tiles.append(np.hstack([left, right, np.full((TILE, 8, 3), 255, np.uint8)]))
    while len(tiles) % 4:
        tiles.append(np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[r:r + 4]) for r in range(0, len(tiles), 4)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--max-bits", type=int, default=12)
    ap.add_argument("--samples", type=int, default=12, help="pairs per picture (default 12)")
    ap.add_argument("--out", type=Path, help="write the sample pictures here")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    paths = [p for folder in a.folders for p in list_images(folder)]
    hashes = image_hashes(paths)
    pairs = near_pairs(hashes, a.max_bits)
    distance = np.bitwise_count(hashes[pairs[:, 0]] ^ hashes[pairs[:, 1]]) if len(pairs) else np.zeros(0, int)
    rng = np.random.default_rng(a.seed)
    detail: dict[int, np.ndarray] = {}

    def thumb(i: int) -> np.ndarray:
        if i not in detail:
            detail[i] = detail_thumbnail(load_image(paths[i]))
        return detail[i]

    report = {"images": len(paths), "pairs": len(pairs), "by_distance": {}}
    for d in sorted(set(distance.tolist())):
        chosen = pairs[distance == d]
        checked = chosen[rng.choice(len(chosen), min(len(chosen), 400), replace=False)]  # enough for the share
        matches = np.array([detail_match(thumb(int(i)), thumb(int(j))) for i, j in checked])
        report["by_distance"][int(d)] = {"pairs": len(chosen), "confirmed_share": round(float((matches >= DETAIL_MATCH).mean()), 3)}
        if a.out:
            a.out.mkdir(parents=True, exist_ok=True)
            for name, keep in (("confirmed", matches >= DETAIL_MATCH), ("rejected", matches < DETAIL_MATCH)):
                sample = checked[keep][:a.samples]
                if len(sample):
                    cv2.imwrite(str(a.out / f"d{int(d):02d}_{name}.png"),
                                montage([(paths[int(i)], paths[int(j)]) for i, j in sample]))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
