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

Exact duplicates (ACNE04 holds the same photo under two names, sometimes with two
grades): `exact_duplicate_groups` finds files with identical bytes (MD5), and
`keep_duplicates_together` moves a group to training unless every member was drawn for
validation, so no validation photo has a copy in training and the rest of the seeded
split stays as it was. (Near duplicates, issue #14, are not looked for here.)

Example:

    >>> from facelite_build.splits import split_indices
    >>> train, val = split_indices(10, 0.2, seed=1)
    >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(10))
    (8, 2, True)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, TypeVar

import numpy as np

from facelite.datasets import pts_pairs
from .errors import RecipeError

if TYPE_CHECKING:
    from .recipe import Recipe

Pair = tuple[Path, Path]
T = TypeVar("T")


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


def keep_duplicates_together(train: np.ndarray, val: np.ndarray,
                             groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, int]:
    """(train, val, moved): a duplicate group stays in validation only when all its members
    were drawn for it; otherwise its validation members (`moved` of them) go to training."""
    val_set = {int(i) for i in val}
    leaving = {i for group in groups if not set(group) <= val_set for i in group if i in val_set}
    val_kept = np.array(sorted(val_set - leaving), int)
    train_all = np.array(sorted({int(i) for i in train} | leaving), int)
    return train_all, val_kept, len(leaving)


def split_pairs(recipe: "Recipe", root: Path, limit: int | None = None) -> tuple[list[Pair], list[Pair]]:
    """(train pairs, val pairs) of (image, .pts) files under `root` for a 300W recipe.

    With `limit` (quick builds), about `limit` seeded train pairs and a quarter as many
    (at least 50) val pairs are kept.
    """
    d = recipe.data
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
    if limit:
        train, val = seeded_subset(train, limit, d.seed), seeded_subset(val, max(limit // 4, 50), d.seed)
    return train, val
