"""The built-in simulated Katana API (``sn-importer sandbox``, ``--sandbox``).

Faithful to the real ``/v1/serial_numbers`` where the importer depends on it:
status codes, error bodies, X-Pagination, X-Ratelimit-* and Retry-After, and
DELETE's silent 204. See docs/sandbox.md.
"""

from .app import SimulatedConnectionDrop, create_app
from .server import SandboxServer, parse_rate_limit, running_sandbox, serve_forever
from .store import CREATE_TYPES, RESOURCE_TYPES, SandboxStore, load_seed

__all__ = [
    "CREATE_TYPES",
    "RESOURCE_TYPES",
    "SandboxServer",
    "SandboxStore",
    "SimulatedConnectionDrop",
    "create_app",
    "load_seed",
    "parse_rate_limit",
    "running_sandbox",
    "serve_forever",
]
