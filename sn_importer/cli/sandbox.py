"""``sn-importer sandbox``: serve the simulated Katana API on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import friendly


@friendly
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    seed: Annotated[Optional[Path], typer.Option(help="JSON array of SerialNumber records, or {\"data\": [...]}.")] = None,
    api_key: Annotated[str, typer.Option("--api-key", help="The one bearer key accepted.")] = "sandbox",
    rate_limit: Annotated[str, typer.Option("--rate-limit", help="Quota as N/SECONDS.")] = "60/60",
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Share of API requests that answer 500 or drop the connection.")] = 0.0,
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Added latency per request.")] = 0,
) -> None:
    """Run the built-in simulated Katana API on loopback."""
    from ..sandbox import parse_rate_limit, serve_forever

    try:  # a bad quota, fail rate or latency is a usage error
        serve_forever(host=host, port=port, seed=seed, api_key=api_key, rate_limit=parse_rate_limit(rate_limit),
                      fail_rate=fail_rate, latency_ms=latency_ms)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
