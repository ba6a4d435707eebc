"""Region polygons follow the landmarks, stay inside the image, and are named from the subject's side."""

import numpy as np
import pytest

from facelite.align import EYE_LEFT_IMAGE, EYE_RIGHT_IMAGE, align_face, eye_centres
from facelite.mean_shape import MEAN_SHAPE, fit_to_box
from facelite.regions import REGION_NAMES, face_regions, hidden_cheeks, region_mask


def _centre(poly):
    return poly.mean(axis=0)


def test_mean_shape_is_a_plausible_frontal_face():
    assert MEAN_SHAPE.shape == (68, 2)
    assert MEAN_SHAPE.min() == pytest.approx(0, abs=1e-3) and MEAN_SHAPE.max() == pytest.approx(1, abs=1e-3)
    assert MEAN_SHAPE[36, 0] < MEAN_SHAPE[45, 0]          # point 36 is on the image left
    assert MEAN_SHAPE[8, 1] == pytest.approx(1.0, abs=1e-3)  # chin is the lowest point


def test_regions_are_ordered_as_named():
    r = face_regions(fit_to_box((100, 80, 200, 240)), image_size=(400, 400))
    assert set(r) == set(REGION_NAMES)
    c = {k: _centre(v) for k, v in r.items()}
    # subject's left = image right (non-mirrored frontal photo)
    assert c["left_cheek"][0] > c["nose"][0] > c["right_cheek"][0]
    assert c["left_under_eye"][0] > c["right_under_eye"][0]
    # top to bottom: forehead, under-eyes, nose, cheeks, chin
    assert c["forehead"][1] < c["left_under_eye"][1] < c["left_cheek"][1] < c["chin"][1]
    assert c["forehead"][1] < c["nose"][1] < c["chin"][1]
    # the forehead's lower edge runs above each brow point, its top edge higher still
    brows = fit_to_box((100, 80, 200, 240))[17:27]
    assert (r["forehead"][:10, 1] < brows[:, 1]).all()
    assert (r["forehead"][10:, 1] < r["forehead"][:10][::-1, 1]).all()


def test_regions_are_inside_the_image_even_for_a_face_at_the_border():
    w, h = 160, 120
    r = face_regions(fit_to_box((-40, -60, 150, 170)), image_size=(w, h))
    for name, poly in r.items():
        assert poly.shape[1] == 2 and len(poly) >= 3, name
        assert (poly[:, 0] >= 0).all() and (poly[:, 0] <= w - 1).all(), name
        assert (poly[:, 1] >= 0).all() and (poly[:, 1] <= h - 1).all(), name


def test_regions_do_not_cover_the_eyes():
    pts = fit_to_box((100, 80, 200, 240))
    r = face_regions(pts, image_size=(400, 400))
    eye = tuple(np.round(pts[36:42].mean(0)).astype(int))
    for name in ("forehead", "right_under_eye", "right_cheek", "nose"):
        assert not region_mask(r[name], (400, 400)).contains(eye[0], eye[1]), name


def test_alignment_puts_the_eyes_at_their_canonical_places_for_a_tilted_face():
    pts = fit_to_box((100, 100, 200, 220))
    centre = pts.mean(0)
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = (pts - centre) @ rot.T + centre
    aligned = align_face(np.zeros((400, 400, 3), np.uint8), tilted, size=100)
    left, right = eye_centres(tilted)
    moved = (aligned.matrix[:, :2] @ np.stack([left, right]).T).T + aligned.matrix[:, 2]
    assert moved == pytest.approx(np.array([EYE_LEFT_IMAGE, EYE_RIGHT_IMAGE]) * 100, abs=1e-3)
    assert aligned.to_image(moved) == pytest.approx(np.stack([left, right]), abs=1e-3)


def test_the_far_cheek_of_a_turned_head_is_hidden_and_a_frontal_face_hides_none():
    frontal = fit_to_box((100, 100, 200, 220))
    assert hidden_cheeks(face_regions(frontal)) == frozenset()
    turned = frontal.copy()
    nose_x = float(frontal[30, 0])
    right_of_nose = turned[:, 0] > nose_x  # image right = the subject's left side
    turned[right_of_nose, 0] = nose_x + 0.2 * (turned[right_of_nose, 0] - nose_x)  # that side seen edge-on
    assert hidden_cheeks(face_regions(turned)) == frozenset({"left_cheek"})


def test_region_mask_is_the_even_odd_rule_of_docs_skin_1_pixel_for_pixel():
    """The vectorised rasteriser against the rule read literally: every pixel centre of the
    box, every edge, crossings counted one by one (vertices on pixel-centre rows, horizontal
    edges, polygons partly outside the image included)."""
    rng = np.random.default_rng(7)
    for case in range(60):
        polygon = rng.uniform(-8.0, 40.0, (int(rng.integers(3, 12)), 2)).astype(np.float32)
        if case % 3 == 0:
            polygon = np.round(polygon) + 0.5                 # vertices exactly on centre rows
        if case % 4 == 0:
            polygon[:, 1] = np.round(polygon[:, 1] / 8.0) * 8.0  # horizontal edges
        m = region_mask(polygon, (32, 30))
        p = polygon.astype(np.float64)
        for y in range(32):
            for x in range(30):
                cx, cy, odd = x + 0.5, y + 0.5, False
                for (ax, ay), (bx, by) in zip(p, np.roll(p, -1, axis=0)):
                    if (ay > cy) != (by > cy) and cx < ax + ((cy - ay) * (bx - ax)) / (by - ay):
                        odd = not odd
                assert m.contains(x, y) == odd, (case, x, y)
