"""Helpers for the pub/sub tests (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio

from tests.processes import ServerProcess as SharedServerProcess
from tests.waiting import eventually  # noqa: F401  (the one waiting helper; imported from here by the pub/sub tests)


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
