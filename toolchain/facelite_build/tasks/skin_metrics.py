"""Skin metrics: the skin measures' image arithmetic as a fixed graph (nothing is trained).

The model is `facelite_build.skin_graph.build_skin_model`: colour conversion, lighting
normalisation and per-region statistics written as TensorFlow ops (docs/skin.md), so the
bundle carries the arithmetic and every binding runs it through LiteRT. The builder skips
training and pruning (`trained = False`), converts the float variants (no int8: a
quantized graph would round L*, a* and the thresholds it compares them with, changing
which pixels count as spots or shine) and packages.

Data: `data.layout = "pts300w"`; the held-out photos (`data.val`, `data.val_fraction`,
split as the landmarker's) become real inputs: each annotated face's skin crop
(`facelite.skin_measures.face_crop`) with its region and eye masks
(`measure_pixels`). They are the goldens (`golden_count` of them) and the photos the
manifest's metrics describe; nothing else reads them (no calibration).

Manifest metrics: per variant, its largest absolute and relative difference from the
fp32 variant, and the medians of the face row's measures over the held-out faces.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from facelite.datasets import read_pts
from facelite.image import load_image
from facelite.skin_measures import (
    FACE,
    GLOBAL_MEASURES,
    MASK_CHANNELS,
    MEASURE_ROWS,
    OUTPUT_SIZE,
    REGION_MEASURES,
    face_crop,
    measure_pixels,
)

from ..data import Examples, Splits
from ..errors import RecipeError
from ..splits import split_pairs
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe

FLOAT_VARIANTS = ("fp32", "fp16")


class SkinMetrics(BuildTask):
    name = "skin_metrics"
    head = "fixed"
    layout = "pts300w"
    crops = ("none",)
    backbone = False
    trained = False
    golden_count = 4  # each golden input is S × S × 12 bytes (786 KB at 256)

    def check_recipe(self, recipe: Recipe, file: str) -> None:
        super().check_recipe(recipe, file)
        i = recipe.input
        if i.color != "rgb" or list(i.extra_channels) != list(MASK_CHANNELS):
            raise RecipeError(f"{file}: a skin_metrics recipe needs input.color = \"rgb\" and input.extra_channels = "
                              f"{list(MASK_CHANNELS)} (the masks facelite.skin_measures.measure_pixels makes)")
        if any(m != 0.0 for m in i.mean) or any(s != 1.0 for s in i.std):
            raise RecipeError(f"{file}: a skin_metrics graph takes pixels and masks as they are: "
                              "input.mean = 0 and input.std = 1 for every channel")
        bad = [v for v in recipe.quantization.variants if v not in FLOAT_VARIANTS]
        if bad:
            raise RecipeError(f"{file}: quantization.variants {bad}: a skin_metrics graph ships float variants only "
                              f"({', '.join(FLOAT_VARIANTS)}); integer arithmetic would move its thresholds")

    def load_splits(self, recipe: Recipe, root: Path, limit: int | None = None) -> Splits:
        _, val = split_pairs(recipe, root, limit)
        size = recipe.input.size
        xs, names = [], []
        for image_path, pts_path in val:
            crop = face_crop(load_image(image_path), read_pts(pts_path), size)
            xs.append(measure_pixels(crop))
            names.append(str(image_path))
        if not xs:
            raise RecipeError(f"{recipe.source}: no held-out 300W faces under {root} (data.val)")
        examples = Examples(np.stack(xs), np.zeros(len(xs), np.int32), names)
        return Splits(examples, examples, [], {"faces": len(xs), "calibration": "none (float variants only)"})

    def n_outputs(self, labels: list[str]) -> int:
        return OUTPUT_SIZE

    def build_head(self, recipe, backbone, n_outputs):
        from ..skin_graph import build_skin_model

        return build_skin_model(recipe.input.size)

    def datasets(self, recipe, splits):
        raise RecipeError("a skin_metrics graph is fixed; there is nothing to train")

    def loss(self, recipe):
        raise RecipeError("a skin_metrics graph is fixed; there is nothing to train")

    def metrics(self, outputs, val, recipe, reference=None):
        out = np.asarray(outputs, np.float64).reshape(len(val), -1)
        cols = len(REGION_MEASURES)
        face = out[:, MEASURE_ROWS.index(FACE) * cols:(MEASURE_ROWS.index(FACE) + 1) * cols]
        tail = out[:, len(MEASURE_ROWS) * cols:]
        result = {
            "n": len(val),
            "face_median": {m: rounded(np.median(face[:, k]), 4) for k, m in enumerate(REGION_MEASURES)},
            "global_median": {m: rounded(np.median(tail[:, k]), 4) for k, m in enumerate(GLOBAL_MEASURES)},
        }
        if reference is not None:
            ref = np.asarray(reference, np.float64).reshape(out.shape)
            diff = np.abs(out - ref)
            result["max_abs_err_vs_fp32"] = rounded(diff.max(), 6)
            result["max_rel_err_vs_fp32"] = rounded((diff / np.maximum(np.abs(ref), 1.0)).max(), 6)
        return result

    def output(self, recipe):
        return {"kind": "measures", "rows": list(MEASURE_ROWS), "columns": list(REGION_MEASURES),
                "globals": list(GLOBAL_MEASURES)}
