"""Skin measures v2 (facelite.skin_measures, docs/skin.md): the shared face crop, its masks,
and the raw measures the shipped skin_metrics graph computes from them."""

from __future__ import annotations

import doctest

import facelite.skin_measures as skin_measures
import numpy as np
import pytest
from facelite.align import eye_centres
from facelite.datasets import pts_pairs, read_pts
from facelite.errors import UserError
from facelite.image import load_image
from facelite.mean_shape import fit_to_box
from facelite.regions import REGION_NAMES, face_regions, region_mask
from facelite.skin_measures import (
    CAPTURE_MEASURES,
    FACE,
    FACE_REGIONS,
    LIGHTING_MEASURES,
    MASK_CHANNELS,
    MEASURE_ROWS,
    REGION_MEASURES,
    SKIN_CROP_SIZE,
    SKIN_EYES,
    SkinMeasurer,
    SkinMeasurerOptions,
    crop_masks,
    face_crop,
    linear_to_srgb8,
    normalised_crop,
    srgb_to_linear,
    measure_pixels,
)

POINTS = fit_to_box((120, 90, 240, 300))   # a frontal mean face in a 480 × 480 photo
SKIN = (150, 175, 215)                     # a light skin tone, BGR


@pytest.fixture(scope="module")
def measurer():
    with SkinMeasurer.create_from_options(SkinMeasurerOptions()) as m:
        yield m


def skin_photo(bgr=SKIN) -> np.ndarray:
    return np.full((480, 480, 3), bgr, np.uint8)


def in_photo(region: str) -> np.ndarray:
    """(N, 2) photo pixels (x, y) of `region` of the face at POINTS."""
    m = region_mask(face_regions(POINTS, (480, 480))[region], (480, 480))
    ys, xs = np.nonzero(m.mask)
    return np.stack([xs + m.x0, ys + m.y0], 1)


def test_doc_examples_run():
    assert doctest.testmod(skin_measures).failed == 0


def test_a_frontal_face_has_its_eyes_level_at_the_skin_framing():
    crop = face_crop(skin_photo(), POINTS)
    left, right = eye_centres(crop.points)
    assert crop.image.shape == (SKIN_CROP_SIZE, SKIN_CROP_SIZE, 3)
    assert left[1] == pytest.approx(right[1], abs=1e-3)
    assert (left[1] + right[1]) / 2 == pytest.approx(SKIN_EYES[0][1] * SKIN_CROP_SIZE, abs=0.5)
    assert (left[0] + right[0]) / 2 == pytest.approx(SKIN_CROP_SIZE / 2, abs=0.5)
    assert crop.to_image(crop.points) == pytest.approx(POINTS, abs=1e-3)


def test_a_turned_head_is_not_zoomed_in_the_eye_to_mouth_distance_sets_the_scale():
    turned = POINTS.copy()
    cx = turned[:, 0].mean()
    turned[:, 0] = cx + 0.5 * (turned[:, 0] - cx)          # eyes half as far apart, as at ~60° yaw
    crop = face_crop(skin_photo(), turned)
    assert crop.points[8, 1] < SKIN_CROP_SIZE - 5           # the chin is still inside the crop


def test_the_regions_of_real_faces_fall_inside_the_crop(shared_data):
    pairs = pts_pairs(shared_data / "landmarks300w" / "helen_train", recursive=False)[:40:2]
    outside = 0
    for image, pts in pairs:
        crop = face_crop(load_image(image), read_pts(pts))
        corners = np.vstack(list(face_regions(crop.points).values()))
        outside += int((corners < -2).any() or (corners > SKIN_CROP_SIZE + 2).any())
    assert outside <= 1


def test_masks_are_the_regions_and_eyes_rasterised_in_crop_coordinates():
    crop = face_crop(skin_photo(), POINTS)
    masks = crop_masks(crop)
    regions = face_regions(crop.points, (SKIN_CROP_SIZE, SKIN_CROP_SIZE))
    polygons = [regions[n] for n in REGION_NAMES] + [crop.points[36:42], crop.points[42:48]]
    assert masks.shape == (SKIN_CROP_SIZE, SKIN_CROP_SIZE, len(MASK_CHANNELS)) and masks.dtype == np.uint8
    for k, polygon in enumerate(polygons):
        assert masks[..., k].sum() == region_mask(polygon, masks.shape).count > 0
    x = measure_pixels(crop)
    assert x.shape[-1] == 3 + len(MASK_CHANNELS)
    assert (x[..., :3] == crop.image[..., ::-1]).all()      # R, G, B first


def test_the_measurer_feeds_the_graph_exactly_measure_pixels(measurer, shared_data):
    """measure_crops writes the masks straight into the float32 input; the graph must see
    the very tensor `measure_pixels` defines (what the goldens and the C core feed)."""
    image_path, pts_path = pts_pairs(shared_data / "landmarks300w" / "helen_train")[0]
    crops = [face_crop(load_image(image_path), read_pts(pts_path)), face_crop(skin_photo(), POINTS)]
    for crop, raw in zip(crops, measurer.measure_crops(crops)):
        x = measure_pixels(crop).astype(np.float32)[None]
        expected = measurer._raw(measurer.engine.run(x)[0][0])
        assert raw == expected


