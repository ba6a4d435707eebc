"""Which files train and which validate: seeded, deterministic, disjoint by file.

Two rules, both reproducible from the recipe alone (`data.seed`):

- `split_indices`: a seeded `val_fraction` of N items held out (image folders without a
  `data.val` folder, and 300W subsets named in `data.val`);
- `split_pairs` (300W layout): every subset in `data.train` goes to training except the
  subsets also listed in `data.val`, of which a seeded `data.val_fraction` of the sorted
  file list is held out (all of it when the fraction is 0). With the shipped recipes
  (train = afw + helen_train, val = helen_train, 0.15, seed 1234) the landmarker and the
  face detector hold out exactly the same HELEN photos.

`seeded_subset` is what `--limit` uses for quick builds.

Duplicates (ACNE04 holds the same photo under two names, sometimes with two grades;
15% of FER2013 PublicTest are exact or near copies of training images): a group of copies
of one picture never straddles train and validation. `duplicate_groups` joins files
with identical bytes (MD5) and, with `near=True` (the default everywhere), near copies
(below) into groups (union-find, so a chain of near copies is one group).
`duplicates_across` names the validation files whose group holds a training file: a
seeded split (`split_pairs`, `face_patches.split_photos` through
`keep_duplicates_together`) moves them to training, a fixed validation folder (FER2013
`val`) drops them; `Splits.info["duplicates"]` (`DuplicateReport`) says how many.
`near=False` keeps identical files only together, `near=None` looks for none (the splits
the shipped 1.x/2.0 bundles were built with, to re-measure them). A recipe chooses with
`data.duplicates` ("near", the default; "exact"; "none"): `DUPLICATE_RULES` maps it to the
switch and `near_switch` is the one place it is read, the default of every `near` below
(`--set data.duplicates=near` rebuilds a shipped recipe on the deduplicated split).
`split_files` gives a recipe's (train, val) files for any layout and `write_split_lists` the lists behind
`facelite-build splits` (val.txt for `facelite evaluate --files`).

Near duplicates are found in two steps, both measured on sample pairs of FER2013
train+val, 300W and ACNE04 (docs/dedup.md has the counts and what the pairs showed):

1. **Candidates**: the 64-bit DCT perceptual hash (`perceptual_hash`: greyscale,
   area-resized to 32×32, 2-D DCT, one bit per coefficient of the 8×8 lowest frequencies
   above their median) within `NEAR_DUPLICATE_BITS` = 8 bits. It survives re-encoding,
   resizing, brightness and contrast changes, but not crops, flips or rotations. Alone it
   is not enough: on FER2013 the sampled pairs at 4 bits were all the same picture, at 6
   bits about 1 in 18 were two different faces, at 8 bits half; on ACNE04, where every
   photo has the same clinic framing, most pairs at 4–6 bits are two different patients.
2. **Confirmation**: the high-pass detail of 64×64 greyscale thumbnails (the thumbnail
   minus its Gaussian blur, σ 2 px) must correlate at `DETAIL_MATCH` ≥ 0.6 (normalised
   cross-correlation, best over shifts of up to 4 px, so a copy cut a few pixels
   differently still matches; `detail_match`). Every sampled FER2013 pair confirmed at 8
   bits was the same picture; about half of the FER2013 pairs it rejects at 4–6 bits were
   the same picture too (shifted or rescaled more than it tolerates): the rule errs on
   the side of keeping images.

Candidates are found without comparing all pairs: the 64 bits are cut into
`NEAR_DUPLICATE_BITS + 1` chunks and only hashes equal on some chunk are compared (by the
pigeonhole principle every pair within the threshold agrees on at least one chunk), so
FER2013's 32k images take about 13 s to hash, group and confirm on one core, decoding included.

Example:

    >>> from facelite_build.splits import split_indices
    >>> train, val = split_indices(10, 0.2, seed=1)
    >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(10))
    (8, 2, True)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, TypeVar

import cv2
import numpy as np

from facelite.datasets import pts_pairs
from .errors import RecipeError

if TYPE_CHECKING:
    from .recipe import Recipe

Pair = tuple[Path, Path]
T = TypeVar("T")


DUPLICATE_RULES: dict[str, bool | None] = {"near": True, "exact": False, "none": None}
"""A recipe's `data.duplicates` → the `near` switch of the splits below: "near" keeps exact
and near copies together, "exact" identical files only (how acne 2.0.0 was built), "none"
looks for no copies (how expression 1.2.0 and the 300W 1.0.x bundles were built)."""

FROM_RECIPE = "recipe"
"""Default of every `near` argument: the rule the recipe's `data.duplicates` names."""


