"""Face boxes: the `Box` type, CenterNet-style heatmap decoding and non-maximum suppression.

A detection bundle's manifest says `output: {"kind": "heatmap", "stride": S, ...}` and
the model gives, for an input of W×H pixels:

- `heatmap` (H/S, W/S, 1): face-centre probability per cell (sigmoid already applied;
  `"heatmap_activation": "logits"` in the manifest output makes the decoder apply it);
- `size` (H/S, W/S, 2): box width and height as fractions of the input W and H;
- optional `offset` (H/S, W/S, 2): sub-cell centre position in cells, measured from the
  cell's top-left corner (as in CenterNet). Without it the centre is the cell centre.

A face is a local maximum of the heatmap (3×3 neighbourhood) above the score
threshold; overlapping survivors are then thinned by greedy NMS (`nms`): by IoU
(`output.iou_threshold`) and, when the manifest gives `output.containment_threshold`, by
containment — a box lying mostly inside a better one (a second, smaller peak on an ear or
cheek of the same face) overlaps it little by IoU, because the two sizes differ, yet is
the same face.

Example:

    >>> import numpy as np
    >>> from facelite.detection import decode_heatmap
    >>> heat = np.zeros((8, 8), np.float32); heat[2, 5] = 0.9
    >>> size = np.full((8, 8, 2), 0.25, np.float32)
    >>> decode_heatmap(heat, size, stride=4, input_size=(32, 32))
    [Box(x=18.0, y=6.0, w=8.0, h=8.0, score=0.9)]
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .metrics import intersection, iou


@dataclass(frozen=True)
class Box:
    """An axis-aligned face box in image pixels, with the detector's confidence."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h

    def scaled(self, sx: float, sy: float) -> "Box":
        return Box(self.x * sx, self.y * sy, self.w * sx, self.h * sy, self.score)

    def clipped(self, width: int, height: int) -> "Box":
        """The part of the box inside a width×height image."""
        x0, y0 = max(0.0, self.x), max(0.0, self.y)
        x1, y1 = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        return Box(x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0), self.score)

    def to_json(self) -> dict:
        return {"x": round(float(self.x), 2), "y": round(float(self.y), 2),
                "w": round(float(self.w), 2), "h": round(float(self.h), 2),
                "score": round(float(self.score), 4)}

    def __repr__(self) -> str:
        return (f"Box(x={self.x:.1f}, y={self.y:.1f}, w={self.w:.1f}, h={self.h:.1f}, "
                f"score={self.score:.3g})")


def containment(a: Box, b: Box) -> float:
    """The share of the smaller box's area that lies inside the other (0 when either is empty).

        >>> containment(Box(0, 0, 10, 10), Box(2, 2, 4, 4)), containment(Box(0, 0, 2, 2), Box(1, 0, 2, 2))
        (1.0, 0.5)
    """
    smaller = min(a.w * a.h, b.w * b.h)
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def nms(boxes: list[Box], iou_threshold: float = 0.4, max_boxes: int | None = None,
        containment_threshold: float | None = None) -> list[Box]:
    """Greedy non-maximum suppression: keep the best box, drop those overlapping it.

    Boxes are visited best score first (ties in their given order); one is dropped when
    its IoU with a kept box is above `iou_threshold` or, with a `containment_threshold`,
    when at least that share of the smaller of the two lies inside the other
    (`containment`). Either way a box is kept or dropped by better boxes only, so
    raising the score threshold afterwards equals decoding at the higher one.

        >>> face, ear = Box(0, 0, 100, 100, 0.9), Box(-10, 30, 30, 30, 0.5)
        >>> len(nms([face, ear])), len(nms([face, ear], containment_threshold=0.5))
        (2, 1)
    """
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(iou(box, k) <= iou_threshold and
               (containment_threshold is None or containment(box, k) < containment_threshold) for k in kept):
            kept.append(box)
            if max_boxes is not None and len(kept) >= max_boxes:
                break
    return kept