def test_measures_name_every_region_and_count_the_face_union(measurer):
    crop = face_crop(skin_photo(), POINTS)
    raw = measurer.measure_crops([crop])[0]
    assert list(raw.regions) == list(MEASURE_ROWS) and all(list(v) == list(REGION_MEASURES) for v in raw.regions.values())
    assert list(raw.capture) == list(CAPTURE_MEASURES) and list(raw.lighting) == list(LIGHTING_MEASURES)
    masks = crop_masks(crop)
    union = np.max(np.stack([masks[..., MASK_CHANNELS.index(r)] for r in FACE_REGIONS]), axis=0)
    assert raw.regions[FACE]["pixels"] == union.sum()
    assert raw.regions["nose"]["pixels"] == masks[..., MASK_CHANNELS.index("nose")].sum()
    assert measurer.measure(skin_photo(), POINTS) == raw


def test_uniform_skin_has_no_spots_shine_texture_or_redness(measurer):
    raw = measurer.measure(skin_photo(), POINTS)
    face = raw.regions[FACE]
    for name in ("redness", "spot_fraction", "shine", "texture", "lightness_sd", "b_star_sd"):
        assert abs(face[name]) < 0.02, name
    assert face["lightness"] == pytest.approx(59.9, abs=0.5)   # exposure normalised to Y 0.28
    assert raw.capture["light_asymmetry"] < 1e-4 and raw.capture["sclera_pixels"] == 0
    assert raw.lighting["gain_r"] == raw.lighting["gain_b"] == 1.0   # no sclera: the camera's balance stands


def test_dark_dots_on_one_cheek_are_spots_there_only(measurer):
    photo = skin_photo()
    xy = in_photo("left_cheek")
    rng = np.random.default_rng(0)
    for x, y in xy[rng.choice(len(xy), 12, replace=False)]:
        photo[y - 2:y + 3, x - 2:x + 3] = (90, 110, 140)      # 5×5 photo-pixel dots, clearly darker
    raw = measurer.measure(photo, POINTS)
    assert raw.regions["left_cheek"]["spot_fraction"] > 0.01
    assert raw.regions["left_cheek"]["spot_contrast"] > 5.0
    assert raw.regions["right_cheek"]["spot_fraction"] == 0.0 and raw.regions["forehead"]["spot_fraction"] == 0.0


def test_a_red_cheek_reads_as_redness_of_that_cheek_not_of_the_skin_tone(measurer):
    photo = skin_photo()
    x, y = in_photo("right_cheek").T
    photo[y, x] = (140, 160, 225)                             # redder: more R, less G and B
    raw = measurer.measure(photo, POINTS)
    assert raw.regions["right_cheek"]["redness"] > 3.0
    assert abs(raw.regions["forehead"]["redness"]) < 0.5
    darker = measurer.measure(skin_photo((70, 95, 140)), POINTS)   # a darker, redder tone, evenly
    assert abs(darker.regions[FACE]["redness"]) < 1e-3


def test_light_from_one_side_is_flattened_but_reported(measurer):
    photo = skin_photo().astype(np.float64)
    ramp = np.clip(1.0 - 0.6 * (np.arange(photo.shape[1]) - 120) / 240, 0.4, 1.0)[None, :, None]  # across the face
    lit = np.clip(((photo / 255) ** 2.2 * ramp) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
    raw = measurer.measure(lit, POINTS)
    assert raw.capture["light_asymmetry"] > 0.2
    assert raw.lighting["shading"] > 0.2
    assert raw.regions[FACE]["lightness_sd"] < 2.0            # 5.0 L* without the flat field


def test_measures_of_a_real_photo_barely_move_when_it_is_darker(measurer, shared_data):
    image, pts = pts_pairs(shared_data / "landmarks300w" / "helen_train", recursive=False)[0]
    photo, points = load_image(image), read_pts(pts)
    lin = (photo / 255.0) ** 2.2 * 0.7
    darker = np.clip(lin ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)
    a, b = measurer.measure(photo, points), measurer.measure(darker, points)
    for name, tol in (("lightness", 0.3), ("redness", 0.4), ("lightness_sd", 0.4), ("spot_fraction", 0.01),
                      ("texture", 0.2)):
        assert b.regions[FACE][name] == pytest.approx(a.regions[FACE][name], abs=tol), name
    assert b.capture["skin_lightness"] < a.capture["skin_lightness"] - 3   # the raw capture did change


def test_a_colour_cast_or_exposure_of_a_real_photo_cancels_in_every_colour_measure(measurer, shared_data):
    image, pts = pts_pairs(shared_data / "landmarks300w" / "helen_train", recursive=False)[0]
    photo, points = load_image(image), read_pts(pts)
    cast = linear_to_srgb8(srgb_to_linear(photo) * np.array([1.2, 0.95, 0.75]) * 0.8)   # B, G, R gains: warmer, dimmer
    a, b = measurer.measure(photo, points), measurer.measure(cast, points)
    # exact but for clipping: 6% of this face is clipped as it came and none once dimmed, so the
    # colour means (unclipped pixels) change their pixel set (0.4 a*; 0 without the clipping)
    for name, tol in (("redness", 0.25), ("a_star", 0.6), ("b_star", 0.6), ("lightness", 0.1), ("shine", 0.002),
                      ("spot_fraction", 0.005)):
        assert b.regions[FACE][name] == pytest.approx(a.regions[FACE][name], abs=tol), name
    assert b.crop_gains != pytest.approx(a.crop_gains, rel=0.05)            # the gains took up the cast
    again = normalised_crop(face_crop(cast, points), b.crop_gains).image.astype(int)
    assert np.median(np.abs(again - normalised_crop(face_crop(photo, points), a.crop_gains).image)) <= 3


def test_a_crop_of_another_size_is_refused_with_the_size_to_use(measurer):
    crop = face_crop(skin_photo(), POINTS, size=128)
    with pytest.raises(UserError, match=r"256×256×3 crops"):
        measurer.measure_crops([crop])
