"""The session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, lasting as long as the session."""

from __future__ import annotations

from typing import Any

__all__ = ["set_session_cookie"]


def set_session_cookie(handler: Any, session_id: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS."""
    config = handler.app.config
    handler.set_cookie(
        config.session.cookie_name,
        session_id,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=handler.request.protocol == "https",
        expires_days=config.session.ttl / 86400,
    )
