"""Parts copied into the results as they are stored (report/zipcopy.py): the same bytes, checked on the way.

Each archive here is made by zipfile and read back by zipfile (``testzip``
inflates every member and checks its CRC-32), so what is checked is what any
reader of the results would meet.
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from sn_importer.report.zipcopy import copy_stored, copyable

TEXT = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i * 7) for i in range(1, 20_000))


def source_zip(path, members) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, kind, level in members:
            archive.writestr(name, data, compress_type=kind, compresslevel=level)


def stored(data: bytes, info: zipfile.ZipInfo) -> bytes:
    start = info.header_offset
    begin = start + 30 + int.from_bytes(data[start + 26:start + 28], "little") \
        + int.from_bytes(data[start + 28:start + 30], "little")
    return data[begin:begin + info.compress_size]


def copied(path, names=None) -> tuple[io.BytesIO, zipfile.ZipFile]:
    """Every member (or ``names``) of ``path`` copied as stored into a new archive, between two members
    zipfile writes itself; the new archive, closed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, open(path, "rb") as raw, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("first.xml", b"<a/>")
        for info in source.infolist():
            if names is None or info.filename in names:
                copy_stored(raw, info, out, zipfile.ZipInfo(info.filename, info.date_time))
        out.writestr("last.xml", b"<b/>")
    return buffer, zipfile.ZipFile(buffer)


def test_members_keep_their_stored_bytes_and_read_back_whole(tmp_path):
    path = tmp_path / "in.zip"
    members = [("xl/worksheets/sheet2.xml", TEXT, zipfile.ZIP_DEFLATED, 1),
               ("xl/media/image1.png", os.urandom(300_000), zipfile.ZIP_DEFLATED, 9),
               ("xl/media/image2.bin", os.urandom(5_000), zipfile.ZIP_STORED, None),
               ("xl/empty.xml", b"", zipfile.ZIP_DEFLATED, 6),
               ("xl/worksheets/über.xml", TEXT[:3000], zipfile.ZIP_DEFLATED, 1)]
    source_zip(path, members)
    buffer, out = copied(path)
    assert out.testzip() is None
    assert out.namelist() == ["first.xml", *[m[0] for m in members], "last.xml"]
    original = path.read_bytes()
    with zipfile.ZipFile(path) as source:
        for name, data, kind, _ in members:
            assert out.read(name) == data
            assert out.getinfo(name).compress_type == kind
            assert stored(buffer.getvalue(), out.getinfo(name)) == stored(original, source.getinfo(name))


def flip_a_byte_of(path, name: str) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    at = info.header_offset + 30 + len(name.encode()) + 40
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_damaged_part_fails_the_copy(tmp_path, kind):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/sharedStrings.xml", TEXT, kind, 1)])
    flip_a_byte_of(path, "xl/sharedStrings.xml")
    with pytest.raises(zipfile.BadZipFile):
        copied(path)


def test_a_part_larger_than_its_directory_says_stops_as_soon_as_it_is_seen(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/bomb.xml", TEXT * 20, zipfile.ZIP_DEFLATED, 9)])
    with zipfile.ZipFile(path) as source, open(path, "rb") as raw, \
            zipfile.ZipFile(io.BytesIO(), "w") as out:
        info = source.getinfo("xl/bomb.xml")
        info.file_size = 1000  # what a crafted directory would say
        with pytest.raises(zipfile.BadZipFile, match="more than its directory entry says"):
            copy_stored(raw, info, out, zipfile.ZipInfo(info.filename))
        assert out.namelist() == []


def test_a_local_header_that_names_another_part_is_refused(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/a.xml", TEXT, zipfile.ZIP_DEFLATED, 1)])
    path.write_bytes(path.read_bytes().replace(b"xl/a.xml", b"xl/b.xml", 1))  # the local header's name only
    with pytest.raises(zipfile.BadZipFile, match="differ"):
        copied(path)


def test_only_stored_or_deflated_unencrypted_parts_are_copied_as_stored(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("a.xml", TEXT, zipfile.ZIP_BZIP2, None), ("b.xml", TEXT, zipfile.ZIP_DEFLATED, 1)])
    with zipfile.ZipFile(path) as source:
        bzip, deflated = source.infolist()
    assert not copyable(bzip) and copyable(deflated)
    deflated.flag_bits |= 0x1
    assert not copyable(deflated)
    with pytest.raises(ValueError):
        copied(path, {"a.xml"})
