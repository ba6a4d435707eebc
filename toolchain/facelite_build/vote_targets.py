"""Crowd votes → classification targets: the three FER+ training modes and their drop rule.

FER+ (Barsoum et al. 2016, "Training deep networks for facial expression recognition
with crowd-sourced label distribution") gives every FER2013 image ten crowd votes over
eight emotions, "unknown" and "NF" (not a face). A recipe with `data.votes` (a vote file
read by `facelite.datasets.read_ferplus_votes`, the one parser) trains on those votes
instead of the folder labels, with `data.targets` choosing how, as the paper's reference
code does:

- `majority`: the one-hot majority label (`facelite.datasets.ferplus_majority`: single
  votes dropped, more than half of the rest); images without one, or whose majority is
  unknown/NF, are dropped.
- `probability`: the paper's probabilistic label drawing (PLD, its best mode): each time
  an image is seen, one label is drawn from its vote distribution (`vote_distribution`)
  as a one-hot target. The draw happens in the training pipeline
  (`tasks.classification`); the examples carry the distribution.
- `cross_entropy`: the vote distribution itself is the soft target of the
  cross-entropy loss (the paper's CEL).

Both distribution modes use the paper's cleaned distribution (`vote_distribution`) and
drop an image whose distribution is empty or led by unknown/NF. Validation is always
scored with the FER+ majority rule (as `facelite evaluate --labels` scores it), whatever
the training mode, so every recipe reports the same accuracy.

A recipe on folder labels whose classes are ordered grades (the acne model) can use
`data.targets = "label_distribution"` instead: each label becomes a Gaussian over the
grades centred on it (`label_distribution`, SD `data.target_sigma` in grades), the
label-distribution learning of ACNE04 (Wu et al. 2019, "Joint acne image grading and
counting via label distribution learning"). Neighbouring grades get some of the target,
far grades almost none, so confusing level0 with level2 costs more than with level1.
The target is a distribution like `cross_entropy`'s and takes the same path through the
training pipeline; validation keeps the folder labels.

Example:

    >>> import numpy as np
    >>> votes = np.array([[6, 0, 0, 0, 1, 0, 0, 0, 3, 0],    # neutral, 3 unknown votes
    ...                   [4, 4, 0, 0, 2, 0, 0, 0, 0, 0],    # no majority
    ...                   [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]])  # not a face
    >>> targets, keep = training_targets(votes, "majority")
    >>> keep.tolist(), targets[0].tolist()
    ([True, False, False], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> targets, keep = training_targets(votes, "cross_entropy")
    >>> keep.tolist(), targets[1][:2].tolist()
    ([True, True, False], [0.5, 0.5])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelite.datasets import FERPLUS_EMOTIONS, NO_MAJORITY, FerPlusVotes, ferplus_majority

from .data import Examples
from .errors import RecipeError

VOTE_MODES = ("majority", "probability", "cross_entropy")
"""`data.targets` values for crowd votes (`data.votes`): how they become training targets."""
LABEL_DISTRIBUTION = "label_distribution"
"""`data.targets` value for ordered folder labels: a Gaussian over the grades (module docstring)."""
TARGET_MODES = (*VOTE_MODES, LABEL_DISTRIBUTION)
"""Every `data.targets` value (module docstring)."""

EMOTIONS = len(FERPLUS_EMOTIONS)


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    """(N, 10) vote counts → (N, 10) distribution of the FER+ reference code, 0 when discarded.

    Single votes are dropped; then the largest counts are taken in turn (ties together)
    until they hold 75% of the remaining votes or three labels are in; reaching
    unknown/NF stops there (it is kept only when nothing came before it). A row whose
    taken labels hold no more than half of the votes, or more than three labels, is
    discarded (all zeros).

    >>> vote_distribution(np.array([[5, 3, 0, 0, 2, 0, 0, 0, 0, 0]]))[0, :5].tolist()  # 8 of 10 votes: enough
    [0.625, 0.375, 0.0, 0.0, 0.0]
    """
    votes = np.where(np.asarray(votes) > 1, np.asarray(votes), 0).astype(np.float64)
    out = np.zeros_like(votes)
    for row, (raw, dist) in enumerate(zip(votes.copy(), out)):
        total, taken, count, valid = raw.sum(), 0.0, 0, True
        while taken < 0.75 * total and count < 3 and valid:
            top = raw.max()
            for i in np.flatnonzero(raw == top):
                dist[i], raw[i] = top, 0.0
                taken += top
                count += 1
                if i >= EMOTIONS:  # unknown or NF: stop; keep it only when it leads
                    valid = False
                    if dist.sum() > top:
                        dist[i] = 0.0
                        count -= 1
                    break
        if dist.sum() <= 0.5 * total or count > 3:
            dist[:] = 0.0
        else:
            out[row] = dist / dist.sum()
    return out


def training_targets(votes: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 10) vote counts → ((N, 8) float32 targets over `FERPLUS_EMOTIONS`, (N,) keep mask).

    `majority`: one-hot majority labels; `probability` / `cross_entropy`: the
    `vote_distribution` over the eight emotions. Dropped rows (keep False) have no
    emotion: no majority, or unknown/NF in the lead.
    """
    if mode not in VOTE_MODES:
        raise RecipeError(f"data.targets is '{mode}' with crowd votes; one of {', '.join(VOTE_MODES)}")
    if mode == "majority":
        label = ferplus_majority(votes)
        keep = (label != NO_MAJORITY) & (label < EMOTIONS)
        targets = np.zeros((len(label), EMOTIONS), np.float32)
        targets[np.flatnonzero(keep), label[keep]] = 1.0
        return targets, keep
    dist = vote_distribution(votes)
    keep = (dist.sum(1) > 0) & (dist.argmax(1) < EMOTIONS)
    emotions = dist[:, :EMOTIONS]
    targets = np.where(keep[:, None], emotions / np.maximum(emotions.sum(1, keepdims=True), 1e-12), 0.0)
    return targets.astype(np.float32), keep


