"""Templates: the shipped ones, a template given by path, and broken templates refused by key."""

from __future__ import annotations

import pandas as pd
import pytest

import sn_importer as sn
from sn_importer import TemplateError, load_template

from conftest import read_back, run_cli, write_csv, write_xlsx


def test_default_template():
    template = load_template()
    assert template.name == "default"
    assert template.ids_per_request == 100
    assert template.search_rows == 20
    assert template.resolve_resource_type("Manufacturing order") == "ManufacturingOrder"
    assert template.resolve_resource_type(" manufacturing-order ") == "ManufacturingOrder"
    assert template.resolve_resource_type("SO row") == "SalesOrderRow"
    assert template.resolve_resource_type("Invoice") is None


def test_mo_labels_template_reads_order_numbers_not_ids(tmp_path):
    path = write_xlsx(tmp_path, {
        "Labels": [["Shop floor labels"], ["MO number", "Label serial", "Operator"],
                   ["MO-3001", "L-0001", "ann"], ["MO-3002", "L-0003", "cy"],
                   ["MO-3001", "L-0001", "again"], ["", "L-9", "no order"]],
        "Notes": [["MO number", "Label serial"], ["MO-1", "X"]],
    })
    job = sn.read(path, "mo-labels")
    assert job.template.name == "mo-labels"
    assert job.source.skipped == [("Notes", "left out by the template")]
    rows = job.rows
    assert rows["resource_type"].tolist() == ["ManufacturingOrder"] * 4
    assert rows["order_no"].tolist() == ["MO-3001", "MO-3002", "MO-3001", ""]
    assert rows["resource_id"].isna().all()  # MO-3001 is an order number: Katana says which id at preview/apply
    assert rows["status"].tolist() == ["valid", "valid", "duplicate", "invalid"]
    assert rows["message"].tolist()[2] == "the same serial on the same resource is already in row 3"
    assert rows["message"].tolist()[3] == "MO number is blank"
    assert job.plan.empty
    assert ("Labels", "order_no", "column 'MO number'") in job.mapping()
    out = read_back(job.write())
    assert out["Labels"][1] == ["MO number", "Label serial", "Operator", "status", "message", "serial_id",
                                "request", "checked_at"]
    assert out["Labels"][2][:4] == ["MO-3001", "L-0001", "ann", "valid"]


def test_template_by_path(tmp_path):
    toml = tmp_path / "po.toml"
    toml.write_text('name = "po-sheet"\n[fields.resource_type]\nvalue = "PO row"\n'
                    '[fields.resource_id]\naliases = ["PO line"]\n[fields.serial_number]\naliases = ["Lot"]\n'
                    '[resource_types]\nPurchaseOrderRow = ["PO row"]\n[requests]\nids_per_request = 2\n', encoding="utf-8")
    path = write_csv(tmp_path, "PO line,Lot\n7001,A\n7001,B\n7001,C\n")
    job = sn.read(path, str(toml))
    assert job.template.name == "po-sheet"
    assert job.rows["resource_type"].tolist() == ["PurchaseOrderRow"] * 3
    assert job.rows["request"].tolist() == ["DELETE PurchaseOrderRow 7001 (1/2)"] * 2 + ["DELETE PurchaseOrderRow 7001 (2/2)"]
    result = run_cli("validate", path, "--template", toml, "--json")
    assert result.returncode == 0, result.stderr
    assert '"template": "po-sheet"' in result.stdout


def test_unknown_template_name_lists_shipped_ones(tmp_path):
    with pytest.raises(TemplateError) as caught:
        load_template("nope")
    assert str(caught.value) == ("template nope: no template named 'nope'; shipped templates: default, mo-labels "
                                 "(a file of your own is given as a path, e.g. ./nope.toml)")
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n")
    result = run_cli("validate", path, "--template", "nope")
    assert result.returncode == 2
    assert "shipped templates: default, mo-labels" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_template_file(tmp_path):
    with pytest.raises(TemplateError, match="file not found"):
        load_template(str(tmp_path / "gone.toml"))


