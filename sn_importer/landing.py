"""The report always lands: kept somewhere when its own place refuses it after sending.

A run that has sent DELETEs and then cannot write its report has lost the
only record of what it did. ``apply`` and ``preview`` prove the output place
before anything is sent (:func:`sn_importer.report.prove_writable`); if
writing still fails afterwards (a disk that filled up meanwhile, a folder
removed), the report goes into the state directory and the user is told where.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def fallback_target(state_dir: str | Path | None, target: str | Path, run_id: str) -> Path:
    """Where a report goes when its own place refuses it: ``<state dir>/reports/<run id>-<name>``."""
    from .journal import default_state_dir

    folder = (Path(state_dir) if state_dir else default_state_dir()) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}-{Path(target).name}"


def write_landing(write: Callable[[Path | None], Path], output: str | Path | None, target: str | Path,
                  state_dir: str | Path | None, run_id: str) -> tuple[Path, str | None]:
    """Write with ``write(output)`` (``target`` is where that goes); on failure write to the state
    directory instead.

    Returns (where the report is, None), or (the fallback, why ``target`` refused).
    Raises when the fallback fails too: then there is nowhere to write.
    """
    try:
        return write(Path(output) if output else None), None
    except OSError as exc:
        why = f"{exc.strerror or exc}" + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")
    return write(fallback_target(state_dir, target, run_id)), why


__all__ = ["fallback_target", "write_landing"]
