"""Which web pages may open a socket with the visitor's cookie (against cross-site WebSocket hijacking)."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(origin: str, request, config) -> bool:
    """True when ``origin`` is this server's own origin or listed in ``security.allowed_origins``.

    Browsers always send Origin on a WebSocket upgrade; a page on another site
    carrying the victim's cookie is refused with 403.
    """
    allowed = config.security.allowed_origins
    if origin in allowed or "*" in allowed:
        return True
    parts = urlsplit(origin)
    host = request.headers.get("Host", "")
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()
