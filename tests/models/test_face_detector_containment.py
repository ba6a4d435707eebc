"""The shipped face detector drops a box that lies mostly inside a better one (1.1.1).

1.1.0 put a second box on an ear next to a cheek close-up on two ACNE04 photos (every
variant): the boxes overlap by IoU 0.07 and 0.17, under `output.iou_threshold` 0.4, so
NMS by IoU kept both. 1.1.1 is the same model with `output.containment_threshold` 0.5
(the recipe's `head.containment_threshold`; MODEL_CARD "Containment NMS"): those photos
get one face; the same bundle without the field gets two again, as old bundles do."""

from __future__ import annotations

from pathlib import Path

import pytest
from facelite.bundle import VARIANT_NAMES, Bundle
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.options import BaseOptions

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "models" / "face_detector" / "face_detector.flb"
TWO_BOX_PHOTOS = ("level1/level1_637.jpg", "level2/level2_46.jpg")  # ACNE04: an ear beside the face


def test_the_bundle_carries_the_recipe_s_containment_threshold():
    import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
    from facelite_build.recipe import load_recipe

    recipe = load_recipe(REPO / "models" / "face_detector" / "recipe.toml")
    with Bundle.open(BUNDLE) as bundle:
        assert bundle.manifest["output"]["containment_threshold"] == recipe.head.containment_threshold == 0.5
        assert bundle.manifest["build"]["recipe_sha256"] == recipe.sha256


def _counts(bundle: Path, variant: str, photos: list[Path]) -> list[int]:
    detector = FaceDetector(FaceDetectorOptions(base_options=BaseOptions(bundle_path=bundle, variant=variant)))
    return [len(detector.detect(p).boxes) for p in photos]


@pytest.fixture(scope="module")
def two_box_photos(shared_data) -> list[Path]:
    photos = [shared_data / "acne04" / name for name in TWO_BOX_PHOTOS]
    if not all(p.is_file() for p in photos):
        pytest.skip("ACNE04 photos not found")
    return photos


@pytest.fixture(scope="module")
def iou_only_bundle(tmp_path_factory) -> Path:
    """The shipped bundle with `output.containment_threshold` removed (1.1.0's NMS)."""
    from facelite_build.package import rewrite_manifest

    out = tmp_path_factory.mktemp("iou_only") / "face_detector.flb"
    return rewrite_manifest(BUNDLE, lambda m: m["output"].pop("containment_threshold"), out=out)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("variant", sorted(VARIANT_NAMES))
def test_an_ear_beside_a_close_up_face_is_not_a_second_face(variant, two_box_photos, iou_only_bundle):
    assert _counts(BUNDLE, variant, two_box_photos) == [1, 1]
    assert _counts(iou_only_bundle, variant, two_box_photos) == [2, 2]
