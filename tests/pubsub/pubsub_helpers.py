"""Helpers for the pub/sub tests (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import ServerProcess as SharedServerProcess


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Await ``check()`` until it returns something truthy; return it (or fail with the last value)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")


async def no_event(client, timeout: float = 0.3) -> None:
    """Assert that nothing arrives on ``client`` within ``timeout``."""
    try:
        message = await client.next_event(timeout=timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected event {message!r}")


class ServerProcess(SharedServerProcess):
    """The shared server-process helper, in the test environment unless ``env`` says otherwise."""

    def __init__(self, root, env: dict | None = None):
        super().__init__(root, {"SS_ENV": "test", **(env or {})})
