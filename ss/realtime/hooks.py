"""What pub/sub, users online and presence do when sockets open and close and sessions change.

A socket joins the broadcast topic and the topics of its session's user
(``ss:user:<id>``) and channels (``ss:channel:<name>``), taken from the saved
session, so a browser that reconnects, to this instance or another, is back
in its channels by itself. Several tabs may share one session, so a change
made through one tab (a channel, a sign-out) is applied to every connection of
that session in this process, found through the registry's index (no scan).
A sign-in that rotates the session id moves only the connection that signed in.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import metrics, protocol
from ..errors import CLOSE_SESSION_CHANGED
from ..sessions.auth import authenticate_with, issue_cookie_token
from ..sessions.session import Session, SessionHooks

__all__ = ["RealtimeHooks"]

log = logging.getLogger("ss.realtime")


class RealtimeHooks(SessionHooks):
    def __init__(self, app: Any) -> None:
        self.app = app

    def _topics(self, session: Session) -> list[str]:
        key = self.app.store.key
        topics = [key("broadcast")]
        topics.extend(key("channel", name) for name in session.channels)
        if session.user_id is not None:
            topics.append(key("user", str(session.user_id)))
        return topics

    def _connections_of(self, session: Session) -> list:
        """The connection that holds ``session`` and the other tabs of that browser here (same session id)."""
        connections = self.app.connections.of_session(session.id)
        own = session.connection
        if own is not None and own not in connections and not own.closed:
            connections.append(own)
        return connections

    async def socket_opened(self, connection: Any) -> None:
        session = connection.session
        if self.app.publish.history is not None and connection.recovering:
            self.app.router.hold(connection, self.app.config.pubsub.history.hold_timeout)
        for topic in self._topics(session):
            await self.app.router.join(topic, connection)
        if session.user_id is not None:
            await self.app.users.online.seen(session.user_id)
            for name in session.channels:
                await self.app.presence.join(connection, name, session.user_id)
        if getattr(connection, "closed", False):
            # It closed while we were joining: socket_closed may have run already, so undo here too.
            await self.app.router.leave_all(connection)
            await self.app.presence.leave_all(connection)

    async def socket_closed(self, connection: Any) -> None:
        try:
            await connection.session.flush()  # what 'disconnect' listeners changed (e.g. logout)
        except Exception:
            log.exception("saving %r after its socket closed failed", connection.session)
        await self.app.router.leave_all(connection)
        await self.app.presence.leave_all(connection)

    async def heartbeat(self, connection: Any) -> None:
        await self.app.users.online.seen(connection.session.user_id)

    async def authenticate(self, session: Session, module_name: str, params: Any) -> dict:
        return await authenticate_with(module_name, params)

    async def session_rotated(self, session: Session, old_id: str) -> None:
        # Only the connection that signed in moves to the new id: it is found by identity (the
        # session object it holds), never by id. Any other connection still on the old id, here
        # another tab of this browser or an attacker who planted that id (session fixation), is
        # closed with 4001: the browser's own tabs reconnect once the new cookie is set.
        caller = session.connection
        registry = self.app.connections
        for other in registry.of_session(old_id):
            if other is not caller:
                registry.remove(other)  # out of the index at once: nothing may follow this session now
                other.close(CLOSE_SESSION_CHANGED, "session changed")
                other._spawn(self._leave_everything(other))
        if caller is None or caller.closed:
            return  # HTTP API: the response sets the cookie itself
        registry.session_renamed(caller, old_id)
        token = await issue_cookie_token(self.app, old_id, session.id)
        caller.send(protocol.encode({"type": "session", "token": token}))

    async def _leave_everything(self, connection: Any) -> None:
        await self.app.router.leave_all(connection)
        await self.app.presence.leave_all(connection)

    async def user_changed(self, session: Session, old_user_id: Any) -> None:
        key = self.app.store.key
        new_user_id = session.user_id
        for connection in self._connections_of(session):
            connection.session.user_id = new_user_id
            if old_user_id is not None:
                await self.app.router.leave(key("user", str(old_user_id)), connection)
                await self.app.presence.leave_all(connection)
            if new_user_id is not None:
                await self.app.router.join(key("user", str(new_user_id)), connection)
                for name in connection.session.channels:
                    await self.app.presence.join(connection, name, new_user_id)
        if new_user_id is not None:
            await self.app.users.online.seen(new_user_id)
        elif old_user_id is not None:
            await self.app.users.online.remove(old_user_id)

    async def channels_changed(self, session: Session, added: list[str], removed: list[str]) -> None:
        key = self.app.store.key
        for connection in self._connections_of(session):
            if connection.session is not session:
                connection.session.channels[:] = list(session.channels)
            user_id = connection.session.user_id
            for name in added:
                await self.app.router.join(key("channel", name), connection)
                await self.app.presence.join(connection, name, user_id)
            for name in removed:
                await self.app.router.leave(key("channel", name), connection)
                await self.app.presence.leave(connection, name)

    async def recover(self, connection: Any, streams: dict[str, int]) -> None:
        """Replay what ``connection`` missed per stream, then release its held live messages."""
        publish, router = self.app.publish, self.app.router
        if connection.recovered:  # a replay is a reconnect's business, not a way to re-read history
            log.debug("ignoring a second recover message from %s", getattr(connection, "request", None))
            return
        connection.recovered = True
        subscribed = {publish.stream_of(topic) for topic in router.topics_of(connection)}
        failed: dict[str, str] = {}
        seen: dict[str, int] = {}
        try:
            for stream, after in streams.items():
                if not publish.recoverable(stream):
                    failed[stream] = "not_recoverable"
                elif stream not in subscribed:
                    failed[stream] = "not_subscribed"
                else:
                    result = await publish.history.read(stream, after)
                    if result.failed:
                        failed[stream] = result.failed
                        continue
                    for payload in result.payloads:
                        connection.send(payload)
                    seen[stream] = result.last_offset
        finally:
            metrics.recovery(len(seen), failed.values())
            if failed:
                connection.send(protocol.encode({
                    "type": "recovery_failed", "streams": failed,
                    "message": "messages sent while this tab was away are no longer kept: reload the state "
                               "of these streams"}))
            router.release(connection, seen)
