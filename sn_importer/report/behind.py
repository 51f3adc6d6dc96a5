"""Writing a stream on a thread of its own, so its deflating runs beside the work that makes it.

A data sheet's rewrite alternates two kinds of work: splicing rows (the
interpreter's, with Arrow kernels between) and deflating what was spliced
into the output zip (zlib's, which lets go of the interpreter's lock). Done
in turn on one thread, the deflate waits for the splice and the splice for
the deflate: 28 ms of a 20,000-row sheet's 7 MB at level 1, five times that
at 100,000 rows. :class:`WriteBehind` takes the chunks in order and writes
them on a second thread, a few chunks behind at most, so the two overlap on
a machine with a core to spare and cost what they did on one without.
"""

from __future__ import annotations

import queue
import threading

#: Chunks waiting at most (each a buffer of spliced rows, about a megabyte): what bounds the memory.
_DEPTH = 4


class WriteBehind:
    """``write(chunk)`` in order on a thread of its own; leaving the ``with`` waits for the last chunk.

    The writer's first error is raised to the caller at its next chunk or on leaving; after an
    error nothing more is written. Chunks must not change once handed over (bytes do not).
    """

    def __init__(self, write, depth: int = _DEPTH):
        self._write = write
        self._chunks: queue.Queue = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="write behind", daemon=True)
        self._thread.start()

    def __call__(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._chunks.put(chunk)

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._write(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self._chunks.put(None)
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error