def decode_heatmap(
    heatmap: np.ndarray,
    size: np.ndarray,
    stride: int,
    input_size: tuple[int, int],
    offset: np.ndarray | None = None,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.4,
    max_boxes: int = 20,
    logits: bool = False,
    containment_threshold: float | None = None,
) -> list[Box]:
    """One image's heatmap outputs → boxes in input pixels (see the module docstring).

    Args:
        heatmap: (Hs, Ws) or (Hs, Ws, 1), optionally with a leading batch of 1.
        size: (Hs, Ws, 2) normalised (w, h).
        stride: input pixels per heatmap cell.
        input_size: (W, H) of the model input, to scale the normalised sizes.
        offset: optional (Hs, Ws, 2) sub-cell (dx, dy) in cells.
        iou_threshold, containment_threshold: the NMS rules (`nms`).
    """
    heat = np.asarray(heatmap, np.float32)
    heat = heat.reshape(heat.shape[-3:-1] if heat.ndim >= 3 and heat.shape[-1] == 1 else heat.shape[-2:])
    size = np.asarray(size, np.float32).reshape(*heat.shape, 2)
    if offset is not None:
        offset = np.asarray(offset, np.float32).reshape(*heat.shape, 2)
    if logits:
        heat = 1.0 / (1.0 + np.exp(-heat))
    peaks = (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))) & (heat >= score_threshold)
    in_w, in_h = input_size
    boxes = []
    for r, c in zip(*np.nonzero(peaks)):
        dx, dy = (offset[r, c] if offset is not None else (0.5, 0.5))
        cx, cy = (c + float(dx)) * stride, (r + float(dy)) * stride
        w, h = float(size[r, c, 0]) * in_w, float(size[r, c, 1]) * in_h
        boxes.append(Box(cx - w / 2.0, cy - h / 2.0, w, h, float(heat[r, c])))
    return nms(boxes, iou_threshold, max_boxes, containment_threshold)


def box_to_extent(box: Box, margin: float) -> Box:
    """Undo a detector's training margin: a box grown by `margin` per side → the inner box."""
    k = 1.0 + 2.0 * margin
    w, h = box.w / k, box.h / k
    return Box(box.x + (box.w - w) / 2.0, box.y + (box.h - h) / 2.0, w, h, box.score)


def split_channels(output: np.ndarray, channels) -> dict[str, np.ndarray]:
    """One concatenated (Hs, Ws, C) output → {"heatmap", "size", "offset"} arrays.

    `channels` is the manifest's `output.channels`, the role of each channel in order:
    `heatmap`, `size_w`, `size_h` and optionally `offset_x`, `offset_y`. A single
    output tensor keeps one int8 quantization for every channel (all lie in [0, 1]).
    """
    out = np.asarray(output, np.float32)
    out = out.reshape(out.shape[-3:])
    index = {name: i for i, name in enumerate(channels)}
    parts = {"heatmap": out[..., index["heatmap"]],
             "size": out[..., [index["size_w"], index["size_h"]]]}
    if "offset_x" in index and "offset_y" in index:
        parts["offset"] = out[..., [index["offset_x"], index["offset_y"]]]
    return parts


def decode_output(
    output: np.ndarray,
    output_spec: dict,
    input_size: tuple[int, int],
    score_threshold: float = 0.5,
    iou_threshold: float = 0.4,
    max_boxes: int = 20,
    containment_threshold: float | None = None,
) -> list[Box]:
    """A single concatenated detection output (manifest `output.channels`) → boxes in input pixels."""
    parts = split_channels(output, output_spec["channels"])
    return decode_heatmap(
        parts["heatmap"], parts["size"], int(output_spec["stride"]), input_size,
        offset=parts.get("offset"), score_threshold=score_threshold, iou_threshold=iou_threshold,
        max_boxes=max_boxes, logits=output_spec.get("heatmap_activation", "sigmoid") == "logits",
        containment_threshold=containment_threshold,
    )

