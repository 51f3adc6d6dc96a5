"""Import templates: the declarative description of a spreadsheet layout.

A template is a TOML file (see ``templates/``) that says, without code, which
headers map to which field, which values stand for which Katana resource type,
which sheets to read, how deep to search for the header and how many ids go
into one request. Everything downstream (header matching, the pandera schema,
the plan) is driven by the :class:`Template` loaded here, and a broken file is
refused with a message naming the file, the key and the problem.
"""

from __future__ import annotations

import codecs
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TemplateError
from .resource_types import BY_ORDER, NAMES, normalise_key, staff_label, standard_spellings
from .resources import data_dir

#: The fields a row can carry, in the order they are shown to users. A row names
#: its resource by ``resource_id``, or by ``order_no`` (a ManufacturingOrder) or
#: ``order_no`` + ``sku`` (a SalesOrderRow or PurchaseOrderRow), resolved through Katana.
FIELDS = ("resource_type", "resource_id", "order_no", "sku", "serial_id", "serial_number")

#: The resource types an order number can name, and whether a SKU must say which row (from the one table).
BY_ORDER_NO = {name: lookup.needs_sku for name, lookup in BY_ORDER.items()}

_TOP_KEYS = {"name", "description", "header", "sheets", "fields", "resource_types", "requests"}
_FIELD_KEYS = {"aliases", "value", "strip_prefixes"}
@dataclass(frozen=True)
class FieldSpec:
    """How one field is found in a sheet: header aliases, or a fixed value."""

    name: str
    aliases: tuple[str, ...] = ()
    value: str | int | None = None
    strip_prefixes: tuple[str, ...] = ()

    @property
    def header_keys(self) -> tuple[str, ...]:
        """Normalised header spellings that select this field, the field's own name first."""
        keys = [normalise_key(self.name)] + [normalise_key(a) for a in self.aliases]
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Template:
    """A loaded, checked import template."""

    name: str
    path: Path
    description: str = ""
    search_rows: int = 20
    include_sheets: tuple[str, ...] = ()
    exclude_sheets: tuple[str, ...] = ()
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    resource_type_aliases: dict[str, str] = field(default_factory=dict)
    ids_per_request: int = 100

    def resolve_resource_type(self, text: str) -> str | None:
        """The API spelling for a value as staff wrote it, or None if unknown."""
        return self.resource_type_aliases.get(normalise_key(text))

    def wants_sheet(self, name: str) -> bool:
        keys = normalise_key(name)
        if self.include_sheets and keys not in {normalise_key(s) for s in self.include_sheets}:
            return False
        return keys not in {normalise_key(s) for s in self.exclude_sheets}

    @property
    def fixed_fields(self) -> dict[str, str | int]:
        return {n: f.value for n, f in self.fields.items() if f.value is not None}


def available_templates() -> dict[str, Path]:
    """Templates shipped with the product, by name."""
    return {p.stem: p for p in sorted(data_dir("templates").glob("*.toml"))}


def load_template(name_or_path: str | Path | None = None) -> Template:
    """Load a template by shipped name ("default", "mo-labels") or by file path.

    A bare name is always a shipped template, whatever lies in the current
    folder: a file named ``default`` there never replaces it. A file of one's
    own is given as a path (``./mine.toml``, ``templates/x.toml``, ``x.toml``)."""
    if name_or_path is None:
        name_or_path = "default"
    text = str(name_or_path)
    if not text.strip():
        raise TemplateError(text, None, "no template given (the name is blank); give a shipped template's "
                                              f"name ({', '.join(available_templates())}) or a .toml file")
    shipped = available_templates()
    if isinstance(name_or_path, Path) or looks_like_path(text) or (text not in shipped and Path(text).suffix):
        path = Path(text).expanduser()
        if path.is_dir():
            raise TemplateError(path, None, "is a folder, not a template file (a .toml file)")
        if not path.is_file():
            raise TemplateError(path, None, _not_found(path, shipped))
    else:
        if text not in shipped:
            names = ", ".join(shipped) or "none"
            raise TemplateError(Path(text), None, f"no template named {text!r}; shipped templates: {names} "
                                                  f"(a file of your own is given as a path, e.g. ./{text}.toml)")
        path = shipped[text]
    try:
        raw = tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(path, None, f"not valid TOML: {exc}") from None
    if not raw:  # an empty file (a save that failed, a new file never filled) declares nothing
        raise TemplateError(path, None, "is empty: a template declares its fields' headers (see the shipped "
                                        "templates/default.toml)")
    return _build(path, raw)


