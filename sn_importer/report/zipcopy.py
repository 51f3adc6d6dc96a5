"""A part the results do not touch, copied into the output as it is stored: compressed, not deflated again.

Deflating runs at 25–50 MB/s on a small machine, slowest on what is compressed
already (pictures, embedded files): a workbook with 10 MB of images spent 0.4 s
of every write deflating them once more, and a large history sheet as much.
Python's zipfile can neither hand out a member's stored bytes nor take them
back as they are (Go's archive/zip has ``OpenRaw``/``CreateRaw`` for this), so
this module does both halves itself: it reads the member's bytes from its local
header on (the offsets zipfile documents), and appends them to the output the
way zipfile's own writer appends a member it compressed (local header, data,
then the entry its central directory lists on close).

The stored bytes are inflated once on the way, only to check the part's CRC-32
and size: a damaged part fails the write, as it did when it was re-compressed,
and inflating is ten to thirty times faster than deflating.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO, Iterator

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED = 0x1
_CHUNK = 1 << 20


def copyable(info: zipfile.ZipInfo) -> bool:
    """Whether ``info``'s stored bytes can go into the output unchanged (stored or deflated, not encrypted)."""
    return info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and not info.flag_bits & _ENCRYPTED


def copy_stored(source: BinaryIO, info: zipfile.ZipInfo, out: zipfile.ZipFile, like: zipfile.ZipInfo) -> None:
    """Append ``info``'s member of the zip open as ``source`` to ``out`` with its stored bytes, under
    ``like``'s name, date and attributes. Raises :class:`zipfile.BadZipFile` if the bytes are not the
    part the directory describes (CRC-32 or size), before the entry is listed in ``out``."""
    if not copyable(info):
        raise ValueError(f"{info.filename}: compression {info.compress_type} or encryption: cannot copy as stored")
    entry = like
    entry.compress_type = info.compress_type
    entry.CRC, entry.file_size, entry.compress_size = info.CRC, info.file_size, info.compress_size
    entry.flag_bits = 0  # sizes known before the data: no data descriptor
    if out._writing:  # noqa: SLF001 - zipfile's own guard against a second writer
        raise ValueError("another member of the output is being written")
    out._writecheck(entry)  # noqa: SLF001 - duplicate names, the ZIP64 limits: as zipfile checks its own members
    out.fp.seek(out.start_dir)
    entry.header_offset = out.fp.tell()
    out._didModify = True  # noqa: SLF001
    out.fp.write(entry.FileHeader())
    checked = _Check(info)
    for chunk in _stored_bytes(source, info):
        checked.feed(chunk)
        out.fp.write(chunk)
    checked.done()
    out.start_dir = out.fp.tell()
    out.filelist.append(entry)
    out.NameToInfo[entry.filename] = entry


def _stored_bytes(source: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's stored bytes, read past its local header as zipfile reads them (the same checks)."""
    source.seek(info.header_offset)
    header = source.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile(f"{info.filename}: truncated local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"{info.filename}: bad local header signature")
    name_length, extra_length = fields[10], fields[11]
    name = source.read(name_length)
    if name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
        raise zipfile.BadZipFile(f"{info.filename}: the name in the directory and in the header differ")
    source.seek(extra_length, 1)
    left = info.compress_size
    while left:
        chunk = source.read(min(left, _CHUNK))
        if not chunk:
            raise zipfile.BadZipFile(f"{info.filename}: truncated data")
        left -= len(chunk)
        yield chunk


class _Check:
    """The CRC-32 and size of what a member's stored bytes hold, compared with its directory entry."""

    def __init__(self, info: zipfile.ZipInfo):
        self._info = info
        self._inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self._crc = 0
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self._inflate is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            self._add(self._inflated(data))
            data = self._inflate.unconsumed_tail

    def done(self) -> None:
        if self._inflate is not None:
            self._add(self._inflated(b""))
        if self._size != self._info.file_size or self._crc != self._info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {self._info.filename!r}")

    def _inflated(self, data: bytes) -> bytes:
        try:
            return self._inflate.decompress(data, _CHUNK) if data else self._inflate.flush()
        except zlib.error as exc:
            raise zipfile.BadZipFile(f"{self._info.filename!r} is damaged ({exc})") from None

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._info.file_size:  # a bomb stops here, not when it has filled the memory
            raise zipfile.BadZipFile(f"{self._info.filename!r} holds more than its directory entry says")
        self._crc = zlib.crc32(data, self._crc)


__all__ = ["copy_stored", "copyable"]
