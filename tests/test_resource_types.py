"""The one table of Katana resource types agrees with the project's schema of the API,
and everything that lists types reads it."""

from __future__ import annotations

import pytest

from sn_importer import resource_types as rt
from sn_importer.blank import choices
from sn_importer.sandbox import CREATE_TYPES, RESOURCE_TYPES
from sn_importer.sandbox.store import MINT_TYPES
from sn_importer.schemas import load_schema
from sn_importer.template import load_template


def _enum(name: str) -> list[str]:
    return load_schema()["$defs"][name]["enum"]


def test_the_table_is_the_schemas_read_side_in_order():
    assert list(rt.NAMES) == _enum("SerialNumberResourceType")


def test_what_can_be_created_is_the_schemas_write_side():
    assert list(rt.CREATABLE) == _enum("CreateSerialNumberResourceType")


def test_what_a_post_mints_is_the_schemas_minting_side():
    assert list(rt.MINTING) == _enum("MintSerialNumberResourceType")
    assert set(rt.MINTING) <= set(rt.CREATABLE)


def test_the_sandbox_and_the_blank_sheet_read_the_table():
    assert (RESOURCE_TYPES, CREATE_TYPES, MINT_TYPES) == (rt.NAMES, rt.CREATABLE, rt.MINTING)
    assert choices(load_template()) == [t.label for t in rt.TABLE]


@pytest.mark.parametrize("template", ["default", "mo-labels"])
def test_every_spelling_in_the_table_is_read_by_every_template(template):
    loaded = load_template(template)
    for kind in rt.TABLE:
        for spelling in kind.spellings:
            assert loaded.resolve_resource_type(f"  {spelling.upper()} ") == kind.name, spelling


def test_no_spelling_stands_for_two_types():
    seen: dict[str, str] = {}
    for kind in rt.TABLE:
        for spelling in kind.spellings:
            key = rt.normalise_key(spelling)
            assert seen.setdefault(key, kind.name) == kind.name, f"{spelling!r} is {seen[key]} and {kind.name}"
