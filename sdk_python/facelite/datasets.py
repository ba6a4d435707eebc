"""Datasets on disk: image folders, labelled folders and 300W `.pts` annotations.

The one place that knows how facelite's datasets are laid out, shared by the evaluator,
the toolchain (training, calibration) and the bench, so every tool sees the same files
in the same order:

- an **image folder** is searched recursively; hidden files and folders (`.name`) are
  skipped; files are images by suffix (`IMAGE_EXTENSIONS`, any case), sorted by path;
- a **labelled folder** holds one sub-folder per label, `DIR/<label>/...` (FER2013,
  ACNE04 levels);
- a **300W folder** holds `NAME.pts` (68 iBUG points) beside `NAME.jpg` (or another image
  suffix); the face box of such an annotation is the points' extent (`extent_box`);
- a **file list** (`read_file_list`) names the files of a folder to use, one path per
  line relative to that folder (e.g. a deduplicated validation split written by
  `facelite-build splits`);
- a **FER+ vote file** (`ferplus_votes.csv`) gives ten crowd votes per image over
  `FERPLUS_VOTES` (`read_ferplus_votes`), and `ferplus_majority` is the FER+ paper's
  majority label.

Every problem with the data is a `DataError` naming the file or folder and what to fix.

Example:

    >>> import numpy as np
    >>> from facelite.datasets import extent_box
    >>> extent_box(np.array([[10.0, 20.0], [30.0, 60.0]]))
    (10.0, 20.0, 20.0, 40.0)
    >>> extent_box(np.array([[10.0, 20.0], [30.0, 60.0]]), margin=0.1)
    (8.0, 16.0, 24.0, 48.0)
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
"""Suffixes (compared lower-case) a folder scan treats as images."""

PTS_POINTS = 68
"""Points in a 300W `.pts` annotation (the iBUG 68-point scheme)."""


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files in `folder` (and its sub-folders when `recursive`), sorted by path.

    Hidden files and anything under a hidden folder are skipped. An empty list is not an
    error here (the caller knows whether that is acceptable); a missing folder is.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.JPG", "a.png", "notes.txt", ".hidden.jpg", "sub/c.jpg"):
    ...     (root / name).parent.mkdir(exist_ok=True); (root / name).touch()
    >>> [str(p.relative_to(root)) for p in list_images(root)]
    ['a.png', 'b.JPG', 'sub/c.jpg']
    >>> [p.name for p in list_images(root, recursive=False)]
    ['a.png', 'b.JPG']
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; check the path")
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in candidates
                  if p.suffix.lower() in IMAGE_EXTENSIONS and not _hidden(p, root) and p.is_file())


def labelled_images(root: str | os.PathLike, labels: Sequence[str] | None = None,
                    require_all: bool = False) -> tuple[list[str], list[tuple[Path, int]]]:
    """A `DIR/<label>/...` folder → (labels, [(image path, label index)]).

    With `labels` (a model's label list) the sub-folders must be labels of it — a folder
    may cover only some of them, unless `require_all` — and indices refer to `labels`;
    without, the labels are the sorted sub-folder names. Images are listed recursively
    per label folder (`list_images`), label by label.
    """
    base = Path(root)
    if not base.is_dir():
        raise DataError(f"{base}: no such data folder; pass a folder of <label>/ sub-folders of images")
    folders = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if labels is None:
        if not folders:
            raise DataError(f"{base}: no label folders; expected {base}/<label>/*.jpg")
        labels = folders
    labels = list(labels)
    if not folders:
        raise DataError(f"{base}: no label folders; expected {base}/<label>/*.jpg with labels {', '.join(labels)}")
    unknown = [f for f in folders if f not in labels]
    if unknown:
        raise DataError(f"{base}: folder(s) {', '.join(unknown)} are not labels of this model "
                        f"({', '.join(labels)}); use a folder whose sub-folders are label names")
    missing = [label for label in labels if label not in folders]
    if require_all and missing:
        raise DataError(f"{base}: no folder for label(s) {', '.join(missing)}; every label needs "
                        f"{base}/<label>/ with images")
    items = [(path, labels.index(name)) for name in folders for path in list_images(base / name)]
    if not items:
        raise DataError(f"{base}: the label folders ({', '.join(folders)}) hold no images")
    return labels, items


def read_file_list(path: str | os.PathLike, folder: str | os.PathLike) -> list[Path]:
    """A file list → the listed files under `folder`, in the list's order.

    One path per line, relative to `folder` (absolute paths are taken as they are);
    blank lines and lines starting with `#` are ignored. An unreadable or empty list, or a
    listed file that does not exist, is a DataError (a wrong `folder` is the usual cause).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "a.jpg").touch()
    >>> _ = (root / "list.txt").write_text("# held out\\na.jpg\\n\\n")
    >>> [p.name for p in read_file_list(root / "list.txt", root)]
    ['a.jpg']
    """
    path, base = Path(path), Path(folder)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as a file list ({exc}); pass a text file of paths, "
                        "one per line (e.g. val.txt from facelite-build splits)") from None
    files = [base / line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not files:
        raise DataError(f"{path}: lists no files; expected one path per line, relative to {base}")
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DataError(f"{path}: {len(missing)} of its {len(files)} files are not under {base} (first: "
                        f"{missing[0]}); the list's paths are relative to the data folder: check --data")
    return files


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """A 300W `.pts` file → (68, 2) float32 points in image pixels.

    The format is a header (`version: 1`, `n_points: 68`) and then one `x y` line per
    point between a `{` line and a `}` line; blank lines are ignored. Anything else is a
    DataError naming the file (and the line).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "face.pts"
    >>> _ = p.write_text("version: 1\\nn_points: 68\\n{\\n" + "1.5 2\\n" * 68 + "}\\n")
    >>> read_pts(p).shape, read_pts(p)[0].tolist()
    ((68, 2), [1.5, 2.0])
    """
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as a 300W .pts file ({exc})") from None
    if "{" not in lines or "}" not in lines[lines.index("{"):]:
        raise DataError(f"{path}: not a 300W .pts file: expected the points between a '{{' line and a '}}' line")
    start = lines.index("{")
    end = lines.index("}", start)
    points = []
    for number, line in enumerate(lines[start + 1:end], start + 2):
        if not line:
            continue
        values = line.split()
        try:
            if len(values) != 2:
                raise ValueError
            points.append((float(values[0]), float(values[1])))
        except ValueError:
            raise DataError(f"{path}:{number}: expected two numbers 'x y', found {line!r}") from None
    if len(points) != PTS_POINTS:
        raise DataError(f"{path}: has {len(points)} points, expected {PTS_POINTS} (iBUG 68-point annotation)")
    return np.array(points, np.float32)


def _image_beside(pts: Path) -> Path | None:
    for suffix in IMAGE_EXTENSIONS:
        for candidate in (pts.with_suffix(suffix), pts.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def pts_pairs(roots: str | os.PathLike | Iterable[str | os.PathLike],
              recursive: bool = True) -> list[tuple[Path, Path]]:
    """300W folder(s) → [(image path, .pts path)], folder by folder, each sorted by path.

    Every `.pts` needs its image beside it with the same name (`NAME.jpg`, `.png`, ...);
    a folder without any `.pts` file is an error, so a wrong path never yields an empty
    dataset.
    """
    folders = [Path(roots)] if isinstance(roots, (str, os.PathLike)) else [Path(r) for r in roots]
    pairs: list[tuple[Path, Path]] = []
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"{folder}: no such 300W folder; check the path")
        found = sorted(p for p in (folder.rglob("*.pts") if recursive else folder.glob("*.pts"))
                       if p.is_file() and not _hidden(p, folder))
        if not found:
            raise DataError(f"{folder}: no .pts files; expected 300W folders (NAME.jpg beside NAME.pts)")
        for pts in found:
            image = _image_beside(pts)
            if image is None:
                raise DataError(f"{pts}: no image beside it; expected {pts.with_suffix('.jpg').name} "
                                "(or .png, .jpeg) in the same folder")
            pairs.append((image, pts))
    return pairs


def extent_box(points, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(x, y, w, h) of the points' min/max extent, grown by `margin` of its size per side.

    The extent (margin 0) is the face box the landmarker is trained on and evaluated
    with; the face detector is trained on the extent grown by its `box_margin`.
    """
    points = np.asarray(points)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    w, h = x1 - x0, y1 - y0
    return (float(x0 - margin * w), float(y0 - margin * h),
            float(w * (1 + 2 * margin)), float(h * (1 + 2 * margin)))


