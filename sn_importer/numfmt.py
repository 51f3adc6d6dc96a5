"""A number as Excel shows it, given the cell's number format code.

A serial such as ``00042`` that a workbook stores as the number 42 with the
format ``00000`` must be read as ``00042``: that is what staff see and what
is on the label. This covers what serial columns use: zero padding (``00000``),
literal text around the digits (``"SN-"00000``, ``\\S\\N0000``, ``000-000``),
thousands separators, fixed decimals and scientific notation (which shows a
damaged serial such as ``1.23E+12`` honestly, so validation can refuse it).
Dates, times, fractions and percentages are left to the default reading
(:func:`excel_text` returns None).
"""

from __future__ import annotations

import re

_BRACKETS = re.compile(r"\[[^\]]*\]")
_DATE_TOKENS = set("ymdhsYMDHS")


def excel_text(value: float, code: str) -> str | None:
    """``value`` formatted with ``code``, or None where the default reading is right (General, Text, dates)."""
    section = _section(code, value)
    if section is None:
        return None
    tokens = _tokens(section)
    if tokens is None:
        return None
    sign = "-" if value < 0 and ";" not in code else ""
    return sign + _render(abs(value), tokens)


def general_text(value: float) -> str:
    """A number as the General format shows it: whole numbers without '.0', huge ones in E notation."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6G}" if abs(value) >= 1e15 else repr(value)


def _section(code: str, value: float) -> str | None:
    """The part of ``code`` for this value's sign, without colours and conditions."""
    if not code or code.strip().lower() in ("general", "@"):
        return None
    sections = _split_sections(code)
    chosen = sections[1] if value < 0 and len(sections) > 1 else sections[0]
    chosen = _BRACKETS.sub("", chosen)
    return chosen or None


def _split_sections(code: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in code:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == '"':
            current, quoted = current + char, not quoted
        elif char == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _tokens(section: str) -> list[tuple[str, str]] | None:
    """("digit", "0"|"#"|"?"), ("point", "."), ("comma", ","), ("exp", "E+"), ("lit", text); None if unsupported."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(section):
        char = section[i]
        if char == '"':
            end = section.find('"', i + 1)
            end = len(section) if end < 0 else end
            tokens.append(("lit", section[i + 1:end]))
            i = end + 1
            continue
        if char == "\\" and i + 1 < len(section):
            tokens.append(("lit", section[i + 1]))
            i += 2
            continue
        if char in "_*":
            i += 2  # padding to a character's width, or a fill: nothing to show in text
            continue
        if char in _DATE_TOKENS or char in "%/@":
            return None
        if char in "0#?":
            tokens.append(("digit", char))
        elif char in "eE" and i + 1 < len(section) and section[i + 1] in "+-":
            tokens.append(("exp", section[i:i + 2].upper()))
            i += 2
            continue
        elif char == ".":
            tokens.append(("point", char))
        elif char == ",":
            tokens.append(("comma", char))
        else:
            tokens.append(("lit", char))
        i += 1
    return tokens if any(kind == "digit" for kind, _ in tokens) else None


def _render(value: float, tokens: list[tuple[str, str]]) -> str:
    kinds = [kind for kind, _ in tokens]
    if "exp" in kinds:
        return _scientific(value, tokens)
    if "point" in kinds:
        at = kinds.index("point")
        decimals = [t for t in tokens[at + 1:] if t[0] == "digit"]
        text = f"{value:.{len(decimals)}f}"
        whole, _, fraction = text.partition(".")
        fraction = _trim_fraction(fraction, decimals)
        head = _integer(int(whole), tokens[:at])
        tail = "".join(text for kind, text in tokens[at + 1:] if kind == "lit")
        return head + ("." + fraction if fraction or any(t[1] == "0" for t in decimals) else "") + tail
    return _integer(int(round(value)), tokens)


def _trim_fraction(fraction: str, placeholders: list[tuple[str, str]]) -> str:
    """Trailing zeros shown only where the placeholder is 0."""
    digits = list(fraction)
    for index in range(len(digits) - 1, -1, -1):
        if digits[index] == "0" and placeholders[index][1] != "0":
            digits.pop()
        else:
            break
    return "".join(digits)


def _integer(number: int, tokens: list[tuple[str, str]]) -> str:
    """Digits filled right to left into the placeholders, literals kept where they stand."""
    grouped = any(kind == "comma" for kind, _ in tokens)
    slots = [i for i, (kind, _) in enumerate(tokens) if kind == "digit"]
    digits = str(number) if number or any(tokens[i][1] == "0" for i in slots[-1:]) else ""
    if grouped:
        return _grouped(number, tokens, slots)
    out = [text if kind == "lit" else "" for kind, text in tokens]
    remaining = digits
    for position, slot in enumerate(reversed(slots)):
        if remaining:
            out[slot], remaining = remaining[-1], remaining[:-1]
        else:
            out[slot] = {"0": "0", "#": "", "?": " "}[tokens[slot][1]]
        if position == len(slots) - 1 and remaining:
            out[slot] = remaining + out[slot]
    return "".join(out)


def _grouped(number: int, tokens: list[tuple[str, str]], slots: list[int]) -> str:
    """#,##0 and the like: thousands separators, zero padding to the count of 0s, literals around."""
    zeros = sum(1 for i in slots if tokens[i][1] == "0")
    digits = str(number).rjust(zeros, "0") if zeros else (str(number) if number else "")
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    first, last = slots[0], slots[-1]
    head = "".join(text for kind, text in tokens[:first] if kind == "lit")
    tail = "".join(text for kind, text in tokens[last + 1:] if kind == "lit")
    return head + ",".join(groups) + tail


def _scientific(value: float, tokens: list[tuple[str, str]]) -> str:
    kinds = [kind for kind, _ in tokens]
    at = kinds.index("exp")
    decimals = sum(1 for kind, _ in tokens[:at] if kind == "digit") - 1
    mantissa, exponent = f"{value:.{max(0, decimals)}E}".split("E")
    power = int(exponent)
    width = max(1, sum(1 for kind, _ in tokens[at + 1:] if kind == "digit"))
    sign = "-" if power < 0 else ("+" if tokens[at][1] == "E+" else "")
    return f"{mantissa}E{sign}{abs(power):0{width}d}"


__all__ = ["excel_text", "general_text"]
