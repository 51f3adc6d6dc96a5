"""What a text column's bytes say, read from its Arrow buffers in one pass.

A text column of a million cells is one buffer of UTF-8 bytes and an array of
where each cell starts. Questions about single ASCII characters (does a cell
hold a quote? start with "="? consist only of digits?) are answered over the
whole buffer with numpy and placed back in their cells by those offsets: one
look-up per byte, where a string search or a pattern per cell costs ten to a
hundred times more. ASCII is safe to look for byte by byte: in UTF-8 no byte
of a multi-byte character is below 0x80.

Missing cells answer False (and are never "made of" anything).
"""

from __future__ import annotations

import numpy as np


def arrow_text(column):
    """A text column (pandas, any text dtype) as one Arrow large-string array."""
    import pyarrow as pa

    array = pa.array(column, type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


class _Bytes:
    """An array's offsets (one more than its cells) and the bytes they point into."""

    def __init__(self, array):
        self.array = array
        self.offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
        data = array.buffers()[2]
        start, end = (int(self.offsets[0]), int(self.offsets[-1])) if len(array) else (0, 0)
        self.view = memoryview(data)[start:end] if data is not None else memoryview(b"")
        self.start = start

    def cells_of(self, positions: np.ndarray) -> np.ndarray:
        """Each byte position (within ``view``) → the cell it lies in."""
        return np.searchsorted(self.offsets, positions + self.start, side="right") - 1

    def valid(self, found: np.ndarray) -> np.ndarray:
        if self.array.null_count:
            found &= self.array.is_valid().to_numpy(zero_copy_only=False)
        return found


def _table(characters: str) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(characters.encode("ascii"))] = True
    return table


def holding(array, characters: str) -> np.ndarray | None:
    """Which cells hold any of the ASCII ``characters``; None when no cell does (the common case,
    found by a search of the whole buffer, memchr, before any array is made)."""
    raw = _Bytes(array)
    whole = raw.view.tobytes()
    if all(whole.find(byte) < 0 for byte in characters.encode("ascii")):
        return None
    hits = np.flatnonzero(_table(characters)[np.frombuffer(raw.view, dtype=np.uint8)])
    found = np.zeros(len(array), dtype=bool)
    found[raw.cells_of(hits)] = True
    return raw.valid(found)


def starting_with(array, characters: str, or_beyond_ascii: bool = False) -> np.ndarray:
    """Which cells begin with one of the ASCII ``characters`` (or, if asked, with any character
    beyond ASCII, such as a digit of another script that a pattern's ``\\d`` also takes)."""
    raw = _Bytes(array)
    found = np.zeros(len(array), dtype=bool)
    filled = raw.offsets[1:] > raw.offsets[:-1]
    if filled.any():
        table = _table(characters)
        table[0x80:] = or_beyond_ascii
        found[filled] = table[np.frombuffer(raw.view, dtype=np.uint8)[raw.offsets[:-1][filled] - raw.start]]
    return raw.valid(found)


def made_of(array, characters: str) -> np.ndarray:
    """Which cells are not empty and hold nothing but the ASCII ``characters``."""
    raw = _Bytes(array)
    found = raw.offsets[1:] > raw.offsets[:-1]
    if found.any():
        others = np.flatnonzero(~_table(characters)[np.frombuffer(raw.view, dtype=np.uint8)])
        found[raw.cells_of(others)] = False
    return raw.valid(found)


__all__ = ["arrow_text", "holding", "made_of", "starting_with"]