# -- FER+ crowd votes ------------------------------------------------------------------------

FERPLUS_EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
"""The eight FER+ emotions, in the order of the FER+ label files."""

FERPLUS_VOTES = FERPLUS_EMOTIONS + ("unknown", "NF")
"""The vote columns of a FER+ label file: the emotions, then "unknown" and "NF" (not a face)."""

FER2013_NAMES = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                 "anger": "angry", "disgust": "disgust", "fear": "fear"}
"""FER+ emotion → the FER2013 label (folder name) of the same expression; contempt has none."""

NO_MAJORITY = -1
"""What `ferplus_majority` returns for an image without a majority label."""


@dataclass(frozen=True)
class FerPlusVotes:
    """The rows of a FER+ vote file: image `files` (paths relative to their split's
    folder), each row's `split` ("" when the file has no split column), and `votes`,
    an (N, 10) int array of vote counts in `FERPLUS_VOTES` order."""

    path: Path
    splits: tuple[str, ...]
    files: tuple[str, ...]
    votes: np.ndarray

    def __len__(self) -> int:
        return len(self.files)

    def split(self, name: str) -> "FerPlusVotes":
        """The rows of split `name`; a DataError naming the file's splits when there are none."""
        keep = [i for i, s in enumerate(self.splits) if s == name]
        if not keep:
            found = sorted(set(self.splits) - {""})
            raise DataError(f"{self.path}: no rows for split '{name}' (the file has "
                            f"{', '.join(found) or 'no split column'}); point --data at a split's folder, "
                            "e.g. fer2013/val")
        return FerPlusVotes(self.path, tuple(self.splits[i] for i in keep), tuple(self.files[i] for i in keep),
                            self.votes[keep])


