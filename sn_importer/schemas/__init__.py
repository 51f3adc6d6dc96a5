"""The project's own JSON schema of the Katana serial-number API.

Written from the OpenAPI facts (not generated from them) and kept small: the
shapes the client sends and the answers the importer relies on. Tests validate
the sandbox's answers and the client's requests against it, so the two cannot
drift apart from the API silently.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("serial_numbers.schema.json")


@cache
def load_schema() -> dict:
    """The whole schema document (definitions under ``$defs``)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_for(name: str) -> dict:
    """A standalone schema for one definition, e.g. ``schema_for("SerialNumber")``."""
    document = load_schema()
    if name not in document["$defs"]:
        raise KeyError(f"no definition {name!r} in {SCHEMA_PATH.name}")
    return {"$ref": f"#/$defs/{name}", "$defs": document["$defs"]}
