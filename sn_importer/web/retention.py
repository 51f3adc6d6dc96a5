"""How long the page keeps what people uploaded and the workbooks it made.

Uploaded sheets and annotated workbooks list a tenant's serial numbers, so
they are not kept for ever: after ``keep_days`` (30 by default) they are
removed. A finished run's small record (its page and its History line) is
kept longer, ``keep_history_days``, so History still tells what happened
after the files are gone; the journal keeps its own history regardless.

The sweep runs when the server starts and then at most once an hour, when
someone opens the upload or History page or uploads a sheet, so an idle
server does no work and no extra thread is needed. Files of runs still in
hand (being checked, waiting for a confirmation, queued or running) are
never removed, whatever their age.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import SYSTEM, Clock

log = logging.getLogger("sn_importer.web")
DAY = 86_400.0


def run_id_of(path: Path) -> str:
    """The run a stored file belongs to: uploads are ``<id>/…`` (or ``<id>.xlsx``), results ``<id>-<mode>.xlsx``."""
    return path.name.split("-", 1)[0].split(".", 1)[0]


@dataclass
class Retention:
    """The sweep over ``web/uploads``, ``web/results`` and ``web/runs``."""

    web: Path
    keep_days: float = 30
    keep_history_days: float = 365
    clock: Clock = field(default=SYSTEM, repr=False)
    every: float = 3600.0
    _last: float = field(default=float("-inf"), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def due(self) -> bool:
        """True (once) when the last sweep is older than ``every`` seconds."""
        now = self.clock.now()
        with self._lock:
            if now - self._last < self.every:
                return False
            self._last = now
            return True

    def sweep(self, busy: set[str]) -> list[Path]:
        """Remove what is past its time, except the files of ``busy`` run ids; returns what went."""
        now = self.clock.now()
        files_before = now - self.keep_days * DAY
        records_before = now - max(self.keep_history_days, self.keep_days) * DAY
        removed = []
        for folder, before in (("uploads", files_before), ("results", files_before), ("runs", records_before)):
            for path in sorted((self.web / folder).glob("*")):
                if run_id_of(path) not in busy and _older(path, before) and _remove(path):
                    removed.append(path)
        if removed:
            log.info("removed %d stored files past their retention", len(removed))
        return removed


def _older(path: Path, before: float) -> bool:
    try:
        return path.stat().st_mtime < before
    except OSError:
        return False


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        log.warning("could not remove %s: %s", path.name, exc)
        return False
    return True
