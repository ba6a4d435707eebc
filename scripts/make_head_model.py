"""Derive `facelite.quality.HEAD_MODEL`: a 3D mean face from 2D annotations alone.

The head-pose fit needs 3D positions of the rigid landmarks (brows, nose, eyes, mouth
corners: `facelite.quality.POSE_POINTS`). No 3D scan is used: the shape is recovered
from the 300W `afw` annotations (337 faces in many poses, each also mirrored so the pose
spread is symmetric) by Tomasi–Kanade affine factorization:

1. each face's points are centred and scaled to unit norm; stacked (x rows, then y
   rows) they form a 2F×K measurement matrix whose best rank-3 approximation (SVD) is
   M·S: M holds one affine camera per face, S a 3D shape, up to a 3×3 ambiguity Q;
2. the metric upgrade: Q·Qᵀ is the symmetric matrix L that makes every face's two
   camera rows orthogonal and of equal length (linear least squares in L's six
   entries, mean squared row length fixed to 1), and Q = V·√Λ from L's eigenvectors;
3. the shape Q⁻¹·S is turned into the mean camera frame (the chordal mean of the
   faces' rotations, so the average face of the data has yaw = pitch = roll = 0),
   its depth sign chosen so the nose tip is nearer the camera than the eyes (the
   orthographic depth ambiguity), averaged with its mirror image (bilateral symmetry)
   and scaled to an eye distance of 1.

Prints the constant to paste into `sdk_python/facelite/quality.py` (and, with the same
numbers, `mobile_bindings/c/src/quality.c`).

    python scripts/make_head_model.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from facelite.datasets import pts_pairs, read_pts
from facelite.mean_shape import IBUG_MIRROR
from facelite.quality import POSE_POINTS


def factorize(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, K, 2) points → (3D shape (K, 3), per-face rotations (F, 3, 3)), steps 1–2."""
    f = len(faces)
    centred = faces - faces.mean(axis=1, keepdims=True)
    centred /= np.sqrt((centred ** 2).sum(axis=(1, 2)))[:, None, None]
    w = np.concatenate([centred[..., 0], centred[..., 1]], axis=0)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    cams, shape = u[:, :3] * np.sqrt(s[:3]), (vt[:3].T * np.sqrt(s[:3])).T

    def quadratic(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a·L·bᵀ in L's six entries
        return np.array([a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[0] * b[2] + a[2] * b[0],
                         a[1] * b[1], a[1] * b[2] + a[2] * b[1], a[2] * b[2]])

    rows = [quadratic(cams[i], cams[i]) - quadratic(cams[f + i], cams[f + i]) for i in range(f)]
    rows += [quadratic(cams[i], cams[f + i]) for i in range(f)]
    rows.append(sum(quadratic(cams[i], cams[i]) + quadratic(cams[f + i], cams[f + i]) for i in range(f)) / f)
    rhs = np.zeros(len(rows))
    rhs[-1] = 2.0
    l6 = np.linalg.lstsq(np.array(rows), rhs, rcond=None)[0]
    big_l = np.array([[l6[0], l6[1], l6[2]], [l6[1], l6[3], l6[4]], [l6[2], l6[4], l6[5]]])
    values, vectors = np.linalg.eigh(big_l)
    q = vectors * np.sqrt(np.clip(values, 1e-12, None))
    cams = cams @ q
    rotations = []
    for i in range(f):
        r1, r2 = cams[i] / np.linalg.norm(cams[i]), cams[f + i] / np.linalg.norm(cams[f + i])
        r3 = np.cross(r1, r2)
        r3 /= np.linalg.norm(r3)
        rotations.append(np.stack([r1, np.cross(r3, r1), r3]))
    return (np.linalg.inv(q) @ shape).T, np.array(rotations)


def head_model(faces: np.ndarray) -> np.ndarray:
    """(F, 68, 2) annotations → the (len(POSE_POINTS), 3) symmetric mean face (step 3)."""
    index = np.array(POSE_POINTS)
    mirrored = faces[:, IBUG_MIRROR].copy()
    mirrored[..., 0] *= -1
    shape, rotations = factorize(np.concatenate([faces, mirrored])[:, index].astype(np.float64))
    u, _, vt = np.linalg.svd(rotations.sum(axis=0))
    model = (shape - shape.mean(axis=0)) @ (u @ vt).T
    at = {point: k for k, point in enumerate(POSE_POINTS)}
    if model[at[30], 2] > model[at[39], 2]:
        model[:, 2] *= -1
    mirror = model[[at[int(IBUG_MIRROR[p])] for p in POSE_POINTS]] * np.array([-1.0, 1.0, 1.0])
    model = (model + mirror) / 2
    model -= model.mean(axis=0)
    left = model[[at[p] for p in range(36, 42)]].mean(axis=0)
    right = model[[at[p] for p in range(42, 48)]].mean(axis=0)
    return model / np.linalg.norm(right - left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("FACELITE_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    faces = np.stack([read_pts(pts) for _, pts in pts_pairs(args.data / "landmarks300w" / "afw")])
    model = head_model(faces)
    print("HEAD_MODEL = np.array([")
    for point, (x, y, z) in zip(POSE_POINTS, model):
        print(f"    [{x:.4f}, {y:.4f}, {z:.4f}],  # {point}")
    print("])")


if __name__ == "__main__":
    main()
