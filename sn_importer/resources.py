"""Where the packaged templates and samples live.

In a wheel they are shipped inside the package (``sn_importer/_data``); in a
source checkout they are the top-level ``templates/`` and ``samples/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder of packaged data ``name`` ("templates" or "samples")."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"packaged data folder {name!r} is missing from this installation")


def sample_seed_path() -> Path:
    """The JSON dataset the built-in sandbox starts with by default."""
    return data_dir("samples") / "katana-seed.json"
