"""The address ``sn-importer serve`` tells people to open.

Listening on every interface (``0.0.0.0`` or ``::``) is how the page is
shared on an office network, but ``http://0.0.0.0:8000/`` is no address a
colleague can open. So the server names what others can reach: this
computer's network address and name, and the loopback address for itself.
"""

from __future__ import annotations

import ipaddress
import socket

ANY = {"0.0.0.0", "::", "[::]", ""}


def url(host: str, port: int, scheme: str = "http", path: str = "") -> str:
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/{path}"


def open_urls(host: str, port: int, scheme: str = "http", path: str = "") -> list[str]:
    """The addresses to open, best first: the bound one, or for "every interface" what others reach."""
    if host not in ANY:
        return [url(host, port, scheme, path)]
    found = [url(a, port, scheme, path) for a in _network_addresses(ipv6=":" in host)]
    name = socket.gethostname()
    if name and name != "localhost":
        found.append(url(name, port, scheme, path))
    found.append(url("127.0.0.1", port, scheme, path))
    return list(dict.fromkeys(found))


def _network_addresses(ipv6: bool) -> list[str]:
    """This computer's address on the network its default route leads to.

    A UDP socket "connected" to a documentation address sends nothing; it only
    makes the system choose the interface it would use.
    """
    found = []
    probes = [(socket.AF_INET, "192.0.2.1")] + ([(socket.AF_INET6, "2001:db8::1")] if ipv6 else [])
    for family, probe in probes:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = sock.getsockname()[0]
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback and not ipaddress.ip_address(address).is_unspecified:
            found.append(address)
    return found


def announce(host: str, port: int, scheme: str = "http", path: str = "") -> str:
    """One line: where to open the page (``path``: the one-time login link's, which logs in once)."""
    urls = open_urls(host, port, scheme, path)
    if path.startswith("login?token="):
        return f"open {urls[-1]} in a browser (the link logs one browser in, once)"
    if len(urls) == 1:
        return f"open {urls[0]} in a browser"
    others, local = urls[:-1], urls[-1]
    return f"open {' or '.join(others)} in a browser ({local} on this computer)"