def near_switch(recipe: "Recipe", near: bool | None | str = FROM_RECIPE) -> bool | None:
    """`near` when given (True, False or None), else the recipe's `data.duplicates` rule
    through `DUPLICATE_RULES`: the one place the recipe key reaches the splits."""
    return DUPLICATE_RULES[recipe.data.duplicates] if near == FROM_RECIPE else near


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic seeded (train, val) index split of `range(n)`, each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def seeded_subset(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """About `limit` items picked by a seeded draw, in their original order (all when None)."""
    if not limit or limit >= len(items):
        return list(items)
    order = np.random.default_rng(seed).permutation(len(items))[:limit]
    return [items[i] for i in sorted(order)]


def exact_duplicate_groups(paths: Sequence[str | Path]) -> list[list[int]]:
    """Index groups (each sorted, two or more) of files whose bytes are identical."""
    by_digest: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        by_digest.setdefault(hashlib.md5(Path(path).read_bytes()).hexdigest(), []).append(i)
    return [group for group in by_digest.values() if len(group) > 1]


NEAR_DUPLICATE_BITS = 8
"""Largest Hamming distance between two 64-bit perceptual hashes that makes two images
candidates for near duplicates (see the module docstring and docs/dedup.md)."""

DETAIL_MATCH = 0.6
"""Smallest `detail_match` that confirms a candidate pair as the same picture."""

DETAIL_SIZE, DETAIL_SIGMA, DETAIL_SHIFT = 64, 2.0, 4
"""Detail thumbnails: side in pixels, blur removed (σ, px), largest shift tried (px)."""

HASH_SIZE = 32
"""Side of the greyscale thumbnail the DCT hash is computed on."""


def perceptual_hash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of a BGR or greyscale uint8 image (see the module docstring).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> face = cv2.GaussianBlur(rng.integers(0, 256, (96, 96), dtype=np.uint8), (9, 9), 3)
    >>> brighter = np.clip(face.astype(int) + 20, 0, 255).astype(np.uint8)
    >>> hamming(perceptual_hash(face), perceptual_hash(brighter)) <= NEAR_DUPLICATE_BITS
    True
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (HASH_SIZE, HASH_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low)
    return int(np.packbits(bits).view(">u8")[0])


def detail_thumbnail(image: np.ndarray) -> np.ndarray:
    """(64, 64) float32 high-pass detail of a BGR or greyscale image: what `detail_match` compares."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (DETAIL_SIZE, DETAIL_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small - cv2.GaussianBlur(small, (0, 0), DETAIL_SIGMA)


def detail_match(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two detail thumbnails, the best over shifts of up to
    `DETAIL_SHIFT` px either way (each one's centre searched in the other)."""
    m = DETAIL_SHIFT
    return float(max(cv2.matchTemplate(b, a[m:-m, m:-m], cv2.TM_CCOEFF_NORMED).max(),
                     cv2.matchTemplate(a, b[m:-m, m:-m], cv2.TM_CCOEFF_NORMED).max()))


def hamming(a: int, b: int) -> int:
    """Bits in which two hashes differ."""
    return (a ^ b).bit_count() if hasattr(int, "bit_count") else bin(a ^ b).count("1")


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x)
    table = np.array([bin(i).count("1") for i in range(256)], np.uint8)
    return table[x.view(np.uint8).reshape(*x.shape, 8)].sum(-1)


def image_hashes(paths: Sequence[str | Path]) -> np.ndarray:
    """(N,) uint64 perceptual hashes of image files, decoded by the runtime's `load_image`
    (remembered per file, size and modification time for this process: splits are drawn
    several times per build)."""
    def one(path: Path) -> int:
        st = path.stat()
        return _file_hash(str(path), st.st_size, st.st_mtime_ns)

    return np.array([one(Path(p)) for p in paths], np.uint64)


@functools.lru_cache(maxsize=None)
def _file_hash(path: str, size: int, mtime_ns: int) -> int:
    from facelite.image import load_image

    return perceptual_hash(load_image(path))


def near_pairs(hashes: np.ndarray, max_bits: int = NEAR_DUPLICATE_BITS) -> np.ndarray:
    """(K, 2) index pairs i < j with `hamming(hashes[i], hashes[j]) <= max_bits`.

    Multi-index hashing: the 64 bits are cut into `max_bits + 1` chunks; a pair within
    `max_bits` agrees exactly on at least one chunk, so only hashes sharing a chunk value
    are compared (vectorised per bucket, in row blocks so a crowded bucket stays small in
    memory).
    """
    h = np.asarray(hashes, np.uint64)
    edges = np.linspace(0, 64, max_bits + 2).round().astype(int)
    found: set[tuple[int, int]] = set()
    for lo, hi in zip(edges[:-1], edges[1:]):
        keys = (h >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        order = np.argsort(keys, kind="stable")
        starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1], True])
        for s, e in zip(starts[:-1], starts[1:]):
            if e - s < 2:
                continue
            members = order[s:e]
            for r in range(0, len(members), 1024):
                rows = members[r:r + 1024]
                near = (_popcount(h[rows][:, None] ^ h[members][None, :]) <= max_bits) & (
                    rows[:, None] < members[None, :])
                i, j = np.nonzero(near)
                found.update(zip(rows[i].tolist(), members[j].tolist()))
    return np.array(sorted(found), int).reshape(-1, 2)