@pytest.mark.parametrize(("body", "key", "problem"), [
    ("x = [", None, "not valid TOML"),
    ("bogus = 2\n", "bogus", "unknown key"),
    ("name = 1\n", "name", "must be a string"),
    ('[fields.resource_id]\naliases = "order"\n', "fields.resource_id.aliases", "must be a list of strings"),
    ('[fields.resource_id]\nalias = ["x"]\n', "fields.resource_id.alias", "unknown key"),
    ("[fields.colour]\naliases = []\n", "fields.colour", "unknown field"),
    ('[header]\nsearch_rows = "a"\n', "header.search_rows", "must be a whole number from 1 to 10000"),
    ("[requests]\nids_per_request = 0\n", "requests.ids_per_request", "must be a whole number from 1 to 1000"),
    ('[resource_types]\nInvoice = ["Bill"]\n', "resource_types.Invoice", "not a Katana resource type"),
    ('[resource_types]\n"Manufacturing order" = ["FA"]\n', "resource_types.Manufacturing order",
     "not a Katana resource type (write it as Katana spells it: ManufacturingOrder)"),
    ('[resource_types]\nProduction = ["Manufacturing order"]\n', "resource_types.Production", "already stands for ManufacturingOrder"),
    ('[fields.resource_type]\nvalue = "Invoice"\n', "fields.resource_type.value", "is not a Katana resource type"),
    ('[fields.serial_number]\nvalue = "X"\n', "fields.serial_number.value", "a serial cannot be a fixed value"),
    ("[fields.resource_id]\nvalue = 1.5\n", "fields.resource_id.value", "must be a string or a whole number"),
    ('name = " "\n', "name", "is blank; give the template a name, or leave the key out to use the file's name"),
    ('[resource_types]\nProduction = ["Run", " "]\n', "resource_types.Production", "alias ' ' has no letters or digits"),
])
def test_broken_template_names_file_key_and_problem(tmp_path, body, key, problem):
    toml = tmp_path / "broken.toml"
    toml.write_text(body, encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_template(str(toml))
    assert caught.value.key == key
    assert caught.value.path == toml
    message = str(caught.value)
    assert message.startswith(f"template {toml}")
    if key:
        assert f"key {key!r}" in message
    assert problem in message


def test_broken_template_on_the_command_line(tmp_path):
    toml = tmp_path / "broken.toml"
    toml.write_text("bogus = 2\n", encoding="utf-8")
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n")
    result = run_cli("validate", path, "--template", toml)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "broken.toml" in lines[0] and "'bogus'" in lines[0] and "unknown key" in lines[0]


@pytest.mark.parametrize("body, key", [
    ("[header]\nserch_rows = 5\n", "header.serch_rows"),
    ("[sheets]\nincluds = ['x']\n", "sheets.includs"),
    ("[requests]\nids_per_requests = 5\n", "requests.ids_per_requests"),
])
def test_a_typo_inside_a_table_is_refused_not_ignored(tmp_path, body, key):
    path = tmp_path / "typo.toml"
    path.write_text("name = 'typo'\n" + body)
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert caught.value.key == key and "unknown key" in str(caught.value) and "typo.toml" in str(caught.value)


@pytest.mark.parametrize("data", [
    "\ufeffname = 'notepad'\r\n[fields.serial_number]\r\naliases = ['Étiquette']\r\n".encode("utf-8"),
    "name = 'notepad'\r\n[fields.serial_number]\r\naliases = ['Étiquette']\r\n".encode("utf-16"),
], ids=["utf-8-bom", "utf-16"])
def test_a_template_saved_by_notepad_is_read(tmp_path, data):
    """Notepad saves UTF-8 with a BOM, or UTF-16 as "Unicode", with Windows line ends."""
    toml = tmp_path / "notepad.toml"
    toml.write_bytes(data)
    template = load_template(toml)
    assert template.name == "notepad" and template.fields["serial_number"].aliases == ("Étiquette",)
    path = write_csv(tmp_path, "resource_type,resource_id,Étiquette\nMO,3001,KNF1\n")
    assert sn.read(path, str(toml)).rows["status"].tolist() == ["valid"]


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("labels.toml", b"PK\x03\x04rest of a zip", "is a zip file such as an Excel workbook (.xlsx), not a template"),
    ("labels.xlsx", b"PK\x03\x04rest of a zip", "is a zip file such as an Excel workbook (.xlsx), not a template"),
    ("latin.toml", "name = 'x'\n[fields.serial_number]\naliases = ['Étiquette']\n".encode("cp1252"),
     "is not UTF-8 text (line 3); save it as UTF-8"),
    ("empty.toml", b"", "is empty: a template declares its fields' headers"),
    ("comments.toml", b"# to be filled in\n\n", "is empty: a template declares its fields' headers"),
], ids=["xlsx-named-toml", "xlsx", "cp1252", "empty", "comments-only"])
def test_a_file_that_is_not_a_template_is_refused_in_words(tmp_path, name, data, problem):
    (tmp_path / name).write_bytes(data)
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n")
    result = run_cli("validate", path, "--template", name, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: template {name}: {problem}")
    assert "codec" not in result.stderr


def test_a_folder_given_as_template_is_said_to_be_a_folder(tmp_path):
    with pytest.raises(TemplateError) as caught:
        load_template(str(tmp_path))
    assert caught.value.problem == "is a folder, not a template file (a .toml file)"


@pytest.mark.parametrize(("body", "key", "problem"), [
    ('[fields.sku]\naliases = ["Code"]\n[fields.serial_number]\naliases = ["code"]\n',
     "fields.serial_number.aliases", "alias 'code' is already a header of field sku"),
    ('[fields.sku]\naliases = ["Serial number"]\n',
     "fields.sku.aliases", "alias 'Serial number' is already a header of field serial_number"),
    ('[fields.serial_number]\naliases = ["Label", ""]\n',
     "fields.serial_number.aliases", "alias '' has no letters or digits"),
    ('[fields.serial_number]\naliases = ["-"]\n', "fields.serial_number.aliases", "alias '-' has no letters or digits"),
    ('[fields.resource_id]\nvalue = "abc"\n', "fields.resource_id.value", "'abc' is not a resource id"),
    ("[fields.resource_id]\nvalue = 0\n", "fields.resource_id.value", "0 is not a resource id"),
    ('[sheets]\ninclude = ["Labels", "Notes"]\nexclude = ["notes"]\n', "sheets.exclude",
     "sheet 'Notes' is in include too; a sheet is read or left out, not both"),
    ('[sheets]\ninclude = [""]\n', "sheets.include", "sheet name '' has no letters or digits"),
    ('[fields.resource_type]\nvalue = "Production"\n[fields.order_no]\nvalue = "MO-2917"\n', "fields.order_no.value",
     "every row is a production (fields.resource_type.value), which is not found by order number"),
])
def test_a_template_that_could_never_read_a_sheet_right_is_refused(tmp_path, body, key, problem):
    """Two fields claiming one header leave one of them missing from every sheet; an alias with
    no letters selects a blank-headed column; a fixed id that is not an id makes every row invalid."""
    toml = tmp_path / "mine.toml"
    toml.write_text(body, encoding="utf-8")
    path = write_csv(tmp_path, "resource_type,resource_id,,Code\nMO,3001,x,KNF1\n")
    result = run_cli("validate", path, "--template", toml)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: template {toml}, key {key!r}: ") and len(result.stderr.splitlines()) == 1
    assert problem in result.stderr and "Traceback" not in result.stderr


def test_a_fixed_field_claims_no_header_and_a_fixed_id_may_be_written_as_text(tmp_path):
    toml = tmp_path / "one-mo.toml"
    toml.write_text('[fields.resource_type]\nvalue = "MO"\naliases = ["Order"]\n[fields.resource_id]\nvalue = "3001"\n'
                    '[fields.order_no]\naliases = ["Order"]\n', encoding="utf-8")
    path = write_csv(tmp_path, "Serial number\nKNF1\n")
    job = sn.read(path, str(toml))
    assert job.rows["status"].tolist() == ["valid"]
    assert job.rows["request"].tolist() == ["DELETE ManufacturingOrder 3001 (1/1)"]


FRENCH = ('name = "fr-etiquettes"\n[fields.resource_type]\nvalue = "Ordre de fabrication"\n'
          '[fields.order_no]\naliases = ["N° OF", "OF"]\n[fields.serial_number]\naliases = ["Étiquette"]\n'
          '[resource_types]\nManufacturingOrder = ["Ordre de fabrication", "OF"]\n')


def test_the_blank_sheet_and_the_header_hint_offer_only_headers_the_template_reads(tmp_path):
    """A template in staff's own language need not read "Order number": the blank sheet heads that
    column with the template's own alias, and the hint for a sheet without a header does not tell
    staff to write a header that would be refused again."""
    from openpyxl import load_workbook

    toml = tmp_path / "fr.toml"
    toml.write_text(FRENCH, encoding="utf-8")
    result = run_cli("template", "--template", toml, "--output", tmp_path / "blank.xlsx")
    assert result.returncode == 0, result.stderr
    book = load_workbook(tmp_path / "blank.xlsx")
    assert [c.value for c in book["Serials"][1]] == ["Resource id", "N° OF", "Serial number", "Note"]
    lines = [c.value for c in book["Instructions"]["A"] if c.value]
    assert "Every row is a manufacturing order (template fr-etiquettes)." in lines
    book["Serials"].append([None, "MO-3001", "KNF1"])
    book.save(tmp_path / "filled.xlsx")
    assert sn.read(tmp_path / "filled.xlsx", str(toml)).rows["status"].tolist() == ["valid"]

    path = write_csv(tmp_path, "Order number,Serial number\nMO-3001,KNF1\n")
    refused = run_cli("validate", path, "--template", toml)
    assert refused.returncode == 2
    assert "expected headers like Resource id; N° OF (or OF);" in refused.stderr
    assert "Order number (or" not in refused.stderr


@pytest.mark.parametrize(("sheets", "said"), [
    ('include = ["Abbuchung"]', "reads only the sheets 'Abbuchung' ([sheets] include), and this workbook has none of them"),
    ('exclude = ["Abbuchungen", "Notizen"]',
     "leaves out the sheets 'Abbuchungen', 'Notizen' ([sheets] exclude), and this workbook has no other"),
])
def test_a_workbook_whose_every_sheet_the_template_leaves_out_says_so(tmp_path, sheets, said):
    """A typo in the include list (or a renamed sheet) is the fault there, not the headers: the
    message names the list and the workbook's sheets instead of asking for other headers."""
    toml = tmp_path / "lager.toml"
    toml.write_text(f'name = "lager"\n[sheets]\n{sheets}\n', encoding="utf-8")
    rows = [["resource_type", "resource_id", "serial_id"], ["MO", 3001, 1001]]
    path = write_xlsx(tmp_path, {"Abbuchungen": rows, "Notizen": rows})
    result = run_cli("validate", path, "--template", toml)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: the template 'lager' (lager.toml) {said}: "
                                     "its sheets are 'Abbuchungen', 'Notizen'")


