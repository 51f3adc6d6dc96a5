"""The report always lands: somewhere with room when its own place refuses it after sending.

A run that has sent DELETEs and then cannot write its report has lost the
only record of what it did. ``apply`` and ``preview`` prove the output place
(real room reserved) before anything is sent
(:func:`sn_importer.report.prove_writable`); if writing still fails
afterwards (a disk that filled up meanwhile, a folder removed), the report
goes to the first place that takes it: the state directory's ``reports/``,
then beside the input. When nothing takes a file, the caller prints every
row's status on stdout instead (:func:`row_statuses`), so the truth is never
lost, and the user is told where it went.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd


@dataclass(frozen=True)
class Landing:
    """Where the report went (None: nowhere would take it) and why its own place refused it."""

    where: Path | None
    refused: str | None = None


def fallback_targets(state_dir: str | Path | None, target: str | Path, run_id: str,
                     input_path: str | Path) -> list[Path]:
    """Where a report goes when its own place refuses it, in order: ``<state dir>/reports/<run id>-<name>``,
    then ``<run id>-<name>`` beside the input."""
    from .settings import default_state_dir

    name = f"{run_id}-{Path(target).name}"
    return [(Path(state_dir) if state_dir else default_state_dir()) / "reports" / name,
            Path(input_path).resolve().parent / name]


def write_landing(write: Callable[[Path | None], Path], output: str | Path | None, target: str | Path,
                  state_dir: str | Path | None, run_id: str, input_path: str | Path) -> Landing:
    """Write with ``write(output)`` (``target`` is where that goes); when that fails, with
    ``write(place)`` for each fallback place in turn."""
    try:
        return Landing(write(Path(output) if output else None))
    except Exception as exc:  # whatever the writer met (a full disk, a library's own error): try elsewhere
        refused = _reason(exc)
    for place in fallback_targets(state_dir, target, run_id, input_path):
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            return Landing(write(place), refused)
        except Exception:
            continue
    return Landing(None, refused)


def row_statuses(rows: pd.DataFrame) -> list[dict]:
    """Every row's status, for stdout when no folder takes the report."""
    part = rows.loc[rows["status"] != "", ["sheet", "row", "status", "message", "serial_id"]]
    return [{"sheet": str(s), "row": int(r), "status": str(st), "message": str(m),
             "serial_id": None if pd.isna(i) else int(i)} for s, r, st, m, i in part.itertuples(index=False)]


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")
    return f"{type(exc).__name__}: {exc}"


__all__ = ["Landing", "fallback_targets", "row_statuses", "write_landing"]
