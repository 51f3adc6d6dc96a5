"""The Katana resource types a serial number can sit on: the one table of them.

Each type says how the API spells it (the read and delete side,
``SerialNumberResourceType``), how staff write it (the blank sheet's
drop-down, the web page), the other spellings read as it, whether ``POST
/serial_numbers`` accepts it (``CreateSerialNumberResourceType``), whether
a POST there mints new serials or moves existing ones, and how staff may name
one by order number (and SKU) instead of its id. Adding a type named by order
number is one entry here. Validation, templates,
the blank sheet, the sandbox and the web page all read this table; a test
keeps it in agreement with the project's JSON schema of the API.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Signs that mean "number" in a header ("Serial #", "Order №", "Nº"): read as the word "no",
#: so "Order #" is "Order no" and "Resource #" an id, not the resource's type.
_NUMBER_SIGNS = (("nº", "no"), ("n°", "no"), ("№", "no"), ("#", "no"))


@dataclass(frozen=True)
class OrderLookup:
    """How a resource of a type is found from an order number (and, for order rows, a SKU)
    through Katana's list endpoints (API-NOTES: "Looking resources up by the numbers staff know")."""

    order_words: str            # "manufacturing order", as messages say it
    orders: str                 # list endpoint of the orders
    rows: str | None = None     # list endpoint of the order's rows (None: the order is the resource)
    order_filter: str = ""      # the rows endpoint's filter naming the order
    order_field: str = ""       # the row field holding its order's id

    @property
    def needs_sku(self) -> bool:
        """An order's rows are found by SKU; an order that is the resource itself needs none."""
        return self.rows is not None


@dataclass(frozen=True)
class ResourceType:
    """One Katana resource type."""

    name: str                   # as the API spells it (case matters on the wire)
    label: str                  # as staff write it
    aliases: tuple[str, ...]    # other spellings read as this type
    creatable: bool             # POST /serial_numbers accepts it
    mints: bool = False         # a POST onto it mints new serials (else it transfers existing ones)
    by_order: OrderLookup | None = None  # staff may name it by order number (None: by id only)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way of writing this type that is read as it: name, label, aliases."""
        return (self.name, self.label, *self.aliases)


TABLE: tuple[ResourceType, ...] = (
    ResourceType("ManufacturingOrder", "Manufacturing order", ("MO", "Make order", "Manufacturing"),
                 creatable=True, mints=True, by_order=OrderLookup("manufacturing order", "/manufacturing_orders")),
    ResourceType("Production", "Production", ("MO production", "Production run"), creatable=True),
    ResourceType("StockAdjustmentRow", "Stock adjustment row", ("Stock adjustment", "SA row", "Adjustment row"),
                 creatable=True),
    ResourceType("StockTransferRow", "Stock transfer row", ("Stock transfer", "ST row", "Transfer row"),
                 creatable=True),
    ResourceType("PurchaseOrderRow", "Purchase order row", ("PO row", "Purchase order", "PO"),
                 creatable=True, mints=True,
                 by_order=OrderLookup("purchase order", "/purchase_orders", "/purchase_order_rows",
                                      "purchase_order_id", "purchase_order_id")),
    ResourceType("SalesOrderRow", "Sales order row", ("SO row", "Sales order", "SO"), creatable=True,
                 by_order=OrderLookup("sales order", "/sales_orders", "/sales_order_rows", "sales_order_ids",
                                      "sales_order_id")),
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
#: The types staff may name by order number, and how each is looked up.
BY_ORDER: dict[str, OrderLookup] = {t.name: t.by_order for t in TABLE if t.by_order}


def normalise_key(text: str) -> str:
    """The forgiving form used to match headers and values: case, spaces, punctuation and
    symbols ignored ("Order no.", "order-no", "ORDER NO" are one key; "S/N" is "SN"), a
    number sign read as "no" ("Serial #" is "Serial no"). Compatibility-normalised first (NFKC), so
    text that looks the same is the same key: "Numéro" with its accent as a separate mark (as macOS
    and some exports write it) or in full-width letters from an East Asian keyboard."""
    key = unicodedata.normalize("NFKC", str(text)).casefold()
    for sign, word in _NUMBER_SIGNS:
        if sign in key:
            key = key.replace(sign, word)
    return "".join(ch for ch in key if ch.isalnum())


def standard_spellings() -> dict[str, str]:
    """Normalised spelling → API name, for every spelling in the table."""
    return {normalise_key(s): t.name for t in TABLE for s in t.spellings}


def staff_label(name: str) -> str:
    """How staff write a type, as the blank sheet's drop-down offers it: "Manufacturing order"
    for ``ManufacturingOrder`` (a name the table does not know stays as it is)."""
    known = BY_NAME.get(name)
    return known.label if known else name


#: The same as :func:`staff_label` (its first name).
label = staff_label


def staff_resource(name: str, resource_id: object) -> str:
    """A resource as messages shown to staff name it: "Manufacturing order 3001"."""
    return f"{staff_label(name)} {resource_id}"


def staff_labels() -> str:
    """Every type as the drop-down offers it, for messages: "Manufacturing order, Production, …"."""
    return ", ".join(t.label for t in TABLE)


__all__ = ["BY_NAME", "BY_ORDER", "CREATABLE", "MINTING", "NAMES", "TABLE", "OrderLookup", "ResourceType", "label",
           "normalise_key", "staff_label", "staff_labels", "staff_resource", "standard_spellings"]
