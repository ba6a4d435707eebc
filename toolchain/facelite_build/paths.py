"""Where the toolchain finds training data and backbone weights.

Datasets and ImageNet weights are never copied into the repo: they are read from the
`shared/` folder beside the checkout, or from `FACELITE_DATA` (datasets) and
`FACELITE_WEIGHTS` (backbone weights) when set. A recipe's relative `data.path` and
`backbone.weights` are taken under these roots. What a build derives from the data and
keeps between runs (e.g. the face geometry of `face_patches`) goes under `cache_root()`,
never into the repository.

    >>> from facelite_build.paths import resolve
    >>> from pathlib import Path
    >>> resolve("fer2013", Path("/data"))
    PosixPath('/data/fer2013')
    >>> resolve("/abs/fer2013", Path("/data"))
    PosixPath('/abs/fer2013')
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
"""The repository this toolchain runs from (`toolchain/facelite_build/` sits two levels down)."""


def data_root() -> Path:
    """`FACELITE_DATA`, else `../shared/data` beside the checkout."""
    env = os.environ.get("FACELITE_DATA")
    return Path(env).expanduser() if env else CHECKOUT.parent / "shared" / "data"


def weights_root() -> Path:
    """`FACELITE_WEIGHTS`, else the `weights/` folder next to the data root."""
    env = os.environ.get("FACELITE_WEIGHTS")
    return Path(env).expanduser() if env else data_root().parent / "weights"


def cache_root() -> Path:
    """`FACELITE_CACHE`, else `~/.cache/facelite`: derived data kept between builds."""
    env = os.environ.get("FACELITE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "facelite"


def resolve(path: str | os.PathLike, root: Path) -> Path:
    """Absolute paths stay; relative ones are taken under `root`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p