#: The first bytes of files people give by mistake for a template, and what they are.
_NOT_TEXT = ((b"PK\x03\x04", "a zip file such as an Excel workbook (.xlsx)"),
             (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls) or Word file"))


def _text(path: Path) -> str:
    """The template's text. UTF-8 with or without the BOM Notepad adds, or UTF-16 with its BOM
    (Notepad's "Unicode"), since an admin edits the file in whatever is at hand; a workbook or
    another encoding is refused in words, not with a codec's error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(path, None, f"cannot be read: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for magic, what in _NOT_TEXT:
        if data.startswith(magic):
            raise TemplateError(path, None, f"is {what}, not a template; a template is a TOML text file "
                                            "(see templates/default.toml)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TemplateError(path, None, f"is not UTF-8 text (line {line}); save it as UTF-8") from None


def _not_found(path: Path, shipped: dict[str, Path]) -> str:
    """"file not found", with the file that was probably meant: the same name ending in .toml, or a
    shipped template asked for as a file ("mo-labels.toml" is the shipped "mo-labels")."""
    if not path.suffix and path.with_suffix(".toml").is_file():
        return f"file not found; there is {path.with_suffix('.toml')}"
    if path.suffix.lower() == ".toml" and path.stem in shipped and len(path.parts) == 1:
        return f"file not found; the shipped template of that name is given by its name alone: {path.stem}"
    return "file not found"


def looks_like_path(text: str) -> bool:
    """A template named as a file: a folder in it, a ``.toml`` ending, or ``~``/``.`` in front."""
    return "/" in text or "\\" in text or text.lower().endswith(".toml") or text.startswith(("~", "."))


def _build(path: Path, raw: dict[str, Any]) -> Template:
    check = _Checker(path)
    for key in raw:
        if key not in _TOP_KEYS:
            check.fail(key, _unknown("key", key, sorted(_TOP_KEYS)))
    header = check.known(check.table(raw, "header"), "header", {"search_rows"})
    sheets = check.known(check.table(raw, "sheets"), "sheets", {"include", "exclude"})
    requests = check.known(check.table(raw, "requests"), "requests", {"ids_per_request"})
    fields = _build_fields(check, check.table(raw, "fields"))
    template = Template(
        name=_name(check, raw, path),
        path=path,
        description=check.string(raw, "description", default=""),
        search_rows=check.integer(header, "header.search_rows", "search_rows", 20, 1, 10_000),
        include_sheets=check.strings(sheets, "sheets.include", "include"),
        exclude_sheets=check.strings(sheets, "sheets.exclude", "exclude"),
        fields=fields,
        resource_type_aliases=_build_type_aliases(check, check.table(raw, "resource_types")),
        ids_per_request=check.integer(requests, "requests.ids_per_request", "ids_per_request", 100, 1, 1000),
    )
    _check_complete(check, template)
    _check_sheets(check, template)
    return template


def _check_sheets(check: _Checker, template: Template) -> None:
    """A sheet both included and excluded, or a name of no letters or digits, is a slip in the list."""
    for key, names in (("sheets.include", template.include_sheets), ("sheets.exclude", template.exclude_sheets)):
        for name in names:
            if not normalise_key(name):
                check.fail(key, f"sheet name {name!r} has no letters or digits")
    excluded = {normalise_key(name) for name in template.exclude_sheets}
    for name in template.include_sheets:
        if normalise_key(name) in excluded:
            check.fail("sheets.exclude", f"sheet {name!r} is in include too; a sheet is read or left out, not both")


def _name(check: _Checker, raw: dict[str, Any], path: Path) -> str:
    """The name runs, summaries and the web page's list show: the file's name when the key is left out."""
    name = check.string(raw, "name", default=path.stem)
    if not name.strip():
        check.fail("name", "is blank; give the template a name, or leave the key out to use the file's name")
    return name.strip()


def _build_fields(check: _Checker, table: dict[str, Any]) -> dict[str, FieldSpec]:
    specs = {}
    for name in table:
        if name not in FIELDS:
            check.fail(f"fields.{name}", _unknown("field", name, FIELDS))
    for name in FIELDS:
        spec = check.table(table, name, prefix="fields.")
        for key in spec:
            if key not in _FIELD_KEYS:
                check.fail(f"fields.{name}.{key}", _unknown("key", key, sorted(_FIELD_KEYS)))
        value = spec.get("value")
        if value is not None and not isinstance(value, (str, int)) or isinstance(value, bool):
            check.fail(f"fields.{name}.value", "must be a string or a whole number")
        specs[name] = FieldSpec(
            name=name,
            aliases=check.strings(spec, f"fields.{name}.aliases", "aliases"),
            value=value,
            strip_prefixes=check.strings(spec, f"fields.{name}.strip_prefixes", "strip_prefixes"),
        )
    _check_aliases(check, specs)
    return specs


def _check_aliases(check: _Checker, specs: dict[str, FieldSpec]) -> None:
    """Each header spelling selects one field. An alias claimed by two fields would give the
    column to whichever comes first and leave the other missing; an alias of no letters or
    digits ("", "-") would select a column with a blank header."""
    for name, spec in specs.items():
        for alias in spec.aliases:
            if not normalise_key(alias):
                check.fail(f"fields.{name}.aliases", f"alias {alias!r} has no letters or digits; it would "
                                                     "match a column with a blank header")
    # A field with a fixed value is never looked for in the header, so its names claim nothing.
    looked_for = {name: spec for name, spec in specs.items() if spec.value is None}
    owner = {normalise_key(name): name for name in looked_for}
    for name, spec in looked_for.items():
        for alias in spec.aliases:
            key = normalise_key(alias)
            if owner.get(key, name) != name:
                check.fail(f"fields.{name}.aliases", f"alias {alias!r} is already a header of field "
                                                     f"{owner[key]}; a header can select one field only")
            owner[key] = name


def _build_type_aliases(check: _Checker, table: dict[str, Any]) -> dict[str, str]:
    """The table's spellings of every type, plus the template's own (which may not contradict them)."""
    aliases = standard_spellings()
    for canonical, names in table.items():
        if canonical not in NAMES:
            meant = aliases.get(normalise_key(canonical))  # "Manufacturing order", "manufacturingorder"
            hint = f" (write it as Katana spells it: {meant})" if meant else ""
            check.fail(f"resource_types.{canonical}",
                       f"not a Katana resource type{hint}; expected one of {', '.join(NAMES)}")
        for alias in check.strings(table, f"resource_types.{canonical}", canonical):
            key = normalise_key(alias)
            if not key:
                check.fail(f"resource_types.{canonical}", f"alias {alias!r} has no letters or digits")
            if aliases.get(key, canonical) != canonical:
                check.fail(f"resource_types.{canonical}", f"alias {alias!r} already stands for {aliases[key]}")
            aliases[key] = canonical
    return aliases


def _check_complete(check: _Checker, template: Template) -> None:
    fixed_type = template.fields["resource_type"].value
    if fixed_type is not None and template.resolve_resource_type(str(fixed_type)) is None:
        check.fail("fields.resource_type.value", f"{fixed_type!r} is not a Katana resource type")
    canonical = template.resolve_resource_type(str(fixed_type)) if fixed_type is not None else None
    for name in ("order_no", "sku"):
        if canonical and canonical not in BY_ORDER_NO and template.fields[name].value is not None:
            check.fail(f"fields.{name}.value", f"every row is a {staff_label(canonical).lower()} "
                                               "(fields.resource_type.value), which is not found by order number; "
                                               "give its resource id instead")
    resource_id = template.fields["resource_id"].value
    if resource_id is not None and not _whole_above_zero(str(resource_id).strip()):
        check.fail("fields.resource_id.value", f"{resource_id!r} is not a resource id (a whole number above 0)")
    for name in ("serial_id", "serial_number"):
        if template.fields[name].value is not None:
            check.fail(f"fields.{name}.value", "a serial cannot be a fixed value")


def _unknown(what: str, given: str, expected) -> str:
    """"unknown key; did you mean 'aliases'? expected one of …": a typo is named with its fix."""
    close = difflib.get_close_matches(given, list(expected), n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what}{hint}; expected one of {', '.join(expected)}"


def _whole_above_zero(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) > 0


class _Checker:
    """Small typed accessors that raise TemplateError naming the key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise TemplateError(self.path, key, problem)

    def known(self, table: dict, name: str, keys: set[str]) -> dict:
        for key in table:
            if key not in keys:
                self.fail(f"{name}.{key}", _unknown("key", key, sorted(keys)))
        return table

    def table(self, raw: dict, key: str, prefix: str = "") -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.fail(prefix + key, "must be a table")
        return value

    def string(self, raw: dict, key: str, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        return value

    def strings(self, raw: dict, full_key: str, key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(full_key, "must be a list of strings")
        return tuple(value)

    def integer(self, raw: dict, full_key: str, key: str, default: int, low: int, high: int) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(full_key, f"must be a whole number from {low} to {high}")
        return value
