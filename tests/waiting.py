"""Waiting for a condition, the one way the tests do it.

``await eventually(check)`` in async tests and ``wait_until(check)`` in sync code call ``check``
every ``interval`` seconds until it returns something truthy, and return that value. When
``timeout`` passes first they fail with an AssertionError naming what was awaited (``what``, or
the source of ``check``) and the last value seen. ``check`` may raise to fail at once (a process
that exited, say). Timeouts are generous: a busy machine is slow, not wrong.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Callable

DEFAULT_TIMEOUT = 30.0
DEFAULT_INTERVAL = 0.05


def describe(check: Callable[[], Any], what: str | Callable[[], str] | None = None) -> str:
    """What a check waits for: ``what`` (a string, or a callable giving one), else the check's source."""
    if what is not None:
        return what() if callable(what) else what
    name = getattr(check, "__qualname__", "")
    if name and "<lambda>" not in name:
        return name
    try:
        return " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return repr(check)


def _failure(check, what, timeout: float, value: Any) -> AssertionError:
    return AssertionError(f"not within {timeout}s: {describe(check, what)} (last value {value!r})")


async def eventually(check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, interval: float = DEFAULT_INTERVAL,
                     what: str | Callable[[], str] | None = None) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(check, what, timeout, value)
        await asyncio.sleep(interval)


def wait_until(check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, interval: float = DEFAULT_INTERVAL,
               what: str | Callable[[], str] | None = None,
               retry_on: tuple[type[BaseException], ...] = ()) -> Any:
    """Call ``check()`` until it returns something truthy; return that value (blocking: for sync code).

    ``retry_on``: exceptions that mean "not yet" (a server still starting) rather than a failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except retry_on as exc:
            value = exc
            if time.monotonic() >= deadline:
                raise _failure(check, what, timeout, value) from exc
            time.sleep(interval)
            continue
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(check, what, timeout, value)
        time.sleep(interval)
