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

Only bytes that are exactly the part go out as they are: before anything is
written, the stored bytes are inflated once (2 to 34 times faster than
deflating them again, by how they were deflated) and must give the CRC-32 and
size the directory names, end where the deflate stream ends, and sit under a
local header that names the same part.
A part that is anything less (damaged, padded, shorter or longer than its
entry says) is not copied: the caller writes it as zipfile reads it, deflated
again, as every part was before.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO, Iterator

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED, _UTF8_NAME = 0x1, 0x800
_CHUNK = 1 << 20


class _NotExact(Exception):
    """The stored bytes are not exactly the part the directory describes."""


def copyable(info: zipfile.ZipInfo) -> bool:
    """Whether ``info``'s stored bytes could go into the output unchanged (stored or deflated, not encrypted)."""
    return info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and not info.flag_bits & _ENCRYPTED


def copy_stored(source: BinaryIO, info: zipfile.ZipInfo, out: zipfile.ZipFile, like: zipfile.ZipInfo) -> bool:
    """Append ``info``'s member of the zip open as ``source`` to ``out`` with its stored bytes, under
    ``like``'s name, date and attributes, and say True; or write nothing and say False when those
    bytes are not exactly the part (see the module's docstring)."""
    if not copyable(info):
        return False
    try:
        checked = _Check(info)
        for chunk in _stored_bytes(source, info):
            checked.feed(chunk)
        checked.done()
    except _NotExact:
        return False
    if out._writing:  # noqa: SLF001 - zipfile's own guard against a second writer
        raise ValueError("another member of the output is being written")
    entry = like
    entry.compress_type = info.compress_type
    entry.CRC, entry.file_size, entry.compress_size = info.CRC, info.file_size, info.compress_size
    entry.flag_bits = 0  # sizes known before the data: no data descriptor
    with out._lock:  # noqa: SLF001 - as zipfile's own writers hold it
        if out._seekable:  # noqa: SLF001
            out.fp.seek(out.start_dir)
        entry.header_offset = out.fp.tell()
        out._writecheck(entry)  # noqa: SLF001 - duplicate names, the ZIP64 limits: as zipfile checks its own
        out._didModify = True  # noqa: SLF001
        out.fp.write(entry.FileHeader())
        for chunk in _stored_bytes(source, info):
            out.fp.write(chunk)
        out.start_dir = out.fp.tell()
        out.filelist.append(entry)
        out.NameToInfo[entry.filename] = entry
    return True


def _stored_bytes(source: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's stored bytes, read past its local header as zipfile reads them (the same checks)."""
    source.seek(info.header_offset)
    header = source.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise _NotExact("truncated local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_SIGNATURE:
        raise _NotExact("bad local header signature")
    flags, name_length, extra_length = fields[3], fields[10], fields[11]
    name = source.read(name_length)
    try:
        named = name.decode("utf-8" if flags & _UTF8_NAME else "cp437")  # as zipfile decodes it by default
    except UnicodeDecodeError:
        raise _NotExact("a name that does not decode") from None
    if named != info.orig_filename:
        raise _NotExact("the name in the directory and in the local header differ")
    source.seek(extra_length, 1)
    left = info.compress_size
    while left:
        chunk = source.read(min(left, _CHUNK))
        if not chunk:
            raise _NotExact("truncated data")
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
        if self._inflate.eof:  # stored bytes after the end of the deflate stream
            raise _NotExact("bytes after the end of the deflate stream")
        data = chunk
        while data and not self._inflate.eof:
            self._add(self._inflated(data))
            data = self._inflate.unconsumed_tail

    def done(self) -> None:
        if self._inflate is not None:
            self._add(self._inflated(b""))
            if not self._inflate.eof or self._inflate.unused_data:
                raise _NotExact("a deflate stream that does not end where the stored bytes do")
        if self._size != self._info.file_size or self._crc != self._info.CRC:
            raise _NotExact("CRC-32 or size differ from the directory's")

    def _inflated(self, data: bytes) -> bytes:
        try:
            return self._inflate.decompress(data, _CHUNK) if data else self._inflate.flush()
        except zlib.error:
            raise _NotExact("damaged deflate stream") from None

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._info.file_size:  # a bomb stops here, not when it has filled the memory
            raise _NotExact("more than the directory entry says")
        self._crc = zlib.crc32(data, self._crc)


__all__ = ["copy_stored", "copyable"]
