"""What happens to pub/sub routing when sockets open and close and sessions change.

A socket joins the topics of its session's user (``ss:user:<id>``) and
channels (``ss:channel:<name>``). Several tabs may share one session, so a
change made through one tab is applied to every socket of that session in
this process.
"""

from __future__ import annotations

from typing import Any

from .session import Session, SessionHooks


class RealtimeHooks(SessionHooks):
    def __init__(self, app):
        self.app = app

    def _topics(self, session: Session) -> list[str]:
        key = self.app.store.key
        topics = [key("channel", name) for name in session.channels]
        if session.user_id is not None:
            topics.append(key("user", str(session.user_id)))
        return topics

    def _sockets_of(self, session_id: str) -> list:
        return [c for c in self.app.connections if c.session is not None and c.session.id == session_id]

    async def socket_opened(self, connection: Any) -> None:
        for topic in self._topics(connection.session):
            await self.app.router.join(topic, connection)

    async def socket_closed(self, connection: Any) -> None:
        for topic in self.app.router.topics_of(connection):
            await self.app.router.leave(topic, connection)

    async def user_changed(self, session: Session, old_user_id: Any) -> None:
        key = self.app.store.key
        for connection in self._sockets_of(session.id):
            connection.session.user_id = session.user_id
            if old_user_id is not None:
                await self.app.router.leave(key("user", str(old_user_id)), connection)
            if session.user_id is not None:
                await self.app.router.join(key("user", str(session.user_id)), connection)

    async def channels_changed(self, session: Session, added: list[str], removed: list[str]) -> None:
        key = self.app.store.key
        for connection in self._sockets_of(session.id):
            if connection.session is not session:
                connection.session.channels[:] = list(session.channels)
            for name in added:
                await self.app.router.join(key("channel", name), connection)
            for name in removed:
                await self.app.router.leave(key("channel", name), connection)
