"""Sessions: who is calling, saved in the store under ``ss:session:<id>`` with an expiry.

Actions see the caller's session as ``self.session``. Changes made during a
call (attributes, user id, channels) are written back by the dispatcher when
the action returns, so plain ``def`` actions need no ``await``; async code may
``await self.session.save()`` to write at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, TypeGuard

import orjson

from .. import metrics
from ..errors import CallError, ErrorCode
from ..store.base import STORE_ERRORS, OutageLog

__all__ = ["Session", "SessionStore", "SessionHooks", "valid_session_id"]

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")


def valid_session_id(value: str | None) -> TypeGuard[str]:
    """True for ids ss could have issued (32 URL-safe characters); cookies are checked before any lookup."""
    return isinstance(value, str) and _ID_RE.match(value) is not None


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


class SessionHooks:
    """What the rest of ss does when sessions and sockets change; pub/sub, auth and users-online override these."""

    async def user_changed(self, session: "Session", old_user_id: Any) -> None:
        """``session.user_id`` changed from ``old_user_id`` (login, logout)."""

    async def channels_changed(self, session: "Session", added: list[str], removed: list[str]) -> None:
        """The session joined ``added`` channels and left ``removed`` ones."""

    async def authenticate(self, session: "Session", module_name: str, params: Any) -> dict:
        """Run ``lib/server/<module_name>.py``'s ``authenticate(params)``; see ss.auth."""
        raise NotImplementedError("authentication modules are not available in this process")

    async def socket_opened(self, connection: Any) -> None:
        """A socket for ``connection.session`` is open and initialised."""

    async def socket_closed(self, connection: Any) -> None:
        """The socket closed (after the session's 'disconnect' listeners ran)."""

    async def heartbeat(self, connection: Any) -> None:
        """The browser said it is still there (users online)."""

    async def recover(self, connection: Any, streams: dict[str, int]) -> None:
        """The browser asks for pub/sub messages missed since these offsets."""

    async def session_rotated(self, session: "Session", old_id: str) -> None:
        """``session`` got a new id on login (was ``old_id``); the browser's cookie must follow."""


class ChannelMembership:
    """``self.session.channel``: subscribe/unsubscribe by name (a string or a list), list()."""

    __slots__ = ("_session",)

    def __init__(self, session: "Session"):
        self._session = session

    def subscribe(self, names: str | list[str]) -> asyncio.Future:
        added = [n for n in _names(names) if n not in self._session.channels]
        self._session.channels.extend(added)
        return self._session._later(self._session.hooks.channels_changed(self._session, added, []))

    def unsubscribe(self, names: str | list[str]) -> asyncio.Future:
        removed = [n for n in _names(names) if n in self._session.channels]
        self._session.channels[:] = [n for n in self._session.channels if n not in removed]
        return self._session._later(self._session.hooks.channels_changed(self._session, [], removed))

    def list(self) -> list[str]:
        return list(self._session.channels)


def _names(names: str | list[str]) -> list[str]:
    if isinstance(names, str):
        return [names]
    if isinstance(names, (list, tuple, set)) and all(isinstance(n, str) for n in names):
        return list(dict.fromkeys(names))
    raise TypeError("channel names must be a string or a list of strings")


class SessionUser:
    """``self.session.user``: the signed-in user of this session."""

    __slots__ = ("_session",)

    def __init__(self, session: "Session"):
        self._session = session

    @property
    def id(self) -> Any:
        return self._session.user_id

    def logout(self, cb: Callable | None = None) -> asyncio.Future:
        """Forget the user: pub/sub to them stops reaching this socket and they leave users online."""
        return self._session.set_user_id(None, cb)


