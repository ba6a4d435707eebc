"""`data.layout = "face_patches"`: a labelled photo folder → face-crop and skin-patch samples.

For models that grade a face's skin (the acne model), trained on what the runtime hands
them: each photo's face is found by the runtime's own detector and landmarker (the
shipped bundles, fp32 on the CPU; the best-scoring face, as `FaceAnalyzer` keeps it),
cut into the eye-aligned skin crop of `facelite.skin_measures.face_crop`, and every view
of `facelite.acne.acne_views` — the whole crop and the forehead, cheek and chin patches —
becomes one sample by `facelite.preprocess.prepare_pixels(crop, spec, box)`, labelled
with the photo's class (`data.whole_view_repeat` > 1 repeats each training photo's whole
crop, so that the view which sees all the lesions the grade counts weighs more against
the patches, whose label is the photo's and not their own; validation has each view
once). Training and `AcneGrader` thus share the views, the boxes and
the preprocessing spec (the recipe's `input.crop = "face"`, margin 0).

Faces are found once: each photo's detector box, score and landmarks are cached as
JSON under `cache_root()/face_geometry/` (the `FACELITE_CACHE` folder), keyed by the MD5
of the photo's bytes, one file per pair of detector and landmarker bundles (their sha256
in the name), written atomically every 100 photos so a stopped run resumes. Crops and
views are cut again at every load, from the cached points, by the runtime's code.

The split is by photo (all views of a photo on one side): the seeded `val_fraction`
split of the image-folder layout over the same file list (so the held-out photos are
those the whole-photo model held out, less the ones with a copy in training), with exact
and near duplicates (`splits.duplicate_groups`; the rule the recipe's `data.duplicates`
names) kept together (`splits.keep_duplicates_together`). Photos where no face is found are left out and
counted. What was left out and why goes to `Splits.info` (build log and bundle report).

Example (shared data, a few seconds; recipe `models/acne/recipe.toml`):

    >>> from facelite_build.recipe import load_recipe
    >>> from facelite_build.face_patches import split_photos
    >>> r = load_recipe("models/acne/recipe.toml")                        # doctest: +SKIP
    >>> photos = split_photos(r, r.data_dir())                            # doctest: +SKIP
    >>> len(photos.train), len(photos.val), len(photos.duplicate_groups)  # doctest: +SKIP
    (818, 184, 41)
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelite.acne import WHOLE_VIEW, acne_views
from facelite.datasets import labelled_images
from facelite.errors import DataError
from facelite.files import write_file_atomic
from facelite.image import load_image
from facelite.preprocess import InputSpec, prepare_pixels
from facelite.skin_measures import face_crop

from .data import Examples, Splits
from .paths import cache_root
from .splits import (
    FROM_RECIPE,
    duplicate_groups,
    keep_duplicates_together,
    near_switch,
    seeded_subset,
    split_indices,
)

if TYPE_CHECKING:
    from .recipe import Recipe

LAYOUT = "face_patches"
SAVE_EVERY = 100
"""Photos between cache writes while faces are being found."""

Photo = tuple[Path, int]


@dataclass(frozen=True)
class FaceGeometry:
    """The face found in a photo: detector `box` (x, y, w, h), its `score`, the landmark `points`."""

    box: tuple[float, float, float, float]
    score: float
    points: np.ndarray

    def to_json(self) -> dict:
        return {"box": [round(float(v), 3) for v in self.box], "score": round(float(self.score), 5),
                "points": np.round(self.points.astype(np.float64), 3).tolist()}

    @staticmethod
    def from_json(d: dict) -> FaceGeometry:
        return FaceGeometry(tuple(d["box"]), float(d["score"]), np.asarray(d["points"], np.float32).reshape(-1, 2))


class FaceFinder:
    """The runtime's detector + landmarker (shipped bundles, fp32, CPU), best face per photo."""

    def __init__(self) -> None:
        from facelite.analyzer import MAX_FACE_BOX_ASPECT
        from facelite.face_detector import FaceDetector, FaceDetectorOptions
        from facelite.landmarker import FaceLandmarker, FaceLandmarkerOptions
        from facelite.options import BaseOptions
        from facelite.paths import shipped_bundle

        paths = {name: shipped_bundle(name) for name in ("face_detector", "landmarks")}
        missing = [name for name, path in paths.items() if path is None]
        if missing:
            raise DataError(f"no shipped {' or '.join(missing)} bundle to find faces with; the face_patches "
                            "layout needs them (reinstall facelite, or set FACELITE_BUNDLES)")

        def base(name: str) -> BaseOptions:
            return BaseOptions(bundle_path=paths[name], accelerator="cpu", variant="fp32")

        self.max_aspect = MAX_FACE_BOX_ASPECT
        self.detector = FaceDetector.create_from_options(FaceDetectorOptions(base_options=base("face_detector")))
        self.landmarker = FaceLandmarker.create_from_options(FaceLandmarkerOptions(base_options=base("landmarks")))
        self.key = "-".join(hashlib.sha256(Path(p).read_bytes()).hexdigest()[:12] for p in paths.values())

    def find(self, image: np.ndarray) -> FaceGeometry | None:
        boxes = [b for b in self.detector.detect(image).boxes if max(b.w, b.h) <= self.max_aspect * min(b.w, b.h)]
        if not boxes:
            return None
        best = boxes[0]
        points = self.landmarker.detect_batch(image, [self.detector.to_extent(best)])[0].points
        return FaceGeometry(best.xywh, best.score, np.asarray(points, np.float32))

    def close(self) -> None:
        self.detector.close()
        self.landmarker.close()