def read_ferplus_votes(path: str | os.PathLike) -> FerPlusVotes:
    """A FER+ vote file (CSV with a header) → `FerPlusVotes`.

    Columns are found by name: `file` (the image's path under its split folder, e.g.
    `happy/Training_10019449.jpg`), the ten `FERPLUS_VOTES` counts, and optionally
    `split` (e.g. train, val); others are ignored. A count that is not a whole number
    ≥ 0, or a missing column, is a DataError naming the file, line and column.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "votes.csv"
    >>> _ = p.write_text("split,file," + ",".join(FERPLUS_VOTES) + "\\nval,happy/a.jpg,0,9,1,0,0,0,0,0,0,0\\n")
    >>> v = read_ferplus_votes(p)
    >>> v.files, v.splits, v.votes[0].tolist()
    (('happy/a.jpg',), ('val',), [0, 9, 1, 0, 0, 0, 0, 0, 0, 0])
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as a FER+ vote file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: empty; expected a header row: split,file,{','.join(FERPLUS_VOTES)}")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("file", *FERPLUS_VOTES) if c not in header]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)} in the header; a FER+ vote file has "
                        f"file,{','.join(FERPLUS_VOTES)} (and optionally split)")
    file_col, split_col = header.index("file"), header.index("split") if "split" in header else None
    vote_cols = [header.index(c) for c in FERPLUS_VOTES]
    files, splits, votes = [], [], []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DataError(f"{path}:{line}: {len(row)} values, the header has {len(header)}")
        counts = []
        for name, col in zip(FERPLUS_VOTES, vote_cols):
            cell = row[col].strip()
            if not cell.isdigit():
                raise DataError(f"{path}:{line}: column {name} is {cell!r}, not a vote count (a whole number >= 0)")
            counts.append(int(cell))
        files.append(row[file_col].strip())
        splits.append(row[split_col].strip() if split_col is not None else "")
        votes.append(counts)
    if not files:
        raise DataError(f"{path}: a header and no rows")
    return FerPlusVotes(path, tuple(splits), tuple(files), np.array(votes, np.int64).reshape(-1, len(FERPLUS_VOTES)))


def ferplus_majority(votes: np.ndarray) -> np.ndarray:
    """(N, 10) vote counts → (N,) majority label: an index into `FERPLUS_VOTES`, or `NO_MAJORITY`.

    The FER+ rule (Barsoum et al. 2016, "majority" mode of the FER+ reference code):
    single votes are outliers and are dropped (a count of 1 becomes 0, over all ten
    columns); the label is the column holding **more than half** of the remaining votes;
    with no such column (or no votes left) there is none. An image whose label is
    "unknown" (8) or "NF" (9) has no emotion either; majority-label accuracy leaves both
    kinds out.

    >>> ferplus_majority(np.array([[6, 0, 0, 0, 1, 0, 0, 0, 3, 0],   # 6 of 9 → neutral
    ...                            [4, 4, 0, 0, 2, 0, 0, 0, 0, 0],   # 4 of 10: none
    ...                            [5, 0, 0, 0, 0, 0, 0, 0, 5, 0],   # 5 of 10 is not more than half
    ...                            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],   # every vote single: none
    ...                            [0, 0, 0, 0, 0, 0, 0, 2, 8, 0]])).tolist()  # unknown wins
    [0, -1, -1, -1, 8]
    """
    kept = np.where(np.asarray(votes) > 1, np.asarray(votes), 0)
    top = kept.max(axis=1)
    return np.where(2 * top > kept.sum(axis=1), kept.argmax(axis=1), NO_MAJORITY)
