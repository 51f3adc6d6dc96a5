"""Counting words in the sentences staff read: "1 serial", "2 serials", "1,200 rows".

One rule, so the console, the Summary, the page and the notebook count alike.
"""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """``count`` and the word for it: "1 resource", "3 resources", "2 DELETE requests"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


__all__ = ["plural"]
