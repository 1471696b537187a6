"""The open connections of this process, indexed so nothing scans them all on a login or channel change.

:class:`Connections` counts connections per client address
(``limits.max_connections_per_ip``), finds a connection by its id
(``ss.publish.socket``, ``exclude=``) and a session's connections by the
session id (other tabs of one browser follow a channel change or a sign-out),
and hands out connection ids that are unique across instances.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import secrets
from typing import Any, Iterator

from .. import metrics

__all__ = ["Connections", "HandshakeGate"]


class HandshakeGate:
    """Lets at most ``per_turn`` new clients through per event-loop turn; the others wait their turn, in order.

    After a deploy every tab reconnects within a second or two. Each handshake's
    work after its session arrives (the 101, the init message, joining topics,
    recovery) is about a millisecond, and a session batch hands back a hundred at
    once: one loop turn of those is 100 ms during which the calls of clients
    already connected wait. Through the gate a turn does at most ``per_turn`` of
    them, so other clients' calls get a turn every few milliseconds; the storm
    itself takes about as long (the work is the same, spread over more turns).
    When nothing waits, a handshake passes without awaiting anything.
    """

    #: handshakes per loop turn: ~1 ms each, so a turn stays around 10-20 ms in a storm
    PER_TURN = 16

    __slots__ = ("per_turn", "_used", "_waiting", "_turn_scheduled")

    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._used = 0
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._turn_scheduled = False

    def admit(self) -> asyncio.Future | None:
        """None: go on now. Otherwise a future to await: it resolves on a later turn."""
        if self._used < self.per_turn and not self._waiting:
            self._used += 1
            self._schedule_turn()
            return None
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._schedule_turn()
        return future

    def _schedule_turn(self) -> None:
        if not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        self._used = 0
        waiting = self._waiting
        while waiting and self._used < self.per_turn:
            future = waiting.popleft()
            if not future.done():  # its handshake was abandoned (client gone, cancelled)
                future.set_result(None)
                self._used += 1
        if waiting or self._used:
            self._schedule_turn()


class Connections:
    """The set of open connections of one app, with indexes by address and by session id."""

    def __init__(self) -> None:
        self._all: dict[str, Any] = {}  # connection id -> connection
        self._per_ip: dict[str, int] = {}
        # session id -> its connection, or a set of them when a browser has several tabs here
        # (one connection per session is the rule: no set per idle socket).
        self._by_session: dict[str, Any] = {}
        # Connection ids: this instance's random prefix and a counter, so ids never repeat across
        # instances or restarts, and say nothing about the session.
        # (token_urlsafe has no "."; ss.protocol.bus.instance_of splits there.)
        self.instance = secrets.token_urlsafe(6)
        self._counter = itertools.count(1)
        self.gate = HandshakeGate()  # new clients per loop turn (reconnect storms)

    def new_id(self) -> str:
        return f"{self.instance}.{next(self._counter):x}"

    def get(self, connection_id: str) -> Any:
        """The open connection of this process with that id, or None."""
        return self._all.get(connection_id)

    def add(self, connection: Any) -> None:
        self._all[connection.id] = connection
        ip = connection.request.remote_ip or "?"
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        self._index(connection, connection.session.id)
        metrics.connection_opened(connection.transport.name)

    def _index(self, connection: Any, session_id: str) -> None:
        present = self._by_session.get(session_id)
        if present is None:
            self._by_session[session_id] = connection
        elif type(present) is set:
            present.add(connection)
        elif present is not connection:
            self._by_session[session_id] = {present, connection}

    def remove(self, connection: Any) -> bool:
        """Forget ``connection``; False when it was not registered (closed twice, or never opened)."""
        if connection not in self:
            return False
        del self._all[connection.id]
        ip = connection.request.remote_ip or "?"
        if self._per_ip.get(ip, 0) > 1:
            self._per_ip[ip] -= 1
        else:
            self._per_ip.pop(ip, None)
        self._unindex(connection, connection.session.id)
        metrics.connection_closed(connection.transport.name, getattr(connection, "close_reason", None) or "client")
        return True

    def _unindex(self, connection: Any, session_id: str) -> None:
        present = self._by_session.get(session_id)
        if present is connection:
            del self._by_session[session_id]
        elif type(present) is set:
            present.discard(connection)
            if len(present) == 1:
                self._by_session[session_id] = next(iter(present))
            elif not present:
                del self._by_session[session_id]

    def count_from(self, ip: str | None) -> int:
        """Open connections from this client address."""
        return self._per_ip.get(ip or "?", 0)

    @property
    def per_ip(self) -> dict[str, int]:
        """Open connections per client address (a copy)."""
        return dict(self._per_ip)

    def of_session(self, session_id: str) -> list[Any]:
        """The open connections whose session has this id (tabs of one browser), in no order."""
        present = self._by_session.get(session_id)
        if present is None:
            return []
        return list(present) if type(present) is set else [present]

    def session_renamed(self, connection: Any, old_id: str) -> None:
        """``connection``'s session got a new id (sign-in): index it under the new one."""
        if connection in self:
            self._unindex(connection, old_id)
            self._index(connection, connection.session.id)

    def __contains__(self, connection: Any) -> bool:
        return self._all.get(connection.id) is connection

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._all.values()))

    def __len__(self) -> int:
        return len(self._all)

    def __bool__(self) -> bool:
        return bool(self._all)
