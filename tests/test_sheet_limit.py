"""A workbook of thousands of sheets is refused in one sentence, from its zip directory, before any is read."""

from __future__ import annotations

import zipfile

import pytest

import sn_importer as sn
from sn_importer.guard import Limits, check_sheet_count

SHEET = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
         '<c r="A1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')


def many_sheets(path, count: int):
    """An .xlsx of ``count`` one-cell sheets, its workbook listing them all."""
    sheets = "".join(f'<sheet name="S{n}" sheetId="{n}" r:id="rId{n}"/>' for n in range(1, count + 1))
    rels = "".join(f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                   f'relationships/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in range(1, count + 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                                                'content-types"/>')
        archive.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                                            '2006/main" xmlns:r="http://schemas.openxmlformats.org/'
                                            f'officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                                                       f'package/2006/relationships">{rels}</Relationships>')
        for n in range(1, count + 1):
            archive.writestr(f"xl/worksheets/sheet{n}.xml", SHEET)
    return path


def test_a_workbook_of_4900_sheets_is_refused_in_one_sentence(tmp_path):
    path = many_sheets(tmp_path / "sheets.xlsx", 4_900)
    with pytest.raises(sn.InputError, match=r"the workbook has 4,900 sheets \(limit 1,000\); keep the sheets to "
                                            r"import in a workbook of their own"):
        sn.read(path)


def test_the_limit_is_one_of_the_limits():
    assert Limits().sheets == 1_000
    check_sheet_count(None, 3, Limits(sheets=3))
    with pytest.raises(sn.InputError, match="4 sheets"):
        check_sheet_count("x.xlsx", 4, Limits(sheets=3))
