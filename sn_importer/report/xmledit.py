"""Small byte-level edits of SpreadsheetML parts, so a patched part differs only where it must.

Parsing a part and serialising it again would change its bytes everywhere
(namespace declarations, quoting, whitespace) and lose what a parser does not
model. These helpers find one element by its tag, set or add one attribute,
or insert an element at the place the schema's order requires, and leave
every other byte alone. Tags are matched with the part's own namespace prefix
(``x:`` in some generators' files, none in Excel's).
"""

from __future__ import annotations

import re

from ..xlsx import column_number

_ROOT = re.compile(rb"<(?:(\w+):)?(worksheet|workbook|styleSheet|Types|Relationships|Properties|table)[\s>]")
#: What XML 1.0 forbids in text, as a pattern both Python's ``re`` and Arrow's RE2 read (cells.py's columns).
ILLEGAL_XML = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\ufffe\uffff]"
_ILLEGAL = re.compile(ILLEGAL_XML)


#: A tag's attributes up to its end, each quoted value read whole: XML lets ``>`` stand unescaped in a
#: value, so a tag does not end at its first ``>``. Possessive steps (a run of plain bytes, or one whole
#: value): nothing is tried twice, however long a malformed tag.
ATTRIBUTES = rb"""(?:[^>"'/]++|"[^"]*+"|'[^']*+'|/(?!>))*+"""


def prefix_of(data: bytes) -> bytes:
    """The namespace prefix of the part's root element, with its colon (``b"x:"``), or ``b""``."""
    found = _ROOT.search(data)
    return (found.group(1) + b":") if found and found.group(1) else b""


def tag_pattern(p: bytes, tag: bytes) -> bytes:
    """A start tag ``<p:tag ...>`` (or self-closing), read to its end."""
    return rb"<" + re.escape(p + tag) + rb"(?=[\s/>])" + ATTRIBUTES + rb"/?>"


def start_tag(data: bytes, p: bytes, tag: bytes, start: int = 0) -> re.Match | None:
    """The first start tag ``<p:tag ...>`` (or self-closing) at or after ``start``."""
    return re.compile(tag_pattern(p, tag)).search(data, start)


def element(data: bytes, p: bytes, tag: bytes, start: int = 0) -> tuple[int, int] | None:
    """(start, end) of the first whole element ``tag`` (self-closing or with its end tag)."""
    found = start_tag(data, p, tag, start)
    if found is None:
        return None
    if found.group(0).endswith(b"/>"):
        return found.start(), found.end()
    close = data.find(b"</" + p + tag + b">", found.end())
    return (found.start(), close + len(p + tag) + 3) if close >= 0 else None


def attribute(tag: bytes, name: bytes) -> bytes | None:
    found = re.search(rb"\s" + re.escape(name) + rb"=\"([^\"]*)\"", tag)
    return found.group(1) if found else None


def set_attribute(tag: bytes, name: bytes, value: bytes) -> bytes:
    """``tag`` (one start tag) with ``name="value"``, replaced or added before its ``>``/``/>``."""
    pattern = re.compile(rb"(\s" + re.escape(name) + rb"=)\"[^\"]*\"")
    if pattern.search(tag):
        return pattern.sub(lambda m: m.group(1) + b'"' + value + b'"', tag, count=1)
    end = len(tag) - (2 if tag.endswith(b"/>") else 1)
    return tag[:end].rstrip() + b" " + name + b'="' + value + b'"' + tag[end:]


def drop_attribute(tag: bytes, name: bytes) -> bytes:
    return re.sub(rb"\s" + re.escape(name) + rb"=\"[^\"]*\"", b"", tag, count=1)


def insert_before(data: bytes, p: bytes, new: bytes, following: tuple[bytes, ...], closing: bytes) -> bytes:
    """``new`` inserted before the first of the ``following`` elements, else before ``</closing>``.

    One pattern for all of them (a sheet's tail has some twenty-five candidates: a pattern each cost
    more to compile than the search)."""
    names = b"|".join(re.escape(tag) for tag in following)
    found = re.search(rb"<" + re.escape(p) + rb"(?:" + names + rb")(?=[\s/>])", data) if following else None
    if found is not None:
        at = found.start()
    else:
        at = data.rfind(b"</" + p + closing + b">")
        if at < 0:
            raise ValueError(f"no </{closing.decode()}> in the part")
    return data[:at] + new + data[at:]


def text(value: str) -> bytes:
    """Character data for XML: escaped, without the control characters XML forbids."""
    return _escape(_ILLEGAL.sub("", value)).encode("utf-8")


def attr(value: str) -> bytes:
    """A quoted attribute value."""
    return _quoteattr(_ILLEGAL.sub("", value)).encode("utf-8")


# ``xml.sax.saxutils``' escape and quoteattr, spelled out: the same bytes, without the SAX package, which
# loads urllib's request machinery with it (9 ms of every command's start).
def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _quoteattr(value: str) -> str:
    value = _escape(value).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"{}"'.format(value.replace('"', "&quot;"))


def split_ref(ref: bytes) -> tuple[int, int]:
    """b"AB12" → (column 28, row 12); a bare column or row gives 0 for the other."""
    found = re.fullmatch(rb"\$?([A-Z]*)\$?([0-9]*)", ref)
    if not found:
        raise ValueError(f"not a cell reference: {ref!r}")
    letters, digits = found.groups()
    return (column_number(letters) if letters else 0), (int(digits) if digits else 0)


def quote_sheet(name: str) -> str:
    """A sheet name as a formula writes it: ``'Week 48'``, quotes doubled."""
    return "'" + name.replace("'", "''") + "'"
