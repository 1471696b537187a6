"""Running calls: the API tree loaded from app/server, the dispatcher, retried calls, rate limits."""

from .dispatcher import CallError, Dispatcher

__all__ = ["CallError", "Dispatcher"]