def _digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _write_json(path: Path, document: dict) -> None:
    write_file_atomic(path, json.dumps(document).encode(), error=DataError)


def face_geometry(paths: Sequence[Path], cache: Path | None = None, finder: FaceFinder | None = None,
                  progress: bool = True) -> dict[Path, FaceGeometry | None]:
    """Each photo's face (None where none is found), from the cache or found now and cached."""
    own = finder is None
    finder = finder or FaceFinder()
    try:
        file = (cache or cache_root() / "face_geometry") / f"faces-{finder.key}.json"
        known: dict = json.loads(file.read_text()) if file.is_file() else {}
        result: dict[Path, FaceGeometry | None] = {}
        found_now = 0
        for path in paths:
            digest = _digest(Path(path))
            if digest not in known:
                face = finder.find(load_image(path))
                known[digest] = face.to_json() if face else None
                found_now += 1
                if found_now % SAVE_EVERY == 0:
                    _write_json(file, known)
                    if progress:
                        print(f"  faces found in {found_now} new photos (cache {file})", file=sys.stderr)
            entry = known[digest]
            result[Path(path)] = FaceGeometry.from_json(entry) if entry else None
        if found_now:
            _write_json(file, known)
        return result
    finally:
        if own:
            finder.close()


def view_samples(image: np.ndarray, face: FaceGeometry, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    """(view name, uint8 model pixels) of every view of one photo's face, in `acne_views` order."""
    crop = face_crop(image, face.points)
    return [(name, prepare_pixels(crop.image, spec, box)[0]) for name, box in acne_views(crop.points, crop.size)]


def load_examples(photos: Sequence[Photo], faces: dict[Path, FaceGeometry | None], spec: InputSpec,
                  whole_repeat: int = 1) -> Examples:
    """Every view of every photo with a face → Examples named `<path>#<view>`, labelled with
    the photo's class; the whole crop `whole_repeat` times (`data.whole_view_repeat`)."""
    x, y, names = [], [], []
    for path, label in photos:
        face = faces[Path(path)]
        if face is None:
            continue
        for view, pixels in view_samples(load_image(path), face, spec):
            for _ in range(whole_repeat if view == WHOLE_VIEW else 1):
                x.append(pixels)
                y.append(label)
                names.append(f"{path}#{view}")
    shape = (0, spec.height, spec.width, spec.channels)
    return Examples(np.stack(x) if x else np.empty(shape, np.uint8), np.asarray(y, np.int32), names)


@dataclass
class PhotoSplit:
    """The photos of a face_patches recipe by side, before faces are looked for."""

    labels: list[str]
    train: list[Photo]
    val: list[Photo]
    duplicate_groups: list[list[Path]]
    moved_to_train: int


def split_photos(recipe: Recipe, root: Path, limit: int | None = None,
                 near: bool | None | str = FROM_RECIPE) -> PhotoSplit:
    """Training and validation photos: `data.val` folders, else the seeded `val_fraction`
    split of the `data.train` folders' files (duplicates kept together; `near=False`:
    identical files only, the rule acne 2.0.0 was trained with; `None`: no duplicate
    handling, the acne 1.x split; by default the recipe's `data.duplicates`)."""
    d, near = recipe.data, near_switch(recipe, near)
    labels = d.labels or None
    photos: list[Photo] = []
    for split in d.train:
        labels, part = labelled_images(root / split, labels, require_all=True)
        photos.extend(part)
    photos = seeded_subset(photos, limit, d.seed)
    if d.val:
        val: list[Photo] = []
        for split in d.val:
            val.extend(labelled_images(root / split, labels, require_all=True)[1])
        groups = duplicate_groups([p for p, _ in photos + val], near) if near is not None else []
        return PhotoSplit(list(labels), photos, val, [[(photos + val)[i][0] for i in g] for g in groups], 0)
    tr, va = split_indices(len(photos), d.val_fraction, d.seed)
    groups = duplicate_groups([p for p, _ in photos], near) if near is not None else []
    tr, va, moved = keep_duplicates_together(tr, va, groups)
    return PhotoSplit(list(labels), [photos[i] for i in tr], [photos[i] for i in va],
                      [[photos[i][0] for i in g] for g in groups], moved)


def load_splits(recipe: Recipe, root: Path, limit: int | None = None) -> Splits:
    """The face_patches layout's Splits, with `info` saying what was left out."""
    photos = split_photos(recipe, root, limit)
    faces = face_geometry([p for p, _ in photos.train + photos.val])
    spec = recipe.input_spec
    train = load_examples(photos.train, faces, spec, recipe.data.whole_view_repeat)
    val = load_examples(photos.val, faces, spec)

    def no_face(side: list[Photo]) -> dict[str, int]:
        counts = np.bincount([label for p, label in side if faces[Path(p)] is None], minlength=len(photos.labels))
        return {name: int(c) for name, c in zip(photos.labels, counts)}

    labels_of = {p: photos.labels[label] for p, label in photos.train + photos.val}
    info = {
        "layout": LAYOUT,
        "photos": {"train": len(photos.train), "val": len(photos.val)},
        "no_face": {"train": no_face(photos.train), "val": no_face(photos.val)},
        "duplicates": {
            "groups": len(photos.duplicate_groups),
            "files": sum(len(g) for g in photos.duplicate_groups),
            "groups_with_different_labels": sum(len({labels_of[p] for p in g}) > 1 for g in photos.duplicate_groups),
            "moved_to_train": photos.moved_to_train,
        },
        "views": {"train": len(train), "val": len(val)},
    }
    return Splits(train, val, photos.labels, info)
