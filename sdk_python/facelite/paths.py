"""Where the shipped bundles are found, in an installed facelite and in a checkout alike.

The four reference bundles live in the repository at `models/<name>/<name>.flb`. They
are package data of the wheel: pyproject maps the package `facelite_models` onto the
`models/` folder, so `pip install .` copies them into site-packages and an editable
install (`make setup`) points at the checkout's own files. Nothing here is derived from
where the source tree happens to be.

`FACELITE_BUNDLES` overrides the installed bundles: a folder laid out the same way
(`<dir>/<name>/<name>.flb`), e.g. to try freshly built bundles without reinstalling.

    >>> from facelite.paths import shipped_bundle
    >>> shipped_bundle("expression")   # doctest: +SKIP
    PosixPath('.../site-packages/facelite_models/expression/expression.flb')
    >>> shipped_bundle("no-such-model") is None
    True
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from .errors import BundleError

BUNDLES_ENV = "FACELITE_BUNDLES"
"""Environment variable naming a folder of `<name>/<name>.flb` bundles used instead of the installed ones."""

SHIPPED_PACKAGE = "facelite_models"
"""The package whose data files are the shipped bundles (pyproject maps it onto `models/`)."""


def shipped_bundles_dir() -> Path:
    """The folder holding `<name>/<name>.flb` for every shipped bundle.

    `FACELITE_BUNDLES` when set, else the installed `facelite_models` package. Raises
    BundleError (never falls back to a stand-in) when the setting names no folder or the
    bundles were not installed.
    """
    env = os.environ.get(BUNDLES_ENV)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise BundleError(
                f"{BUNDLES_ENV}={env}: no such folder; point it at a folder holding "
                "<name>/<name>.flb bundles, or unset it to use the installed ones"
            )
        return root
    try:
        root = importlib.resources.files(SHIPPED_PACKAGE)
    except ModuleNotFoundError:
        raise BundleError(
            f"the shipped bundles are not installed (no '{SHIPPED_PACKAGE}' package): reinstall "
            f"facelite (`pip install .` in a checkout), or set {BUNDLES_ENV} to a folder holding "
            "<name>/<name>.flb bundles"
        ) from None
    if not isinstance(root, Path):
        raise BundleError(
            f"the shipped bundles are installed inside an archive ({root}), which LiteRT cannot "
            f"memory-map; install facelite unpacked or set {BUNDLES_ENV}"
        )
    return root


def shipped_bundle(name: str) -> Path | None:
    """`<shipped_bundles_dir()>/<name>/<name>.flb`, or None when no such bundle is there."""
    return bundle_in(shipped_bundles_dir(), name)


def bundle_in(folder: Path, name: str) -> Path | None:
    """`<folder>/<name>/<name>.flb` (the layout of `models/` and every bundles folder),
    or None when no such file is there."""
    path = Path(folder) / name / f"{name}.flb"
    return path if path.is_file() else None
