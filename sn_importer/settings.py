"""Where to find Katana and with which key.

The base URL comes from the argument, else ``KATANA_BASE_URL``, else the
production URL; the key from the argument, else ``KATANA_API_KEY``, else a
``.env`` file in the current directory (read with python-dotenv without
touching ``os.environ``, as the official client does). A missing key is
``None``: the caller decides whether that is an error (``validate`` never
needs one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import httpx
from dotenv import dotenv_values

from .errors import UsageError

DEFAULT_BASE_URL = "https://api.katanamrp.com/v1"
DEFAULT_QUOTA_SHARE = 0.8


@dataclass(frozen=True)
class Connection:
    base_url: str
    api_key: str | None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return f"Connection(base_url={self.base_url!r}, api_key=<{key}>)"

    __str__ = __repr__


def resolve_connection(
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = None,
) -> Connection:
    """Pick the base URL and key: arguments, then the environment, then ``.env``."""
    env = os.environ if env is None else env
    dotenv = _dotenv(dotenv_path)

    def first(*values: str | None) -> str | None:
        return next((v.strip() for v in values if v and v.strip()), None)

    url = first(base_url, env.get("KATANA_BASE_URL"), dotenv.get("KATANA_BASE_URL")) or DEFAULT_BASE_URL
    key = first(api_key, env.get("KATANA_API_KEY"), dotenv.get("KATANA_API_KEY"))
    return Connection(base_url=check_base_url(url), api_key=key)


def _dotenv(dotenv_path: str | Path | None) -> dict[str, str]:
    path = Path(dotenv_path) if dotenv_path is not None else Path.cwd() / ".env"
    return {k: v for k, v in dotenv_values(path).items() if v} if path.is_file() else {}


def resolve_quota_share(share: str | float | None = None, env: Mapping[str, str] | None = None,
                        dotenv_path: str | Path | None = None) -> float:
    """The share of the tenant's window a run may use: the argument, else
    ``KATANA_QUOTA_SHARE`` (environment, then ``.env``), else 80 %.

    The rest of the window is left to the tenant's other integrations. A
    fraction (``0.5``) or a percentage (``50%``); anything else is a usage error.
    """
    env = os.environ if env is None else env
    for source, value in (("--quota-share", share), ("KATANA_QUOTA_SHARE", env.get("KATANA_QUOTA_SHARE")),
                          ("KATANA_QUOTA_SHARE in .env", _dotenv(dotenv_path).get("KATANA_QUOTA_SHARE"))):
        if value is not None and str(value).strip():
            return parse_share(value, source)
    return DEFAULT_QUOTA_SHARE


def parse_share(value: str | float, source: str = "--quota-share") -> float:
    """``0.8``, ``"0.8"`` or ``"80%"`` → 0.8; a share must be above 0 and at most 1."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:  # also refuses nan
        raise UsageError(f"{source} {text!r} is not a share of the quota: give a fraction above 0 and at most 1 "
                         "(e.g. 0.8) or a percentage (e.g. 80%)")
    return share


def check_base_url(url: str) -> str:
    """Refuse a base URL that cannot be Katana's before any request is tried."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UsageError(f"the base URL {url!r} is not a URL ({exc}); e.g. {DEFAULT_BASE_URL}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"the base URL {url!r} needs http:// or https:// and a host; e.g. {DEFAULT_BASE_URL}")
    return url.rstrip("/")