def test_a_blank_template_name_is_refused_as_blank(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n")
    result = run_cli("validate", path, "--template", "")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: template '': no template given (the name is blank); give a shipped "
                                     "template's name (default, mo-labels) or a .toml file")


def test_the_blank_sheet_of_a_template_that_reads_only_its_own_sheets_reads_back(tmp_path):
    """A template with [sheets] include reads only those sheets: its blank sheet bears the first of
    them, so the sheet staff fill in is read by the template it came from."""
    from openpyxl import load_workbook

    toml = tmp_path / "lager.toml"
    toml.write_text('name = "lager"\n[sheets]\ninclude = ["Abbuchungen", "Nachträge"]\n'
                    '[fields.serial_number]\naliases = ["Seriennummer"]\n', encoding="utf-8")
    result = run_cli("template", "--template", toml, "--output", tmp_path / "blank.xlsx")
    assert result.returncode == 0, result.stderr
    book = load_workbook(tmp_path / "blank.xlsx")
    assert book.sheetnames == ["Abbuchungen", "Instructions"]
    assert book["Instructions"]["A1"].value == "How to fill in the Abbuchungen sheet"
    # no alias of its own for order_no: the field's name in words, which every template reads
    assert [c.value for c in book["Abbuchungen"][1]] == ["Resource type", "Resource id", "Order no", "SKU",
                                                        "Serial number", "Note"]
    book["Abbuchungen"].append(["Manufacturing order", 3001, None, None, "KNF1"])
    book.save(tmp_path / "filled.xlsx")
    checked = run_cli("validate", tmp_path / "filled.xlsx", "--template", toml, "--json")
    assert checked.returncode == 0, checked.stderr
    assert '"statuses": {"valid": 1}' in checked.stdout


