"""Remembers recent calls per browser tab so a retried call runs at most once.

After a reconnect the client re-sends every call it has no reply for, with the
same id. The first arrival runs the action; a repeat gets the same reply frame
(waiting for it if the action is still running). The table is bounded: the
last ``per_tab`` calls of each tab, for tabs seen within ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

Key = tuple[str, str]  # (session id, tab id)


class RecentCalls:
    def __init__(self, per_tab: int = 256, ttl: float = 300.0, max_tabs: int = 50000):
        self.per_tab = per_tab
        self.ttl = ttl
        self.max_tabs = max_tabs
        self._tabs: OrderedDict[Key, tuple[float, OrderedDict]] = OrderedDict()

    def get(self, key: Key, call_id) -> asyncio.Future | None:
        """The future of an earlier call with this id from this tab, if remembered."""
        entry = self._tabs.get(key)
        return entry[1].get(call_id) if entry is not None else None

    def remember(self, key: Key, call_id, future: asyncio.Future) -> None:
        now = time.monotonic()
        entry = self._tabs.pop(key, None)
        calls = entry[1] if entry is not None else OrderedDict()
        self._tabs[key] = (now, calls)  # most recently used last
        calls[call_id] = future
        while len(calls) > self.per_tab:
            calls.popitem(last=False)
        self._expire(now)

    def forget(self, key: Key, call_id) -> None:
        entry = self._tabs.get(key)
        if entry is not None:
            entry[1].pop(call_id, None)

    def _expire(self, now: float) -> None:
        while self._tabs:
            key, (stamp, _) = next(iter(self._tabs.items()))
            if now - stamp < self.ttl and len(self._tabs) <= self.max_tabs:
                break
            del self._tabs[key]

    def __len__(self) -> int:
        return len(self._tabs)