def _groups(n: int, pairs) -> list[list[int]]:
    """Connected components (two or more members, each sorted) of `pairs` over `range(n)`."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    return [g for g in members.values() if len(g) > 1]


def duplicate_groups(paths: Sequence[str | Path], near: bool = True,
                     max_bits: int = NEAR_DUPLICATE_BITS) -> list[list[int]]:
    """Index groups (each sorted, two or more) of the same picture: identical bytes, and
    with `near` perceptual hashes within `max_bits` confirmed by `detail_match` (see the
    module docstring), joined transitively."""
    pairs = [(g[0], i) for g in exact_duplicate_groups(paths) for i in g[1:]]
    if near and len(paths) > 1:
        pairs += confirmed_pairs(paths, near_pairs(image_hashes(paths), max_bits))
    return _groups(len(paths), pairs)


def confirmed_pairs(paths: Sequence[str | Path], candidates: np.ndarray,
                    threshold: float = DETAIL_MATCH) -> list[tuple[int, int]]:
    """The candidate index pairs whose images' `detail_match` is at least `threshold`."""
    from facelite.image import load_image

    involved = sorted({int(i) for i in np.asarray(candidates).ravel()})
    detail = {i: detail_thumbnail(load_image(paths[i])) for i in involved}
    return [(int(a), int(b)) for a, b in candidates if detail_match(detail[int(a)], detail[int(b)]) >= threshold]


@dataclass
class DuplicateReport:
    """What a split did about duplicates: `groups` (of two or more files) and the `files`
    in them, `straddling` (groups with members drawn for both sides), how many
    validation files were `moved` to training or `dropped`, and `rule` (exact or near,
    with the threshold; "none" when none were looked for)."""

    rule: str
    groups: int
    files: int
    straddling: int
    moved: int = 0
    dropped: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def _rule(near: bool, max_bits: int) -> str:
    return f"md5, or dct-phash <= {max_bits} bits and detail match >= {DETAIL_MATCH}" if near else "md5"


def duplicates_across(train_paths: Sequence[str | Path], val_paths: Sequence[str | Path],
                      near: bool | None = True,
                      max_bits: int = NEAR_DUPLICATE_BITS) -> tuple[list[int], DuplicateReport]:
    """(sorted indices of `val_paths` whose `duplicate_groups` group over train + val holds
    a training file, report). The caller moves them to training (a seeded split) or drops
    them (a fixed validation folder) and records which in the report. `near=None` looks
    for none (rule "none", nothing found)."""
    if near is None:
        return [], DuplicateReport("none", 0, 0, 0)
    n_train = len(train_paths)
    groups = duplicate_groups(list(train_paths) + list(val_paths), near, max_bits)
    straddling = [g for g in groups if g[0] < n_train <= g[-1]]
    copies = sorted({i - n_train for g in straddling for i in g if i >= n_train})
    return copies, DuplicateReport(_rule(near, max_bits), len(groups), sum(map(len, groups)), len(straddling))


def keep_duplicates_together(train: np.ndarray, val: np.ndarray,
                             groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, int]:
    """(train, val, moved): a duplicate group stays in validation only when all its members
    were drawn for it; otherwise its validation members (`moved` of them) go to training."""
    val_set = {int(i) for i in val}
    leaving = {i for group in groups if not set(group) <= val_set for i in group if i in val_set}
    val_kept = np.array(sorted(val_set - leaving), int)
    train_all = np.array(sorted({int(i) for i in train} | leaving), int)
    return train_all, val_kept, len(leaving)


