"""Running calls: the API tree loaded from app/server, the dispatcher, retried calls, rate limits.

``Dispatcher`` and ``CallError`` are imported on first use, so ``import ss`` (which needs
only ``ss.rpc.actions``) does not load the store's client libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CallError", "Dispatcher"]


def __getattr__(name: str) -> Any:
    if name == "Dispatcher":
        from .dispatcher import Dispatcher

        return Dispatcher
    if name == "CallError":
        from ..errors import CallError

        return CallError
    raise AttributeError(f"module 'ss.rpc' has no attribute {name!r}")
