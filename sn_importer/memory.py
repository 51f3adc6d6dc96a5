"""How a command's process asks for memory and gives it back.

A command reads a sheet into columns, works on them and lets most of them go
stage by stage (text, then masks, then the rows frame); its peak is what the
allocators keep between the stages, not what it holds. Two allocators are
involved: glibc's, for numpy arrays and Python objects, and Arrow's pool, for
pandas' text columns. Left to their defaults both keep freed memory for later
(glibc raises its mmap threshold after each large free, so the next large
array comes from a heap that is never given back; Arrow's bundled pool holds
freed pages), and a million-row CSV peaks about 200 MB higher than with:

- glibc's mmap threshold fixed at 1 MiB: a column of a hundred thousand
  rows or more is its own mapping, returned to the system the moment it is
  freed, while smaller blocks are reused from the heap (at 128 KiB every
  block of a chunked write was a fresh mapping too: on a million rows, a
  hundred thousand more page faults and half a second more of system time;
  at 4 MiB the peak is 35 MB higher);
- Arrow's system pool: its buffers come from that same malloc, so they follow
  the same rule and ``malloc_trim`` reaches them.

This is done by the command line's entry point only, before pyarrow is
imported: a notebook's process (a library caller) keeps its own allocators.
Measured in docs/benchmarks.md.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import sys

#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_THRESHOLD = 1024 * 1024


def tune_for_a_command() -> None:
    """Return freed memory to the system as a command goes (see the module's docstring)."""
    if "pyarrow" not in sys.modules:  # Arrow reads its pool's name once, when it is first used
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)
    except (OSError, AttributeError):  # not glibc: its allocator keeps its own counsel
        pass


def pause_collector() -> None:
    """Start-up of a command: no garbage collection while its modules load.

    pandas, pandera and their kin make a few hundred thousand objects that live as long as the
    process; the collector, left on, walks them again and again as they come (about 0.15 s of a
    command that checks ten rows). :func:`loaded` turns it back on once the command has what it needs.
    """
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def loaded(*modules: str) -> None:
    """Load ``modules`` (still without collecting), then set aside everything start-up made (it lives
    for good: never walked again) and collect as usual from here on. Does nothing to the collector
    of a process that did not pause it (a notebook, a test calling the command line in-process)."""
    global _paused
    for name in modules:
        importlib.import_module(name)
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


_paused = False


def give_back() -> None:
    """Return what a run's rows took to the system now: Python frees them, but the allocators keep
    freed pages for later, and a server that ran ten large sheets would stay that large for ever."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps its own counsel
        pass
    arrow = sys.modules.get("pyarrow")  # pandas keeps text columns in Arrow's memory pool
    if arrow is not None:
        arrow.default_memory_pool().release_unused()


__all__ = ["give_back", "loaded", "pause_collector", "tune_for_a_command"]
