"""Skin measures v2: the face crop every skin stage shares, and the raw skin measures.

Every per-face skin stage (acne patches, restoration, the measures here) works on the same
eye-aligned square crop, `face_crop`: `SKIN_CROP_SIZE` pixels, the eye centres at
`SKIN_EYES` (closer and lower than `align.align_face`'s expression framing), so a face
whose eyes are `d` pixels apart in the crop spans from about 1.2 d above the eye line (the
top of the forehead region) to 1.9 d below it (the chin) with a margin — docs/skin.md §2.

Example:

    >>> import numpy as np
    >>> from facelite.mean_shape import fit_to_box
    >>> crop = face_crop(np.zeros((480, 640, 3), np.uint8), fit_to_box((200, 100, 240, 260)))
    >>> crop.image.shape, crop.matrix.shape, crop.points.shape
    ((256, 256, 3), (2, 3), (68, 2))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .align import eye_centres, similarity_from_eyes
from .errors import BundleError, UserError
from .image import load_image
from .options import TaskOptions
from .preprocess import invert_affine, normalize, warp_affine
from .regions import REGION_NAMES, face_regions, region_mask
from .tasks import get_task
from .vision_task import VisionTask

SKIN_CROP_SIZE = 256
# Where the face's scale segment (the eye line, `d` long, centred on the eyes' midpoint)
# lands, as fractions of the crop: d = 0.28 · 256 ≈ 72 px. On the mean face the forehead
# region's top (1.18 d above the eye line) then sits 16 px below the crop's top and the
# chin point (1.89 d below) 17 px above its bottom; the jaw (± 1.15 d) stays 45 px inside.
SKIN_EYES = ((0.36, 0.40), (0.64, 0.40))
# d = max(eye distance, MOUTH_SCALE × eye-midpoint-to-mouth-centre distance). A turned head
# shortens the eye distance (up to 30% at 1% of 300W faces) and would zoom the crop until
# the chin fell out; a face tilted down shortens the other. 0.9 is about the 300W median of
# eye distance / eye-to-mouth distance (0.96; mean face 0.91), so on 1,207 300W faces the
# region polygons of all but 0.5% fall inside the crop (scripts in docs/skin.md §2).
MOUTH_SCALE = 0.9


@dataclass
class FaceCrop:
    """An eye-aligned skin crop: `image` (S×S×3 uint8 BGR), `matrix` (2×3, image → crop
    pixels) and the 68 landmarks in crop pixels (`points`, float32)."""

    image: np.ndarray
    matrix: np.ndarray
    points: np.ndarray

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop-pixel points (N, 2) → source image pixels."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        inv = invert_affine(self.matrix)
        return (pts @ inv[:, :2].T + inv[:, 2]).astype(np.float32)


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2×3 affine matrix: `m00·x + m01·y + m02` (and the same with
    row 1) in double, left to right, no fused multiply-add, stored as float32 (docs/skin.md
    2.3; elementwise, not a matrix product, whose BLAS kernel may fuse)."""
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    p = np.asarray(points, np.float32).reshape(-1, 2).astype(np.float64)
    x, y = p[:, 0], p[:, 1]
    return np.stack([m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]], 1).astype(np.float32)


def crop_matrix(points: np.ndarray, size: int = SKIN_CROP_SIZE) -> np.ndarray:
    """The 2×3 image → crop similarity of `face_crop` (docs/skin.md §2).

    Eye centres and the mouth centre ((p48 + p54) / 2) in float32 as numpy computes them,
    everything after in double: u = (right − left) / |right − left|, mid = (left + right) / 2,
    d = max(|right − left|, MOUTH_SCALE · |mouth − mid|); the segment mid ± u·d/2 goes to
    `SKIN_EYES` through `align.similarity_from_eyes`.
    """
    p = np.asarray(points, np.float32).reshape(68, 2)
    left, right = (e.astype(np.float64) for e in eye_centres(p))
    mouth = ((p[48] + p[54]) / np.float32(2)).astype(np.float64)
    mid = (left + right) / 2.0
    v = right - left
    e2e = float(np.hypot(v[0], v[1]))
    e2m = float(np.hypot(mouth[0] - mid[0], mouth[1] - mid[1]))
    d = max(e2e, MOUTH_SCALE * e2m)
    u = v / e2e if e2e > 1e-6 else np.array([1.0, 0.0])
    return similarity_from_eyes(mid - u * (d / 2.0), mid + u * (d / 2.0), size, SKIN_EYES)


def face_crop(image: np.ndarray, points: np.ndarray, size: int = SKIN_CROP_SIZE) -> FaceCrop:
    """The eye-aligned `size`×`size` skin crop of the face whose 68 landmarks are `points`.

    The warp is `preprocess.warp_affine` (docs/preprocessing.md step 3.4), so the C core's
    crop is byte-identical; pixels beyond the photo repeat its edge.
    """
    m = crop_matrix(points, size)
    return FaceCrop(warp_affine(image, m, size, size), m, map_points(m, points))


# -- the skin_metrics bundle's tensors (docs/skin.md §3–§6) ---------------------------------

