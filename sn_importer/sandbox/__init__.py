"""The built-in simulated Katana API (``sn-importer sandbox``, ``--sandbox``).

Faithful to the real ``/v1/serial_numbers`` where the importer depends on it:
status codes, error bodies, X-Pagination, X-Ratelimit-* and Retry-After, and
DELETE's silent 204; and to the order lists (``/manufacturing_orders``,
``/sales_orders``, ``/sales_order_rows``, ``/purchase_orders``,
``/purchase_order_rows``, ``/variants``) that order numbers and SKUs are
looked up in. See docs/sandbox.md.
"""

from .app import SimulatedConnectionDrop, create_app
from .server import SandboxServer, parse_rate_limit, running_sandbox, serve_forever
from .store import CREATE_TYPES, RESOURCE_TYPES, SandboxStore, Seed, load_seed, seed_from

__all__ = [
    "CREATE_TYPES",
    "RESOURCE_TYPES",
    "SandboxServer",
    "SandboxStore",
    "Seed",
    "SimulatedConnectionDrop",
    "create_app",
    "load_seed",
    "parse_rate_limit",
    "running_sandbox",
    "seed_from",
    "serve_forever",
]
