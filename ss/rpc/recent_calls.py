"""Remembers recent calls per browser tab so a call retried after a reconnect runs at most once.

After a reconnect the client re-sends every call it has no reply for, with the
same id: the calls still running when the connection dropped, and those whose
reply was lost on the way. The first arrival runs the action; a repeat gets the
first run's reply (waiting for it while the action still runs).

The client picks its tab id and can open tabs at will, so the table is bounded
by what it costs, not by what clients ask:

- bytes, process-wide (``limits.replay_cache_bytes``): the least recently
  used tabs are forgotten first;
- only small replies (``limits.replay_max_reply_bytes``): a retry of a call
  with a bigger reply runs it again;
- per tab, every call still running plus the last ``per_tab`` answered ones
  (a reconnect can only ask for calls whose reply it did not get, which are
  the latest ones);
- per session, ``limits.max_tabs_per_session`` tabs;
- ``ttl`` seconds after a tab's last call.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from typing import Any

__all__ = ["RecentCalls"]

Key = tuple[str, str]  # (session id, tab id)

ENTRY_OVERHEAD = 200  # bytes an entry costs besides its reply (dict slot, future, id), for the byte budget


class _Tab:
    __slots__ = ("calls", "answered", "stamp", "size")

    def __init__(self, now: float) -> None:
        self.calls: dict[Any, asyncio.Future[bytes] | bytes] = {}
        self.answered: deque[tuple[Any, int]] = deque()  # (call id, bytes counted), oldest first
        self.stamp = now
        self.size = 0           # bytes counted for this tab


class RecentCalls:
    """``get(key, call_id)``, ``remember(key, call_id, future)``, ``answered(key, call_id, reply)``."""

    def __init__(self, max_bytes: int = 2 << 20, max_reply: int = 16 << 10, per_tab: int = 32,
                 tabs_per_session: int = 16, ttl: float = 120.0):
        self.max_bytes = max_bytes
        self.max_reply = max_reply
        self.per_tab = per_tab
        self.tabs_per_session = tabs_per_session
        self.ttl = ttl
        self.bytes = 0
        self._tabs: OrderedDict[Key, _Tab] = OrderedDict()           # least recently used first
        self._sessions: dict[str, OrderedDict[str, None]] = {}      # session id -> its tabs, oldest first
        self._next_expiry = 0.0  # tabs past their ttl are looked for at most once a second

    def get(self, key: Key, call_id: Any) -> asyncio.Future[bytes] | bytes | None:
        """An earlier call with this id from this tab, if remembered: its future, or its reply when it was given
        at once."""
        tab = self._tabs.get(key)
        return tab.calls.get(call_id) if tab is not None else None

    def remember(self, key: Key, call_id: Any, call: asyncio.Future[bytes] | bytes) -> None:
        """Keep the call: its future (:meth:`answered`, or this if done, counts its reply), or the reply itself
        when the call finished as it started (no future needed: most calls)."""
        now = time.monotonic()
        tab = self._tabs.get(key)
        if tab is None:
            tab = self._new_tab(key, now)
        else:
            tab.stamp = now
            self._tabs.move_to_end(key)
        tab.calls[call_id] = call
        if type(call) is bytes:
            self._account(key, tab, call_id, len(call))
        elif call.done():  # type: ignore[union-attr]
            self._count(key, tab, call_id, call)  # type: ignore[arg-type]
        if now >= self._next_expiry:
            self._next_expiry = now + 1.0
            self._expire(now)

    def answered(self, key: Key, call_id: Any, reply: bytes) -> None:
        """The call's reply is ``reply``: count it, or forget the call when the reply is too big to keep."""
        tab = self._tabs.get(key)
        if tab is None or call_id not in tab.calls:
            return  # not remembered yet (a call answered inline is counted by remember) or forgotten
        self._account(key, tab, call_id, len(reply))

    def _count(self, key: Key, tab: _Tab, call_id: Any, future: asyncio.Future[bytes]) -> None:
        try:
            reply = future.result()
        except BaseException:  # noqa: B036 - cancelled or failed: nothing to replay
            tab.calls.pop(call_id, None)
            return
        self._account(key, tab, call_id, len(reply) if isinstance(reply, (bytes, bytearray)) else 0)

    def _account(self, key: Key, tab: _Tab, call_id: Any, size: int) -> None:
        if size > self.max_reply:
            tab.calls.pop(call_id, None)  # too big to keep: a retry runs the action again
            return
        size += ENTRY_OVERHEAD
        tab.size += size
        tab.answered.append((call_id, size))
        self.bytes += size
        if len(tab.answered) > self.per_tab:
            old_id, old_size = tab.answered.popleft()
            tab.calls.pop(old_id, None)
            tab.size -= old_size
            self.bytes -= old_size
        if self.bytes > self.max_bytes:
            while self.bytes > self.max_bytes and self._tabs:
                self._forget_tab(next(iter(self._tabs)))

    def _new_tab(self, key: Key, now: float) -> _Tab:
        session_id, tab_id = key
        tabs = self._sessions.setdefault(session_id, OrderedDict())
        while len(tabs) >= self.tabs_per_session:
            self._forget_tab((session_id, next(iter(tabs))))
            tabs = self._sessions.setdefault(session_id, OrderedDict())
        tabs[tab_id] = None
        tab = self._tabs[key] = _Tab(now)
        return tab

    def _forget_tab(self, key: Key) -> None:
        tab = self._tabs.pop(key, None)
        if tab is None:
            return
        self.bytes -= tab.size
        tabs = self._sessions.get(key[0])
        if tabs is not None:
            tabs.pop(key[1], None)
            if not tabs:
                del self._sessions[key[0]]

    def _expire(self, now: float) -> None:
        while self._tabs:
            key, tab = next(iter(self._tabs.items()))
            if now - tab.stamp < self.ttl:
                break
            self._forget_tab(key)

    def __len__(self) -> int:
        return len(self._tabs)