EYE_CHANNELS = ("right_eye", "left_eye")
"""The eye polygons (iBUG 36–41: the subject's right eye, image left; 42–47) whose bright,
low-saturation pixels give the white balance."""
MASK_CHANNELS = (*REGION_NAMES, *EYE_CHANNELS)
"""The input's channels after R, G, B: one 0/1 mask per name (`input.extra_channels`)."""
FACE = "face"
FACE_REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
"""The skin regions whose union is the pseudo-region `face`."""
MEASURE_ROWS = (*REGION_NAMES, FACE)
REGION_MEASURES = (
    "pixels", "lightness", "a_star", "b_star", "redness", "lightness_sd", "b_star_sd",
    "spot_fraction", "spot_contrast", "texture", "shine",
)
CAPTURE_MEASURES = (
    "sharpness", "noise", "skin_lightness", "clipped_fraction", "dark_fraction", "cast",
    "light_asymmetry", "sclera_pixels", "bright_fraction",
)
LIGHTING_MEASURES = ("gain_r", "gain_g", "gain_b", "exposure_gain", "shading", "redness_baseline")
CROP_GAINS = ("crop_gain_r", "crop_gain_g", "crop_gain_b")
"""Linear-light gains per channel that take the crop as it came to the lighting-normalised
colour the measures see (sclera and skin white balance and exposure; not the flat field):
`normalised_crop` applies them (docs/skin.md §3.5)."""
GLOBAL_MEASURES = (*CAPTURE_MEASURES, "tone_ita", *LIGHTING_MEASURES, *CROP_GAINS)
"""The output vector: `len(MEASURE_ROWS) × len(REGION_MEASURES)` values row by row (region
major), then `GLOBAL_MEASURES`."""
OUTPUT_SIZE = len(MEASURE_ROWS) * len(REGION_MEASURES) + len(GLOBAL_MEASURES)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """8-bit sRGB values (0–255) → linear light 0–1 (IEC 61966-2-1), float64."""
    v = np.asarray(values, np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear light → 8-bit sRGB (clipped at 0 and white, rounded half up), uint8."""
    v = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    s = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.floor(s * 255.0 + 0.5).astype(np.uint8)


def normalised_crop(crop: FaceCrop, crop_gains) -> FaceCrop:
    """The crop with the measures' white balance and exposure applied (docs/skin.md §3.5):
    each channel × its `CROP_GAINS` gain (R, G, B order, `RawSkinMeasures.crop_gains`) in
    linear light, back to 8-bit sRGB; the matrix and points are the crop's. For a later
    stage (e.g. acne) that should see every face in the same light. A global cast or
    exposure change of the photo cancels in it up to clipping and rounding; a one-sided
    shadow does not (the flat field is not applied).

        >>> crop = FaceCrop(np.full((4, 4, 3), 100, np.uint8), np.eye(2, 3), np.zeros((68, 2), np.float32))
        >>> normalised_crop(crop, (4.0, 1.0, 1.0)).image[0, 0].tolist()     # R × 4 in linear light (BGR crop)
        [100, 100, 189]
    """
    gains = np.asarray(crop_gains, np.float64).reshape(3)[::-1]                # BGR order, as the crop
    return FaceCrop(linear_to_srgb8(srgb_to_linear(crop.image) * gains), crop.matrix, crop.points)


def crop_masks(crop: FaceCrop, out: np.ndarray | None = None) -> np.ndarray:
    """(S, S, len(MASK_CHANNELS)) uint8 0/1: the seven skin regions of `face_regions` in crop
    coordinates, then the two eye polygons, each rasterised by `region_mask` (docs/skin.md §1).

    `out`: a zeroed (S, S, len(MASK_CHANNELS)) array of any dtype to write them into
    instead (only each polygon's box is written), e.g. the channels of a model input, so
    the masks are not built and then copied."""
    s = crop.size
    regions = face_regions(crop.points, (s, s))
    polygons = [regions[name] for name in REGION_NAMES] + [crop.points[36:42], crop.points[42:48]]
    if out is None:
        out = np.zeros((s, s, len(polygons)), np.uint8)
    for k, polygon in enumerate(polygons):
        m = region_mask(polygon, (s, s))
        h, w = m.mask.shape
        out[m.y0:m.y0 + h, m.x0:m.x0 + w, k] = m.mask
    return out


def measure_pixels(crop: FaceCrop) -> np.ndarray:
    """The skin_metrics input as uint8 (S, S, 3 + 9): the crop's R, G, B, then `crop_masks`
    (the bundle's normalisation is the identity: mean 0, std 1)."""
    return np.concatenate([crop.image[..., ::-1], crop_masks(crop)], axis=-1)


@dataclass(frozen=True)
class RawSkinMeasures:
    """One face's raw skin measures (docs/skin.md §4–§6), what the scores are made from.

    Attributes:
        regions: {region: {measure: value}} for every name of `MEASURE_ROWS` (the seven
            regions and "face") and every measure of `REGION_MEASURES`, after lighting
            normalisation. A region with `pixels` 0 (outside the crop) has all zeros.
        capture: `CAPTURE_MEASURES` of the photo as it came (for the quality gate).
        tone_ita: ITA° of the face skin, white balanced, before exposure normalisation.
        lighting: what the normalisation did: `gain_r`, `gain_g`, `gain_b` (the sclera's
            white balance, for the tone), `exposure_gain`, `shading` (ln of the
            illumination field's max/min over the face), `redness_baseline` (the calm skin's a*).
        crop_gains: `CROP_GAINS` (R, G, B): the crop → the colour the measures see
            (`normalised_crop`).
    """

    regions: dict[str, dict[str, float]]
    capture: dict[str, float]
    tone_ita: float
    lighting: dict[str, float]
    crop_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def to_json(self) -> dict:
        return {"regions": self.regions, "capture": self.capture, "tone_ita": self.tone_ita,
                "lighting": self.lighting, "crop_gains": list(self.crop_gains)}


@dataclass(frozen=True, kw_only=True)
class SkinMeasurerOptions(TaskOptions):
    """Options for `SkinMeasurer` (no bundle path: the shipped `skin_metrics` bundle)."""


class SkinMeasurer(VisionTask):
    """The skin measures of a face: `face_crop` + masks → the `skin_metrics` bundle → `RawSkinMeasures`.

    Example:

        >>> from facelite.mean_shape import fit_to_box
        >>> with SkinMeasurer.create_from_options(SkinMeasurerOptions()) as measurer:
        ...     raw = measurer.measure(np.full((400, 400, 3), 128, np.uint8), fit_to_box((100, 80, 200, 240)))
        >>> sorted(raw.regions) == sorted(MEASURE_ROWS), raw.regions["face"]["pixels"] > 0
        (True, True)
    """

    options_type = SkinMeasurerOptions

    def __init__(self, options: SkinMeasurerOptions):
        super().__init__(options)
        self.bundle = self._open_bundle("skin_metrics", "skin_metrics")
        self._engine(self.bundle)
        self.spec = self.bundle.input_spec
        self.layout = get_task("skin_metrics").layout(self.bundle.manifest)
        problems = []
        if self.spec.color != "rgb" or self.spec.extra_channels != MASK_CHANNELS:
            problems.append(f"its input is {self.spec.color} + {list(self.spec.extra_channels)}; this facelite "
                            f"feeds rgb + {list(MASK_CHANNELS)}")
        if self.spec.width != self.spec.height:
            problems.append(f"its input is {self.spec.width}×{self.spec.height}; face crops are square")
        for key, names in (("rows", MEASURE_ROWS), ("columns", REGION_MEASURES), ("globals", GLOBAL_MEASURES)):
            missing = [n for n in names if n not in getattr(self.layout, key)]
            if missing:
                problems.append(f"its output.{key} lack {missing}")
        if problems:
            raise BundleError(f"{self.bundle.path}: {'; '.join(problems)}; use a skin_metrics bundle of this "
                              "facelite version")

    @property
    def crop_size(self) -> int:
        """The side of the face crop the bundle measures (`SKIN_CROP_SIZE` for the shipped one)."""
        return self.spec.width

    def measure(self, image, points: np.ndarray) -> RawSkinMeasures:
        """One face of `image` (path or BGR array), given its 68 landmarks in image pixels."""
        return self.measure_crops([face_crop(load_image(image), points, self.crop_size)])[0]

    def measure_crops(self, crops: list[FaceCrop]) -> list[RawSkinMeasures]:
        """Already-cut face crops (`face_crop` at `crop_size`) in one batched model call."""
        self._check_open()
        if not crops:
            return []
        for crop in crops:
            if crop.image.shape != (self.crop_size, self.crop_size, 3):
                raise UserError(f"face crop of shape {crop.image.shape}; this skin_metrics bundle measures "
                                f"{self.crop_size}×{self.crop_size}×3 crops (face_crop(image, points, "
                                f"{self.crop_size}))")
        # measure_pixels, written straight into the float32 input (one buffer, masks only
        # in their polygons' boxes); the shipped spec's normalisation is the identity.
        x = np.zeros((len(crops), self.crop_size, self.crop_size, 3 + len(MASK_CHANNELS)), np.float32)
        for i, crop in enumerate(crops):
            x[i, ..., :3] = crop.image[..., ::-1]
            crop_masks(crop, x[i, ..., 3:])
        if any(v != 0 for v in self.spec.mean) or any(v != 1 for v in self.spec.std):
            x = normalize(x, self.spec)
        out = self.engine.run(x)[0]
        return [self._raw(row) for row in out]

    def _raw(self, row: np.ndarray) -> RawSkinMeasures:
        table, values = self.layout.decode(row)
        regions = {r: {m: table[r][m] for m in REGION_MEASURES} for r in MEASURE_ROWS}
        return RawSkinMeasures(
            regions=regions,
            capture={m: values[m] for m in CAPTURE_MEASURES},
            tone_ita=values["tone_ita"],
            lighting={m: values[m] for m in LIGHTING_MEASURES},
            crop_gains=tuple(values[m] for m in CROP_GAINS),
        )
