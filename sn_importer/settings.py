"""Where to find Katana and with which key: the key goes to Katana and nowhere else.

The base URL comes from the argument, else ``KATANA_BASE_URL`` in the
environment, else the operator's env file, else the production URL. The key
comes from the argument, else ``KATANA_API_KEY``, else the env file. A
missing key is ``None``: the caller decides whether that is an error
(``validate`` never needs one).

The env file is read from one fixed place the operator chose, never from the
current folder (a ``.env`` in a shared folder could otherwise send the key
to a host of someone else's choosing): ``--env-file PATH``, else
``.env`` in the user's config folder (``~/.config/sn-importer/.env`` on
Linux). It must be a regular file of this user that nobody else can write;
anything else is refused with one line. It is read with python-dotenv
without touching ``os.environ``.

Plain ``http://`` is taken only for a Katana on this computer (a loopback
host) and only when given explicitly (argument or environment, never from a
file): over any network the key would cross it in clear.
"""

from __future__ import annotations

import io
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import UsageError
from .filesafety import operator_file_problem
from .katana.window import DEFAULT_SHARE

DEFAULT_BASE_URL = "https://api.katanamrp.com/v1"


def default_state_dir() -> Path:
    """Where the journal, the shared quota and the reports nothing else took are kept:
    ``SN_IMPORTER_STATE_DIR``, else the user's state directory."""
    env = os.environ.get("SN_IMPORTER_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs  # here, not at the top: a check that never needs the folder does not load it

    return Path(platformdirs.user_state_dir("sn-importer"))

#: The env file's name in the user's config folder.
ENV_FILE_NAME = ".env"
#: An env file holds a few settings; anything larger is not one.
ENV_FILE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Connection:
    base_url: str
    api_key: str | None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return f"Connection(base_url={self.base_url!r}, api_key=<{key}>)"

    __str__ = __repr__


def default_env_file() -> Path:
    """``.env`` in the user's config folder (``~/.config/sn-importer/.env`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("sn-importer")) / ENV_FILE_NAME


def resolve_connection(
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    env_file: str | Path | None = None,
) -> Connection:
    """Pick the base URL and key: arguments, then the environment, then the env file.

    ``env_file`` is the operator's choice (``--env-file``): it must exist. Without
    it the user's config folder is looked in; a missing file there is no error.
    """
    env = os.environ if env is None else env
    file = read_env_file(env_file)
    url, source, explicit = _first((base_url, "--base-url", True), (env.get("KATANA_BASE_URL"), "KATANA_BASE_URL", True),
                                   (file.get("KATANA_BASE_URL"), f"KATANA_BASE_URL in {file_name(env_file)}", False))
    key, _, _ = _first((api_key, "", True), (env.get("KATANA_API_KEY"), "", True), (file.get("KATANA_API_KEY"), "", False))
    url = check_base_url(url or DEFAULT_BASE_URL, explicit=explicit, source=source)
    return Connection(base_url=url, api_key=key)


def _first(*candidates: tuple[str | None, str, bool]) -> tuple[str | None, str | None, bool]:
    """The first non-blank value (stripped), where it came from, and whether it was given explicitly."""
    for value, source, explicit in candidates:
        if value and value.strip():
            return value.strip(), source, explicit
    return None, None, True


def file_name(env_file: str | Path | None) -> str:
    """How messages name the env file in force."""
    return str(env_file) if env_file is not None else str(default_env_file())


def read_env_file(env_file: str | Path | None = None) -> dict[str, str]:
    """The settings of the operator's env file ({} when the default one does not exist).

    Refused (:class:`UsageError`, one line) when it is not a regular file, is
    not this user's, or others can write it: whoever can change it could send
    the key elsewhere.
    """
    path = Path(env_file) if env_file is not None else default_env_file()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if env_file is not None:
            raise UsageError(f"--env-file {path}: no such file") from None
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read the env file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        check_operator_file(path, os.fstat(handle.fileno()))
        text = handle.read(ENV_FILE_LIMIT + 1)
    if len(text) > ENV_FILE_LIMIT:
        raise UsageError(f"the env file {path} is larger than {ENV_FILE_LIMIT // 1024} KB; it is not an env file")
    from dotenv import dotenv_values  # here: only a run that reads an env file loads the parser

    values = dotenv_values(stream=io.StringIO(text.decode("utf-8", errors="replace")))
    return {k: v for k, v in values.items() if v}


def check_operator_file(path: Path, info: os.stat_result, what: str = "env file") -> None:
    """Refuse (one line) a file others could have written: the key would go where they say."""
    problem = operator_file_problem(info)
    if problem is not None:
        raise UsageError(f"the {what} {path} {problem}; refusing to read it"
                         + (f": chmod 600 {path}" if "written by others" in problem else ""))


def resolve_quota_share(share: str | float | None = None, env: Mapping[str, str] | None = None,
                        env_file: str | Path | None = None) -> float:
    """The share of the tenant's window a run may use: the argument, else
    ``KATANA_QUOTA_SHARE`` (environment, then the env file), else 80 %.

    The rest of the window is left to the tenant's other integrations. A
    fraction (``0.5``) or a percentage (``50%``); anything else is a usage error.
    """
    env = os.environ if env is None else env
    for source, value in (("--quota-share", share), ("KATANA_QUOTA_SHARE", env.get("KATANA_QUOTA_SHARE")),
                          (f"KATANA_QUOTA_SHARE in {file_name(env_file)}",
                           read_env_file(env_file).get("KATANA_QUOTA_SHARE"))):
        if value is not None and str(value).strip():
            return parse_share(value, source)
    return DEFAULT_SHARE


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


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` and ``::1``: this computer, whatever the network does."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, explicit: bool = True, source: str | None = None) -> str:
    """Refuse a base URL that cannot be Katana's, or that would carry the key in clear,
    before any request is tried. ``explicit``: given as an argument or in the environment."""
    try:
        import httpx  # loaded only where a URL is checked: validate never needs it

        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UsageError(f"the base URL {url!r} is not a URL ({exc}); e.g. {DEFAULT_BASE_URL}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"the base URL {url!r} needs http:// or https:// and a host; e.g. {DEFAULT_BASE_URL}")
    if parsed.scheme == "http" and not (explicit and is_loopback(parsed.host)):
        where = f" ({source})" if source else ""
        raise UsageError(f"the base URL {url}{where} is plain http: the key would cross the network in clear. "
                         "Use https://; http:// is taken only for a Katana on this computer (127.0.0.1, ::1, "
                         "localhost), given with --base-url or KATANA_BASE_URL")
    return url.rstrip("/")


def describe_target(base_url: str, sandbox: bool = False) -> str:
    """The line said before anything is sent: ``Katana: api.katanamrp.com (https)``."""
    import httpx

    parsed = httpx.URL(base_url)
    host = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return f"Katana: {'the built-in sandbox on ' if sandbox else ''}{host} ({parsed.scheme})"


def base_url_words(base_url: str | None, sandbox: bool | str = False) -> str:
    """The Summary's "Base URL": the URL of a real Katana, or "built-in sandbox" for the simulated
    one (its loopback URL means nothing to a reader, and is gone when it ends). ``sandbox`` is True
    for a sandbox started for the run, or says who started it ("with the page's server")."""
    if sandbox:
        return f"built-in sandbox (started {'for this run' if sandbox is True else sandbox})"
    return base_url or "(not contacted)"


def target_facts(base_url: str | None) -> dict | None:
    """The target for ``--json``: host (with a port when one is given) and scheme."""
    if not base_url:
        return None
    import httpx

    parsed = httpx.URL(base_url)
    return {"host": f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host, "scheme": parsed.scheme}
