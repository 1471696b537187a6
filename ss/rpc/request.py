"""``self.request`` in an action: what is known about the caller's transport."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

__all__ = ["RequestInfo"]


@dataclass(slots=True)
class RequestInfo:
    """``self.request`` in an action: what is known about the caller's transport."""

    transport: str
    remote_ip: str | None
    headers: Mapping[str, str] | None = None
    secure: bool = False

    @property
    def user_agent(self) -> str:
        return (self.headers or {}).get("User-Agent", "")
