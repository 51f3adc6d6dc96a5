"""Serving the sandbox over real HTTP.

:func:`running_sandbox` starts it in-process on a free loopback port (a daemon
thread running uvicorn) for ``--sandbox`` runs and end-to-end tests;
:func:`serve` runs it in the foreground for ``sn-importer sandbox``.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import uvicorn
from starlette.requests import ClientDisconnect

from .app import SimulatedConnectionDrop, create_app
from .store import SandboxStore, Seed, load_seed

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d*)?|\.\d+)\s*$")


def parse_rate_limit(text: str) -> tuple[int, float]:
    """``"20/1"`` → ``(20, 1.0)``: N requests per SECONDS. ValueError if malformed."""
    match = _RATE.match(text or "")
    if not match:
        raise ValueError(f"rate limit {text!r} is not N/SECONDS, e.g. 60/60")
    limit, seconds = int(match[1]), float(match[2])
    if limit < 1 or seconds <= 0:
        raise ValueError(f"rate limit {text!r} needs at least 1 request per a positive number of seconds")
    return limit, seconds


class _QuietDrops(logging.Filter):
    """Simulated connection drops are the sandbox working, and a client that went away mid-request
    (killed, timed out) is a client's life: neither is an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], (SimulatedConnectionDrop, ClientDisconnect)))


def _quiet_uvicorn() -> None:
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in error_log.filters):
        error_log.addFilter(_QuietDrops())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """A sandbox app served by uvicorn in a daemon thread; ``port=0`` picks a free port."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0):
        self.app = app
        self.host = host
        self._socket = _bind(host, port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, date_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True, name="sn-sandbox")
        self._startup_timeout = startup_timeout

    @property
    def store(self) -> SandboxStore:
        return self.app.state.store

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def start(self) -> "SandboxServer":
        _quiet_uvicorn()
        self._thread.start()
        self._thread.join(0)  # give the thread its first slice
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited > self._startup_timeout:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {self.base_url}")
            self._thread.join(0.01)
            waited += 0.01
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()

    def __repr__(self) -> str:
        return f"SandboxServer(base_url={self.base_url!r})"


@contextmanager
def running_sandbox(
    records: list[dict] | Seed | None = None,
    seed_path: str | Path | None = None,
    api_key: str = "sandbox",
    host: str = "127.0.0.1",
    port: int = 0,
    rate_limit: tuple[int, float] = (60, 60.0),
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    random_seed: int = 0,
) -> Iterator[SandboxServer]:
    """Serve a sandbox for the ``with`` block. ``records`` wins over ``seed_path``;
    with neither, the samples' dataset is served."""
    if records is None:
        records = load_seed(seed_path)
    app = create_app(records, api_key=api_key, rate_limit=rate_limit, fail_rate=fail_rate, latency_ms=latency_ms, random_seed=random_seed)
    server = SandboxServer(app, host=host, port=port).start()
    try:
        yield server
    finally:
        server.stop()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: str | Path | None = None,
    api_key: str = "sandbox",
    rate_limit: tuple[int, float] = (60, 60.0),
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    announce=print,
) -> None:
    """Run the sandbox in the foreground until Ctrl+C."""
    records = load_seed(seed)
    app = create_app(records, api_key=api_key, rate_limit=rate_limit, fail_rate=fail_rate, latency_ms=latency_ms)
    sock = _bind(host, port)  # bound here so the banner shows the real port when port is 0
    display = f"[{host}]" if ":" in host else host
    orders = sum(records.orders.counts().values())
    announce(
        f"Katana sandbox on http://{display}:{sock.getsockname()[1]}/v1 with {len(records)} serial-number records"
        f"{f' and {orders} orders, rows and variants' if orders else ''}; "
        f"key {api_key!r}, {rate_limit[0]} requests per {rate_limit[1]:g} s. Ctrl+C stops it."
    )
    _quiet_uvicorn()
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                      date_header=False)).run(sockets=[sock])
    finally:
        sock.close()
