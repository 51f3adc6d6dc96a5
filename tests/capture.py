"""A capture server on loopback: answers every request with a 401 and records what came.

Where a key must never go, a test points sn-importer's would-be target at one
of these and asserts afterwards that nothing (or no key) reached it. It is a
real HTTP server on a free port (``http.server`` on a thread), not a patched
client.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@dataclass
class Captured:
    """What reached the server: one (method, path, headers) per request."""

    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def saw(self, text: str) -> bool:
        """Whether ``text`` reached the server anywhere (path or any header)."""
        return any(text in path or any(text in v for v in headers.values()) for _, path, headers in self.requests)


@contextmanager
def capture_server() -> Iterator[Captured]:
    captured = Captured(url="")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            captured.requests.append((self.command, self.path, dict(self.headers.items())))
            body = b'{"statusCode":401,"name":"UnauthorizedError","message":"Unauthorized"}'
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _record

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    captured.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield captured
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