def majority_labels(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 10) vote counts → ((N,) int32 index into `FERPLUS_EMOTIONS`, keep mask): the
    FER+ majority rule validation is scored with (rows without an emotion majority dropped)."""
    label = ferplus_majority(votes)
    keep = (label != NO_MAJORITY) & (label < EMOTIONS)
    return np.where(keep, label, 0).astype(np.int32), keep


def votes_for(names: list[str], folder: Path, votes: FerPlusVotes) -> tuple[np.ndarray, np.ndarray]:
    """Each image's vote row: ((N, 10) counts, (N,) found mask), matched by its path under
    `folder` (a split's folder, e.g. fer2013/train) and, when the file has a split column,
    by `folder`'s name as the split."""
    split = folder.name if any(votes.splits) else ""
    rows = {f: i for i, (s, f) in enumerate(zip(votes.splits, votes.files)) if s == split}
    counts = np.zeros((len(names), votes.votes.shape[1]), np.int64)
    found = np.zeros(len(names), bool)
    for n, name in enumerate(names):
        i = rows.get(Path(name).relative_to(folder).as_posix())
        if i is not None:
            counts[n], found[n] = votes.votes[i], True
    return counts, found


def with_votes(examples: Examples, folder: Path, votes: FerPlusVotes) -> tuple[Examples, int]:
    """`examples` read from `folder` with `y` replaced by their (N, 10) vote counts, and how
    many images had no row in the vote file (left out)."""
    counts, found = votes_for(examples.names, folder, votes)
    idx = np.flatnonzero(found)
    kept = examples.take(idx)
    return Examples(kept.x, counts[idx], kept.names), int(len(examples) - len(idx))


def vote_splits(train: Examples, val: Examples, mode: str) -> tuple[Examples, Examples, dict]:
    """Examples holding vote counts → training targets of `mode` ((N, 8) float32) and
    validation majority labels ((N,) int32), with what was dropped for want of an emotion."""
    targets, keep_train = training_targets(train.y, mode)
    labels, keep_val = majority_labels(val.y)
    t, v = np.flatnonzero(keep_train), np.flatnonzero(keep_val)
    report = {"targets": mode, "train_dropped": int(len(train) - len(t)), "val_dropped": int(len(val) - len(v)),
              "rule": "train: FER+ " + ("majority" if mode == "majority" else "vote distribution")
                      + "; val: FER+ majority (no majority, unknown or NF dropped)"}
    train = Examples(train.x[t], targets[t], [train.names[i] for i in t])
    val = Examples(val.x[v], labels[v], [val.names[i] for i in v])
    return train, val, report


def label_distribution(labels: np.ndarray, classes: int, sigma: float) -> np.ndarray:
    """(N,) grade indices → (N, classes) float32 Gaussians over the grades 0 … classes − 1,
    centred on each label with SD `sigma` (in grades), each row summing to 1.

    >>> (label_distribution(np.array([1, 0]), 3, 0.6) * 1000).round().astype(int).tolist()
    [[166, 667, 166], [798, 199, 3]]
    """
    if sigma <= 0:
        raise RecipeError(f"data.target_sigma is {sigma}; label_distribution targets need a positive SD in grades")
    grades = np.arange(classes, dtype=np.float64)
    d = np.exp(-((grades[None, :] - np.asarray(labels, np.float64)[:, None]) ** 2) / (2.0 * sigma * sigma))
    return (d / d.sum(1, keepdims=True)).astype(np.float32)


def distribution_splits(train: Examples, classes: int, sigma: float) -> tuple[Examples, dict]:
    """Training examples with class indices → their `label_distribution` targets, and what
    the build report says about them (validation keeps its indices)."""
    targets = label_distribution(train.y, classes, sigma)
    report = {"targets": LABEL_DISTRIBUTION, "sigma": sigma,
              "rule": f"train: Gaussian over the {classes} ordered labels, SD {sigma:g}; val: folder labels",
              "target_of_each_label": [[round(float(v), 4) for v in row]
                                       for row in label_distribution(np.arange(classes), classes, sigma)]}
    return Examples(train.x, targets, train.names), report
