"""The one formats table: every place that names input formats agrees with it."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

import sn_importer as sn
from sn_importer import formats
from sn_importer.web import uploads

from conftest import write_csv, write_xlsx

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "sn_importer" / "web"


def test_for_name_picks_the_format_by_ending():
    assert formats.for_name("a/b/Serials.XLSX").key == "xlsx"
    assert formats.for_name("list.txt").key == "csv"
    assert formats.for_name("C:\\drops\\x.ods").key == "ods"
    assert formats.for_name("noending").key == "csv"
    assert formats.for_name("photo.png") is None


@pytest.mark.parametrize("head, kind", [
    (b"PK\x03\x04rest", "zip"), (formats.OLE_MAGIC + b"\0" * 8, "ole"), (b"a,b\n1,2\n", "text"),
    ("a,b\n".encode("utf-16-le"), "text"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"", "empty"),
])
def test_sniff_tells_what_the_bytes_are(head, kind):
    assert formats.sniff(head) == kind


def test_the_upload_checks_accept_exactly_the_web_formats():
    web = {s for f in formats.FORMATS if f.web for s in f.suffixes}
    assert set(uploads.ACCEPTED) == web
    for suffix, stored in uploads.ACCEPTED.items():
        assert formats.for_name("x" + stored) is formats.for_name("x" + suffix)
    for fmt in formats.FORMATS:
        if not fmt.web:
            with pytest.raises(uploads.UploadRefused, match=re.escape(fmt.suffix) + "|not a sheet"):
                uploads.stored_suffix("x" + fmt.suffix)


def test_page_template_and_script_hold_no_list_of_their_own():
    template = (WEB / "templates" / "upload.html").read_text()
    script = (WEB / "static" / "app.js").read_text()
    for suffix in formats.suffixes():
        assert f"{suffix}," not in template and f'"{suffix}"' not in script, suffix


def test_the_page_offers_the_web_formats(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from sn_importer.web import WebSettings, create_app

    settings = WebSettings(base_url="http://127.0.0.1:9", api_key="k", state_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get(f"/login?token={app.state.server.logins.token}").text  # logged in, on the upload page
    assert f'accept="{formats.web_accept()}"' in page
    assert formats.describe(web_only=True) in page.replace("&#39;", "'")


def test_cli_help_lists_every_suffix():
    from typer.testing import CliRunner

    from sn_importer.cli import app

    result = CliRunner().invoke(app, ["validate", "--help"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    for suffix in formats.suffixes():
        assert suffix in result.output, suffix


def test_every_readable_suffix_reaches_its_reader(tmp_path):
    """Each suffix of the table is read by the reader the table names (content of that format)."""
    book = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A1"]]})
    for fmt in formats.FORMATS:
        for suffix in fmt.suffixes:
            if fmt.key in ("xls", "xlsb", "ods"):
                continue  # no writer for these here; the ODS case has its own test
            if fmt.container == "text":
                path = write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,3001,A1\n",
                                 name="in" + suffix)
            else:
                path = tmp_path / ("in" + suffix)
                path.write_bytes(book.read_bytes())
            assert sn.read(path).rows["status"].tolist() == ["valid"], suffix


def test_unknown_suffix_is_refused_naming_what_is_read(tmp_path):
    path = tmp_path / "serials.png"
    path.write_bytes(b"x")
    with pytest.raises(sn.InputError, match=re.escape(formats.short_list())):
        sn.read(path)


def test_each_format_names_a_reader_a_guard_and_an_output_that_exist():
    """The table is the one place a format is described: its reader is importable, its output known."""
    import importlib

    for fmt in formats.FORMATS:
        module, _, function = fmt.reader.partition(":")
        assert callable(getattr(importlib.import_module(f"sn_importer.{module}"), function)), fmt.key
        assert fmt.output in ("patch", "office", "rebuild", "csv"), fmt.key
        assert fmt.parts in ("", "xlsx", "ods") and (fmt.container == "zip") == bool(fmt.package), fmt.key