def split_pairs(recipe: "Recipe", root: Path, limit: int | None = None,
                near: bool | None | str = FROM_RECIPE) -> tuple[list[Pair], list[Pair]]:
    """(train pairs, val pairs) of (image, .pts) files under `root` for a 300W recipe.

    A held-out photo with a copy in training (`duplicates_across`: 300W holds one photo
    per annotated face, so a group photo is there several times) moves to training;
    `near=False` looks for identical files only, `near=None` for none (the split the
    shipped 1.0 bundles were built with); by default the recipe's `data.duplicates` says
    which (`near_switch`). With `limit` (quick builds), about
    `limit` seeded train pairs and a quarter as many (at least 50) val pairs are kept.
    """
    d, near = recipe.data, near_switch(recipe, near)
    subsets = list(dict.fromkeys(d.train + [s for s in d.val if s not in d.train]))
    train: list[Pair] = []
    val: list[Pair] = []
    for subset in subsets:
        pairs = pts_pairs(root / subset, recursive=False)
        if subset not in d.val:
            train.extend(pairs)
            continue
        if d.val_fraction > 0:
            tr, va = split_indices(len(pairs), d.val_fraction, d.seed)
        else:
            tr, va = np.array([], int), np.arange(len(pairs))
        if subset in d.train:
            train.extend(pairs[i] for i in tr)
        val.extend(pairs[i] for i in va)
    if not val:
        raise RecipeError(f"{recipe.source}: data.val names no 300W subset to validate on")
    moving = set(duplicates_across([p[0] for p in train], [p[0] for p in val], near)[0]) if near is not None else set()
    train += [pair for i, pair in enumerate(val) if i in moving]
    val = [pair for i, pair in enumerate(val) if i not in moving]
    if limit:
        train, val = seeded_subset(train, limit, d.seed), seeded_subset(val, max(limit // 4, 50), d.seed)
    return train, val


def split_files(recipe: "Recipe", root: Path,
                near: bool | None | str = FROM_RECIPE) -> tuple[list[Path], list[Path]]:
    """(training, validation) image files of a recipe, as its build splits them (no `limit`):
    300W pairs (`split_pairs`), face_patches photos (`face_patches.split_photos`), or
    labelled image folders (`data.val` folders with copies of training images dropped, or
    the seeded `val_fraction` with copies moved to training); `near` as in `split_pairs`."""
    d, near = recipe.data, near_switch(recipe, near)
    if d.layout == "pts300w":
        train, val = split_pairs(recipe, root, near=near)
        return [p[0] for p in train], [p[0] for p in val]
    if d.layout == "face_patches":
        from .face_patches import split_photos

        photos = split_photos(recipe, root, near=near)
        return [p for p, _ in photos.train], [p for p, _ in photos.val]
    from facelite.datasets import labelled_images

    labels = None if d.votes else (d.labels or None)  # vote files name FER+ emotions, not the folders
    train = [p for s in d.train for p, _ in labelled_images(root / s, labels)[1]]
    if d.val:
        val = [p for s in d.val for p, _ in labelled_images(root / s, labels)[1]]
    else:
        tr, va = split_indices(len(train), d.val_fraction, d.seed)
        train, val = [train[i] for i in tr], [train[i] for i in va]
    copies = set(duplicates_across(train, val, near)[0]) if near is not None else set()
    if not d.val:
        train += [p for i, p in enumerate(val) if i in copies]
    return train, [p for i, p in enumerate(val) if i not in copies]


def write_split_lists(recipe: "Recipe", root: Path, out: Path) -> dict:
    """Write the recipe's held-out files under `out` and return the report.

    `val.txt`: the held-out files with exact and near duplicates of training files out
    (what a build now holds out); `val_exact.txt`: identical files only (the acne 2.0
    rule); `val_all.txt`: no duplicate handling (FER2013's whole val folder, the 300W
    split of the 1.0 bundles); `removed.txt`: in `val_all` and not in `val`. Paths are relative to `base` (the folder the held-out
    files share), which is what `facelite evaluate --data BASE --files val.txt` expects.
    """
    from facelite.files import write_file_atomic

    train, val = split_files(recipe, root, near=True)
    _, val_exact = split_files(recipe, root, near=False)
    _, val_all = split_files(recipe, root, near=None)
    base = Path(os.path.commonpath([str(p.parent) for p in val_all + val_exact + val]))
    kept = set(val)
    removed = [p for p in val_all if p not in kept]
    rules = {"val": _rule(True, NEAR_DUPLICATE_BITS), "val_exact": _rule(False, 0), "val_all": "none",
             "removed": "in val_all, not in val"}
    lists = {"val": val, "val_exact": val_exact, "val_all": val_all, "removed": removed}
    report = {
        "recipe": str(recipe.source), "base": str(base), "rule": rules["val"], "train": len(train),
        **{name: len(files) for name, files in lists.items()},
        "removed_by_class": _by_folder(removed, base) if recipe.data.layout != "pts300w" else None,
        "lists": {name: str(out / f"{name}.txt") for name in lists},
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, files in lists.items():
        header = f"# facelite-build splits {recipe.source}: {name} ({rules[name]}), {len(files)} files relative to {base}\n"
        body = "".join(f"{p.relative_to(base)}\n" for p in files)
        write_file_atomic(out / f"{name}.txt", (header + body).encode())
    write_file_atomic(out / "splits.json", (json.dumps(report, indent=1) + "\n").encode())
    return report


def _by_folder(files: Sequence[Path], base: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in files:
        key = p.relative_to(base).parts[0]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
