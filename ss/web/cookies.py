"""``POST /_ss/session``: how a browser's HttpOnly session cookie follows a session id rotated on sign-in.

See ss/sessions/auth.py for why the id rotates and how the one-time token is issued.
"""

from __future__ import annotations

import orjson

from ..sessions.auth import cookie_token_key
from ..sessions.cookie import set_session_cookie
from .base import BaseHandler

__all__ = ["SessionCookieHandler", "COOKIE_PATH"]

COOKIE_PATH = "/_ss/session"


class SessionCookieHandler(BaseHandler):
    """``POST /_ss/session`` with a token from a ``session`` message: sets the rotated session cookie."""

    async def post(self) -> None:
        token = self.request.body.decode("utf-8", "replace").strip()
        if not token or len(token) > 64:
            self._refuse("send the token of the session message as the request body")
            return
        redis = self.app.store.redis
        key = cookie_token_key(self.app, token)
        raw = await redis.get(key)
        if raw is None:
            self._refuse("unknown or used token: reload the page to get a fresh session")
            return
        ids = orjson.loads(raw)
        if self.get_cookie(self.app.config.session.cookie_name) not in (ids["old"], ids["new"]):
            # Checked before the token is used up, so a stranger's guess cannot burn the rightful browser's token.
            self._refuse("this token belongs to another browser's session")
            return
        if await redis.getdel(key) is None:  # atomic: of several requests with the token, one wins
            self._refuse("unknown or used token: reload the page to get a fresh session")
            return
        set_session_cookie(self, ids["new"])
        self.set_header("Cache-Control", "no-store")
        self.set_status(204)
        self.finish()

    def _refuse(self, message: str) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps({"error": {"code": "bad_token", "message": message}}))
