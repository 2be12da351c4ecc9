"""Which push services the backend may POST to (`WEB_PUSH_ALLOWED_HOSTS`).

A Web Push endpoint is a URL the browser hands us; without a rule a signed-in user could make
the backend POST to internal addresses (169.254.169.254, 10.x, localhost). An endpoint is
allowed only when its host is one of the configured entries or a subdomain of one (an entry
`*.push.apple.com` or `.push.apple.com` means the same as `push.apple.com`). IP literals and
`localhost` match only an entry that names them exactly (tests list their local fake). The
authority is read by a strict pattern of our own (no userinfo, no backslash, no percent
escapes), so no URL parser can see a different host than the one checked here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

_ENDPOINT = re.compile(
    r"https://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::[0-9]{1,5})?/[^\s\\]*",
    re.ASCII,
)


def normalize_entry(entry: str) -> str:
    """An entry as compared: lower case, without a leading `*.`/`.` or a trailing dot."""
    value = entry.strip().lower().rstrip(".")
    if value.startswith("*."):
        value = value[2:]
    return value.lstrip(".")


def endpoint_host(endpoint: str) -> str | None:
    """The lower-case host of an https endpoint (IPv6 without brackets), or None when the URL
    is not of the plain `https://host[:port]/path` form."""
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        return None
    return match["host"].lower().strip("[]").rstrip(".")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(endpoint: str, allowed: Iterable[str]) -> str | None:
    """Why `endpoint` may not be posted to, or None when it may."""
    host = endpoint_host(endpoint)
    if host is None:
        return "the push endpoint must be https://host/path (no user, no escapes)"
    entries = [e for e in (normalize_entry(a) for a in allowed) if e]
    address = _ip(host)
    if address is not None:
        if any(_ip(e) == address for e in entries):
            return None
        return f"push endpoint host {host} is an IP address, not a push service"
    if host == "localhost" or host.endswith(".localhost"):
        return None if host in entries else f"push endpoint host {host} is not a push service"
    for entry in entries:
        if _ip(entry) is None and (host == entry or host.endswith("." + entry)):
            return None
    return f"push endpoint host {host} is not an allowed push service (WEB_PUSH_ALLOWED_HOSTS)"
