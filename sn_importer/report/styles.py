"""The few styles the results add to the workbook's ``styles.xml``.

Fonts, fills, a border and cell formats are appended at the end of their
lists (so every style index the workbook already uses keeps its meaning) and
their ``count`` attributes updated; nothing else in the part changes. A
package without a styles part gets a minimal one, and a styles part without
one of the lists the results need (some writers leave ``<styleSheet/>``
empty) gets that list as a new workbook starts it, in the schema's place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..status import COLOURS
from .xmledit import element, insert_before, prefix_of, set_attribute, start_tag

HEADER_FILL = "FFD9E1F2"

MINIMAL = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b'<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
           b'<fills count="2"><fill><patternFill patternType="none"/></fill>'
           b'<fill><patternFill patternType="gray125"/></fill></fills>'
           b'<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           b'<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
           b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
           b'</styleSheet>')


@dataclass
class AddedStyles:
    """Cell format (``s``) indices of the added styles."""

    status: dict[str, int] = field(default_factory=dict)  # status value → its coloured format
    title: int = 0
    heading: int = 0
    bold: int = 0
    header: int = 0
    wrapped: int = 0  # text wrapped in its column's width (the message column)


#: The styleSheet's children in the schema's order (CT_Stylesheet).
_ORDER = (b"numFmts", b"fonts", b"fills", b"borders", b"cellStyleXfs", b"cellXfs", b"cellStyles", b"dxfs",
          b"tableStyles", b"colors", b"extLst")


def add_styles(data: bytes | None) -> tuple[bytes, AddedStyles]:
    """``styles.xml`` with the results' styles appended, and their indices."""
    data = data or MINIMAL
    p = prefix_of(data)
    data = _completed(data, p)
    name = _first_font_name(data, p)
    data, fonts = _append(data, p, b"fonts", b"font", [
        b"<%sfont><%sb/>%s</%sfont>" % (p, p, name, p),
        b'<%sfont><%sb/><%ssz val="14"/>%s</%sfont>' % (p, p, p, name, p),
        b'<%sfont><%sb/><%ssz val="12"/>%s</%sfont>' % (p, p, p, name, p)])
    colours = {s.value: f"FF{c}" for s, c in COLOURS.items()}
    data, fills = _append(data, p, b"fills", b"fill", [_fill(p, c) for c in [*colours.values(), HEADER_FILL]])
    thin = b"".join(b'<%s%s style="thin"><%scolor indexed="64"/></%s%s>' % (p, side, p, p, side)
                    for side in (b"left", b"right", b"top", b"bottom"))
    data, borders = _append(data, p, b"borders", b"border", [b"<%sborder>%s<%sdiagonal/></%sborder>" % (p, thin, p, p)])
    bold, title, heading = fonts
    formats = [_xf(p, fill=f) for f in fills[:-1]]
    formats += [_xf(p, font=title), _xf(p, font=heading), _xf(p, font=bold),
                _xf(p, font=bold, fill=fills[-1], border=borders[0]), _xf(p, wrap=True)]
    data, xfs = _append(data, p, b"cellXfs", b"xf", formats)
    title, heading, bold, header, wrapped = xfs[-5:]
    added = AddedStyles(status=dict(zip(colours, xfs)), title=title, heading=heading, bold=bold, header=header,
                        wrapped=wrapped)
    return data, added


def _completed(data: bytes, p: bytes) -> bytes:
    """``data`` with every list a new workbook's styles start with, those it lacks taken from :data:`MINIMAL`
    (a cell without a style still means format 0, the default font, no fill, no border)."""
    missing = [name for name in _ORDER[1:7] if element(data, p, name) is None]
    if not missing:
        return data
    root = start_tag(data, p, b"styleSheet")
    if root is not None and root.group(0).endswith(b"/>"):
        data = data[:root.start()] + root.group(0)[:-2].rstrip() + b"></" + p + b"styleSheet>" + data[root.end():]
    for name in missing:
        start, end = element(MINIMAL, b"", name)
        default = re.sub(rb"<(/?)(?=\w)", lambda found: b"<" + found.group(1) + p, MINIMAL[start:end])
        data = insert_before(data, p, default, _ORDER[_ORDER.index(name) + 1:], b"styleSheet")
    return data


def _first_font_name(data: bytes, p: bytes) -> bytes:
    """The default font's name and family elements, so the added fonts look like the workbook's."""
    span = element(data, p, b"font", (start_tag(data, p, b"fonts") or re.match(b"", data)).end())
    if span is None:
        return b""
    first = data[span[0]:span[1]]
    kept = re.findall(rb"<" + re.escape(p) + rb"(?:name|family|scheme)\s[^>]*/>", first)
    return b"".join(kept)


def _fill(p: bytes, argb: str) -> bytes:
    return (b'<%sfill><%spatternFill patternType="solid"><%sfgColor rgb="%s"/><%sbgColor indexed="64"/>'
            b"</%spatternFill></%sfill>" % (p, p, p, argb.encode(), p, p, p))


def _xf(p: bytes, font: int = 0, fill: int = 0, border: int = 0, wrap: bool = False) -> bytes:
    applied = b"".join(name for name, used in ((b' applyFont="1"', font), (b' applyFill="1"', fill),
                                                (b' applyBorder="1"', border), (b' applyAlignment="1"', wrap)) if used)
    xf = b'<%sxf numFmtId="0" fontId="%d" fillId="%d" borderId="%d" xfId="0"%s' % (p, font, fill, border, applied)
    return xf + (b'><%salignment wrapText="1"/></%sxf>' % (p, p) if wrap else b"/>")


def _append(data: bytes, p: bytes, holder: bytes, item: bytes, new: list[bytes]) -> tuple[bytes, list[int]]:
    """Append ``new`` items to the list element ``holder``; return the data and the new items' indices."""
    span = element(data, p, holder)
    if span is None:
        raise ValueError(f"the styles part has no <{holder.decode()}> list")
    start, end = span
    block = data[start:end]
    opening = start_tag(block, p, holder)
    count = len(re.findall(rb"<" + re.escape(p + item) + rb"[\s/>]", block[opening.end():]))
    indices = list(range(count, count + len(new)))
    tag = set_attribute(opening.group(0), b"count", str(count + len(new)).encode())
    if tag.endswith(b"/>"):
        block = tag[:-2].rstrip() + b">" + b"".join(new) + b"</" + p + holder + b">"
    else:
        closing = block.rfind(b"</")
        block = tag + block[opening.end():closing] + b"".join(new) + block[closing:]
    return data[:start] + block + data[end:], indices