def test_headers_and_sheet_names_that_look_like_the_templates_words_match_them(tmp_path):
    """The template's "Numéro de série" (typed composed) matches a header whose accent is a separate
    mark, as macOS and some exports write it; full-width letters match too."""
    import unicodedata

    toml = tmp_path / "fr.toml"
    toml.write_text('[sheets]\ninclude = ["Numéros"]\n[fields.resource_type]\nvalue = "MO"\n'
                    '[fields.resource_id]\naliases = ["N° d\'ordre"]\n[fields.serial_number]\naliases = ["Numéro de série"]\n',
                    encoding="utf-8")
    decomposed = unicodedata.normalize("NFD", "Numéro de série")
    assert decomposed != "Numéro de série"
    path = write_xlsx(tmp_path, {unicodedata.normalize("NFD", "Numéros"): [["ＮＯ ｄ'ordre", decomposed], [3001, "KNF1"]]})
    job = sn.read(path, str(toml))
    assert job.rows["status"].tolist() == ["valid"]
    assert job.rows["serial_number"].tolist() == ["KNF1"]


def test_a_template_file_not_found_says_which_was_probably_meant(tmp_path):
    (tmp_path / "lager.toml").write_text('name = "lager"\n', encoding="utf-8")
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n")
    for given, said in [("./lager", "file not found; there is lager.toml"),
                        ("mo-labels.toml", "file not found; the shipped template of that name is given by its "
                                           "name alone: mo-labels")]:
        result = run_cli("validate", path, "--template", given, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip().endswith(said), result.stderr


def test_a_typo_in_a_key_is_named_with_its_fix(tmp_path):
    toml = tmp_path / "typo.toml"
    toml.write_text('[fields.serial_number]\nalias = ["Label"]\n', encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_template(toml)
    assert caught.value.problem == ("unknown key (did you mean 'aliases'?); expected one of aliases, strip_prefixes, "
                                    "value")


def test_a_column_a_fixed_value_stands_in_for_is_said_not_read(tmp_path):
    """A sheet of several types read with a template whose every row is a manufacturing order:
    its 'Resource type' column is passed over, and that is said first, before anything is sent."""
    path = write_csv(tmp_path, "Resource type,MO number,Label serial\nSO row,SO-1042,L-1\n")
    job = sn.read(path, "mo-labels")
    assert job.source.sheet_notes == ["Sheet 'serials': its column 'Resource type' is not read: the template "
                                      "'mo-labels' makes every row a manufacturing order."]
    result = run_cli("validate", path, "--template", "mo-labels", "--json")
    assert "its column 'Resource type' is not read" in result.stdout
    assert sn.read(write_csv(tmp_path, "MO number,Label serial\nMO-1,L-1\n", name="labels.csv"),
                   "mo-labels").source.sheet_notes == []
