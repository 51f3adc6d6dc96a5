"""Parts copied into the results as they are stored (report/zipcopy.py): the same bytes, checked first.

Each archive here is made by zipfile and read back by zipfile (``testzip``
inflates every member and checks its CRC-32), so what is checked is what any
reader of the results would meet. A part whose stored bytes are not exactly
what its directory entry says is refused before a byte of it is written, and
the output stays whole for what comes after.
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


def copied(path, names=None) -> tuple[io.BytesIO, zipfile.ZipFile, list[bool]]:
    """Every member (or ``names``) of ``path`` offered to copy_stored for a new archive, between two members
    zipfile writes itself; the new archive, closed, and what copy_stored said for each."""
    buffer, said = io.BytesIO(), []
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("first.xml", b"<a/>")
        for info in source.infolist():
            if names is None or info.filename in names:
                said.append(copy_stored(raw, info, out, zipfile.ZipInfo(info.filename, info.date_time)))
        out.writestr("last.xml", b"<b/>")
    return buffer, zipfile.ZipFile(buffer), said


def test_members_keep_their_stored_bytes_and_read_back_whole(tmp_path):
    path = tmp_path / "in.zip"
    members = [("xl/worksheets/sheet2.xml", TEXT, zipfile.ZIP_DEFLATED, 1),
               ("xl/media/image1.png", os.urandom(300_000), zipfile.ZIP_DEFLATED, 9),
               ("xl/media/image2.bin", os.urandom(5_000), zipfile.ZIP_STORED, None),
               ("xl/empty.xml", b"", zipfile.ZIP_DEFLATED, 6),
               ("xl/worksheets/über.xml", TEXT[:3000], zipfile.ZIP_DEFLATED, 1)]
    source_zip(path, members)
    buffer, out, said = copied(path)
    assert said == [True] * len(members)
    assert out.testzip() is None
    assert out.namelist() == ["first.xml", *[m[0] for m in members], "last.xml"]
    original = path.read_bytes()
    with zipfile.ZipFile(path) as source:
        for name, data, kind, _ in members:
            assert out.read(name) == data
            assert out.getinfo(name).compress_type == kind
            assert stored(buffer.getvalue(), out.getinfo(name)) == stored(original, source.getinfo(name))


def flip_a_byte(path, name: str) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data[info.header_offset + 30 + len(name.encode()) + 40] ^= 0x01
    path.write_bytes(bytes(data))


def rename_in_local_header(path, name: str) -> None:
    path.write_bytes(path.read_bytes().replace(name.encode(), name.replace("a", "b").encode(), 1))


def refused(path, change_entry=None) -> None:
    """copy_stored says no to the first member, writes nothing of it, and the output stays whole."""
    buffer = io.BytesIO()
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as source, zipfile.ZipFile(buffer, "w") as out:
        out.writestr("first.xml", b"<a/>")
        info = source.infolist()[0]
        if change_entry:
            change_entry(info)
        like = zipfile.ZipInfo(info.filename, info.date_time)
        assert copy_stored(raw, info, out, like) is False
        assert like.compress_size == 0 and not hasattr(like, "CRC")  # untouched: the caller writes the part with it
        out.writestr("last.xml", b"<b/>")
    with zipfile.ZipFile(buffer) as back:
        assert back.namelist() == ["first.xml", "last.xml"] and back.testzip() is None


@pytest.mark.parametrize("kind", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_damaged_part_is_not_copied(tmp_path, kind):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/sharedStrings.xml", TEXT, kind, 1)])
    flip_a_byte(path, "xl/sharedStrings.xml")
    refused(path)


def grow(by: int):
    def change(info):
        info.compress_size += by
    return change


@pytest.mark.parametrize("change", [
    pytest.param(lambda info: setattr(info, "file_size", 1000), id="larger than its entry says (a bomb)"),
    pytest.param(lambda info: setattr(info, "file_size", info.file_size + 10), id="shorter than its entry says"),
    pytest.param(grow(40), id="bytes after the end of the deflate stream"),
])
def test_a_part_not_exactly_as_its_entry_says_is_not_copied(tmp_path, change):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/a.xml", TEXT, zipfile.ZIP_DEFLATED, 9), ("xl/next.xml", TEXT, zipfile.ZIP_DEFLATED, 9)])
    refused(path, change)


def test_a_stored_part_padded_past_its_size_is_not_copied(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/a.bin", os.urandom(500), zipfile.ZIP_STORED, None), ("xl/next.xml", TEXT,
                                                                                 zipfile.ZIP_DEFLATED, 9)])
    refused(path, grow(7))


def test_a_local_header_that_names_another_part_is_not_copied(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("xl/a.xml", TEXT, zipfile.ZIP_DEFLATED, 1)])
    rename_in_local_header(path, "xl/a.xml")
    refused(path)


def test_only_stored_or_deflated_unencrypted_parts_are_copied_as_stored(tmp_path):
    path = tmp_path / "in.zip"
    source_zip(path, [("a.xml", TEXT, zipfile.ZIP_BZIP2, None), ("b.xml", TEXT, zipfile.ZIP_DEFLATED, 1)])
    with zipfile.ZipFile(path) as source:
        bzip, deflated = source.infolist()
    assert not copyable(bzip) and copyable(deflated)
    deflated.flag_bits |= 0x1
    assert not copyable(deflated)
    refused(path)
