"""Where shared data, weights and shipped models live.

Datasets and ImageNet weights are never copied into the repo: they are read from the
`shared/` folder that sits beside the checkout, or from `FACELITE_DATA` (datasets) and
`FACELITE_WEIGHTS` (backbone weights) when set.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"


def data_root() -> Path:
    """`FACELITE_DATA`, else `../shared/data` beside the checkout."""
    env = os.environ.get("FACELITE_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def weights_root() -> Path:
    """`FACELITE_WEIGHTS`, else the `weights/` folder next to the data root."""
    env = os.environ.get("FACELITE_WEIGHTS")
    return Path(env).expanduser() if env else data_root().parent / "weights"


def resolve(path: str | os.PathLike, root: Path) -> Path:
    """Absolute paths stay; relative ones are taken under `root`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p