class Session:
    """One browser's (or API client's) session. Create through :class:`SessionStore`.

    Every open socket holds one, so it is kept small: slots instead of a
    ``__dict__``, and the listener table, pending work and the ``channel``/``user``
    helpers made only when first used.
    """

    __slots__ = ("_store", "id", "_created", "user_id", "attributes", "channels", "is_new", "transient",
                 "request", "connection", "previous_id", "_listeners", "_pending", "_saved")

    def __init__(self, store: "SessionStore", session_id: str, created_at: float, user_id: Any = None,
                 attributes: dict | None = None, channels: list[str] | None = None, is_new: bool = False):
        self._store = store
        self.id = session_id
        self._created = created_at
        self.user_id = user_id
        self.attributes: dict = attributes if attributes is not None else {}
        self.channels: list[str] = channels if channels is not None else []
        self.is_new = is_new
        self.transient = False  # True: never saved (HTTP API calls without a session cookie)
        self.request: Any = None
        self.connection: Any = None  # the connection this session object was loaded for (None: HTTP API)
        self.previous_id: str | None = None  # set when the id was rotated and the old key not yet deleted
        self._listeners: dict[str, list[Callable]] | None = None
        self._pending: list[asyncio.Future] | None = None
        self._saved = _exact(self._snapshot())

    @property
    def channel(self) -> ChannelMembership:
        return ChannelMembership(self)

    @property
    def user(self) -> SessionUser:
        return SessionUser(self)

    @property
    def hooks(self) -> SessionHooks:
        return self._store.hooks

    @property
    def handle(self) -> str:
        """A name for this session that is safe to show or log: a hash of the id, not the id.

        The id is the secret the HttpOnly cookie carries; knowing the handle gives no way
        to it. It changes when a sign-in gives the session a new id.
        """
        return hashlib.blake2b(self.id.encode(), digest_size=6).hexdigest()

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self._created, timezone.utc)

    def on(self, event: str, fn: Callable) -> None:
        """Run ``fn(session)`` on ``event``; ``'disconnect'`` runs once when this socket closes."""
        if self._listeners is None:
            self._listeners = {}
        self._listeners.setdefault(event, []).append(fn)

    async def emit(self, event: str) -> None:
        if not self._listeners:
            return
        for fn in self._listeners.pop(event, []):
            result = fn(self)
            if asyncio.iscoroutine(result):
                await result

    def set_user_id(self, user_id: Any, cb: Callable | None = None) -> asyncio.Future:
        """Sign this session in as ``user_id`` (None signs out); returns an optional awaitable.

        Signing in gives the session a new id (``session.rotate_on_login``) so an
        id planted before the login is useless after it; see ss.auth.
        """
        old = self.user_id
        self.user_id = user_id
        if old != user_id and user_id is not None and not self.transient and self._store.rotate_on_login:
            if self.previous_id is None:
                # One rotation per save: the hook reads session.id when it runs, so a second
                # login in the same action still hands the browser one token, for the final id.
                self.previous_id = self.id
                self._later(self.hooks.session_rotated(self, self.previous_id))
            self.id = new_session_id()
        future = self._later(self.hooks.user_changed(self, old) if old != user_id else _nothing())
        if cb is not None:
            future.add_done_callback(lambda f: cb(True) if not f.exception() else None)
        return future

    def authenticate(self, module_name: str, params: Any = None, cb: Callable | None = None) -> asyncio.Future:
        """Check ``params`` with ``lib/server/<module_name>.py``; resolves to its response dict.

        The response is ``{'success': bool, 'user_id': ..., 'info': {...}}``. On
        success the session is signed in as ``user_id`` (as ``set_user_id``
        would; calling it again with the same id, SocketStream style, changes nothing).
        """
        future = self._later(self._authenticate(module_name, params))
        if cb is not None:
            future.add_done_callback(lambda f: cb(f.result()) if not f.exception() else None)
        return future

    async def _authenticate(self, module_name: str, params: Any) -> dict:
        response = await self.hooks.authenticate(self, module_name, params)
        if response.get("success") and response.get("user_id") is not None:
            await self.set_user_id(response["user_id"])
        return response

    def _later(self, coro) -> asyncio.Future:
        """Start ``coro`` now; the dispatcher awaits it before replying (so sync actions need no await)."""
        future = asyncio.ensure_future(coro)
        if self._pending is None:
            self._pending = [future]
        else:
            self._pending.append(future)
        return future

    def _snapshot(self) -> bytes:
        return orjson.dumps({"c": self._created, "u": self.user_id, "a": self.attributes, "ch": self.channels},
                            default=str)

    @property
    def dirty(self) -> bool:
        """True when the call left work to finish or changes to save (checked without awaiting)."""
        return bool(self._pending) or (not self.transient and (self.is_new or self._snapshot() != self._saved))

    async def flush(self) -> None:
        """Finish work started during the call and save if anything changed."""
        while self._pending:
            pending, self._pending = self._pending, None
            await asyncio.gather(*pending)
        if not self.transient and (self.is_new or self._snapshot() != self._saved):
            await self.save()

    async def save(self) -> None:
        await self._store.save(self)

    def __repr__(self) -> str:
        return f"<Session {self.id[:8]}… user={self.user_id!r}>"


def _exact(snapshot: bytes) -> bytes:
    # orjson's result keeps its first (4 KB) allocation; a copy of the right size is what
    # each open socket's session holds on to between calls.
    return bytes(memoryview(snapshot))


async def _nothing() -> None:
    return None


