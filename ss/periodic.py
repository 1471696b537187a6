"""Background work repeated every N seconds (presence refresh, users-online purge).

A failing round is logged and the next one runs as planned, so a store that
is down for a moment costs one warning per round, not the task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger("ss")


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
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
