"""Background work repeated every N seconds (presence refresh, users-online purge).

A failing round is logged and the next one runs as planned, so a store that
is down for a moment costs one warning per round, not the task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger("ss")


async def cancel_and_wait(task: asyncio.Task, retry: float = 0.1) -> None:
    """Cancel ``task`` and wait until it has finished.

    One ``cancel()`` is not always enough: on Python 3.11, ``asyncio.wait_for``
    swallows a cancellation that arrives in the loop turn in which what it waits
    for completes (it returns the result instead; fixed in 3.12), so a loop
    around it (a redis-py command, a read) carries on as if nothing happened,
    and awaiting the task would wait forever. The cancellation is repeated
    until the task is done.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=retry)
    if not task.cancelled():
        task.exception()  # retrieved: the caller only wants it stopped


class Periodic:
    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[object]]):
        self.name = name
        self.interval = interval
        self.work = work
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start on the running loop (once; nothing happens for an interval of 0)."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._forever(), name=f"ss-{self.name}")

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.work()
            except Exception as exc:
                log.warning("%s failed: %s (trying again in %gs)", self.name, exc, self.interval)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