class _TurnBatch:
    """The session loads and creations of one loop turn, sent to the store as one pipeline.

    Every socket handshake loads (or creates) a session, and after a deploy thousands of
    tabs reconnect within a second. One command per handshake took one pooled store
    connection each: over the pool's size (100 for the embedded store) the rest were
    refused as ``store_unavailable``, and with Redis each was a round trip of its own.
    Batched, a storm costs one pipeline (one connection, one round trip) per loop turn.
    """

    __slots__ = ("_store", "_queued", "_sending")

    def __init__(self, store) -> None:
        self._store = store
        self._queued: list[tuple[Callable[[Any], Any], asyncio.Future]] = []
        self._sending: set[asyncio.Task] = set()  # referenced while they run (asyncio holds tasks weakly)

    def run(self, add: Callable[[Any], Any]) -> asyncio.Future:
        """``add(pipe)`` queues this caller's commands on the turn's pipeline; resolves to their results.

        Raises (through the future) what the pipeline raised, or the first error among this
        caller's own results.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._queued:
            loop.call_soon(self._send)
        self._queued.append((add, future))
        return future

    def _send(self) -> None:
        queued, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._execute(queued))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(self, queued: list[tuple[Callable[[Any], Any], asyncio.Future]]) -> None:
        sizes = []

        def fill(pipe: Any) -> None:
            for add, _ in queued:
                before = len(pipe.command_stack)
                add(pipe)
                sizes.append(len(pipe.command_stack) - before)

        try:
            results = await self._store.run_pipeline(fill)
        except BaseException as exc:
            for _, future in queued:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for (_, future), size in zip(queued, sizes):
            mine = results[start:start + size]
            start += size
            if future.done():  # its caller went away (cancelled)
                continue
            error = next((r for r in mine if isinstance(r, Exception)), None)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(mine)


class SessionStore:
    """Loads, creates and saves sessions in a :class:`ss.store.Store`.

    A session starts with a short life (``new_ttl``, minutes): a visitor who
    never comes back, or a request refused later on, leaves nothing lasting.
    Its first real use (loading it again, saving a change) gives it the full ``ttl``.
    """

    def __init__(self, store, ttl: int, hooks: SessionHooks | None = None, new_ttl: int | None = None,
                 outage: OutageLog | None = None):
        self.store = store
        self.ttl = int(ttl)
        self.new_ttl = min(int(new_ttl), self.ttl) if new_ttl else self.ttl
        self.hooks = hooks or SessionHooks()
        self.rotate_on_login = True
        self.outage = outage or OutageLog()
        self._batch = _TurnBatch(store)

    async def for_request(self, session_id: str | None, *, create: bool = True) -> Session:
        """The session a page, socket or HTTP API request runs with: the cookie's, else a new one.

        ``create``: save a new one (pages and accepted sockets, whose answer sets the
        cookie); otherwise the new one is transient, never saved (HTTP API calls
        without a cookie). Every door loads sessions here, so a store outage is
        answered alike everywhere: CallError ``store_unavailable`` (HTTP 503).
        """
        try:
            session = await self.load(session_id) if session_id else None
            if session is None:
                if create:
                    session = await self.create()
                else:
                    session = self.new()
                    session.transient = True
            return session
        except STORE_ERRORS as exc:
            self.outage.report(self.store.description, exc)
            raise CallError(ErrorCode.STORE_UNAVAILABLE, f"the session store ({self.store.description}) is not "
                                                         "answering: try again shortly") from None

    def _key(self, session_id: str) -> str:
        return self.store.key("session", session_id)

    async def load(self, session_id: str | None) -> Session | None:
        """The saved session with this id (its expiry refreshed), or None if unknown/expired/malformed."""
        if not valid_session_id(session_id):
            return None
        key = self._key(session_id)
        ttl = self.ttl
        raw, _ = await self._batch.run(lambda pipe: pipe.get(key).expire(key, ttl))
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            return Session(self, session_id, float(data["c"]), data.get("u"), dict(data.get("a") or {}),
                           list(data.get("ch") or []))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None  # unreadable: treat as gone; a new session replaces it

    def new(self) -> Session:
        """A fresh session, saved on its first flush."""
        return Session(self, new_session_id(), time.time(), is_new=True)

    async def create(self) -> Session:
        """A new session, saved with the short ``new_ttl`` (its next load extends it)."""
        session = self.new()
        key, snapshot, ttl = self._key(session.id), session._snapshot(), self.new_ttl
        await self._batch.run(lambda pipe: pipe.set(key, snapshot, ex=ttl))
        session._saved = _exact(snapshot)
        session.is_new = False
        metrics.session_created()
        return session

    async def load_or_create(self, session_id: str | None) -> Session:
        return await self.load(session_id) or await self.create()

    async def save(self, session: Session, ttl: int | None = None) -> None:
        snapshot = session._snapshot()
        ttl = ttl or self.ttl
        if session.previous_id is not None:  # rotated on login: the old id must stop working
            async with self.store.redis.pipeline(transaction=True) as pipe:
                pipe.set(self._key(session.id), snapshot, ex=ttl)
                pipe.delete(self._key(session.previous_id))
                await pipe.execute()
            session.previous_id = None
        else:
            await self.store.redis.set(self._key(session.id), snapshot, ex=ttl)
        session._saved = _exact(snapshot)
        session.is_new = False

    async def delete(self, session_id: str) -> None:
        await self.store.redis.delete(self._key(session_id))
