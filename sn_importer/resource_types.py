"""The Katana resource types a serial number can sit on: the one table of them.

Each type says how the API spells it (the read and delete side,
``SerialNumberResourceType``), how staff write it (the blank sheet's
drop-down, the web page), the other spellings read as it, whether ``POST
/serial_numbers`` accepts it (``CreateSerialNumberResourceType``) and whether
a POST there mints new serials or moves existing ones. Validation, templates,
the blank sheet, the sandbox and the web page all read this table; a test
keeps it in agreement with the project's JSON schema of the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NORMALISE = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class ResourceType:
    """One Katana resource type."""

    name: str                   # as the API spells it (case matters on the wire)
    label: str                  # as staff write it
    aliases: tuple[str, ...]    # other spellings read as this type
    creatable: bool             # POST /serial_numbers accepts it
    mints: bool = False         # a POST onto it mints new serials (else it transfers existing ones)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way of writing this type that is read as it: name, label, aliases."""
        return (self.name, self.label, *self.aliases)


TABLE: tuple[ResourceType, ...] = (
    ResourceType("ManufacturingOrder", "Manufacturing order", ("MO", "Make order", "Manufacturing"),
                 creatable=True, mints=True),
    ResourceType("Production", "Production", ("MO production", "Production run"), creatable=True),
    ResourceType("StockAdjustmentRow", "Stock adjustment row", ("Stock adjustment", "SA row", "Adjustment row"),
                 creatable=True),
    ResourceType("StockTransferRow", "Stock transfer row", ("Stock transfer", "ST row", "Transfer row"),
                 creatable=True),
    ResourceType("PurchaseOrderRow", "Purchase order row", ("PO row", "Purchase order", "PO"),
                 creatable=True, mints=True),
    ResourceType("SalesOrderRow", "Sales order row", ("SO row", "Sales order", "SO"), creatable=True),
    ResourceType("SalesOrderFulfillmentRow", "Sales order fulfillment row",
                 ("Sales order fulfilment row", "Fulfillment row", "Fulfilment row", "SOF row"), creatable=False),
)

BY_NAME: dict[str, ResourceType] = {t.name: t for t in TABLE}
#: ``SerialNumberResourceType``: what GET filters on and DELETE accepts.
NAMES: tuple[str, ...] = tuple(t.name for t in TABLE)
#: ``CreateSerialNumberResourceType``: what POST accepts.
CREATABLE: tuple[str, ...] = tuple(t.name for t in TABLE if t.creatable)
#: POST onto these mints new serials; onto the other creatable types it transfers.
MINTING: tuple[str, ...] = tuple(t.name for t in TABLE if t.mints)


def normalise_key(text: str) -> str:
    """The forgiving form used to match headers and values: case, spaces, _ and - ignored."""
    return _NORMALISE.sub("", str(text)).casefold()


def standard_spellings() -> dict[str, str]:
    """Normalised spelling → API name, for every spelling in the table."""
    return {normalise_key(s): t.name for t in TABLE for s in t.spellings}


def label(name: str) -> str:
    """How staff write a type (the API spelling for a name the table does not know)."""
    known = BY_NAME.get(name)
    return known.label if known else name


__all__ = ["BY_NAME", "CREATABLE", "MINTING", "NAMES", "TABLE", "ResourceType", "label", "normalise_key",
           "standard_spellings"]
