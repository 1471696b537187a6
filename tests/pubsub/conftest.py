"""Fixtures for the pub/sub, auth, users-online and presence tests: one app that exercises them all."""

from __future__ import annotations

import uuid

import pytest

from ss.testing import running_app

SERVER = '''
import ss

class Actions(ss.Actions):
    def subscribe(self, names):
        self.session.channel.subscribe(names)
        return self.session.channel.list()

    def unsubscribe(self, names):
        self.session.channel.unsubscribe(names)
        return self.session.channel.list()

    def channels(self):
        return self.session.channel.list()

    def whoami(self):
        return self.session.user_id

    async def check_only(self, username, password):
        return await self.session.authenticate("custom_auth", {"username": username, "password": password})

    async def login(self, uid):
        await self.session.set_user_id(uid)
        return self.session.id

    def login_twice(self, first, second):
        self.session.set_user_id(first)
        self.session.set_user_id(second)
        return self.session.id

    def logout(self, cb):
        self.session.user.logout(cb)

    async def sign_in(self, username, password):
        response = await self.session.authenticate("custom_auth", {"username": username, "password": password})
        if response["success"]:
            self.session.set_user_id(response["user_id"])
        return response

    def sign_in_cb(self, username, password, cb):
        def done(response):
            if response["success"]:
                self.session.set_user_id(response["user_id"])
            cb(response)
        self.session.authenticate("cb_auth", {"username": username, "password": password}, done)

    async def to_user(self, uid, event, data):
        await ss.publish.user(uid, event, data)

    async def to_users(self, uids, event, data):
        await ss.publish.users(uids, event, data)

    async def to_channel(self, names, event, data):
        await ss.publish.channel(names, event, data)

    async def to_all(self, event, data):
        await ss.publish.broadcast(event, data)

    @ss.in_thread
    def from_thread(self, event):
        ss.publish.broadcast(event, "thread").result(5)
        return True

    def burst(self, count):
        # fire and forget, as a plain def action would: order must still hold
        for i in range(count):
            ss.publish.broadcast("seq", i)
        return True

    def bad(self, kind):
        calls = {
            "event": lambda: ss.publish.broadcast(5, "x"),
            "data": lambda: ss.publish.broadcast("x"),
            "user": lambda: ss.publish.user(None, "x", 1),
            "users": lambda: ss.publish.users("bob", "x", 1),
            "channel": lambda: ss.publish.channel(7, "x", 1),
            "channels": lambda: ss.publish.channels([], "x", 1),
        }
        try:
            calls[kind]()
        except ValueError as exc:
            return str(exc)
        return None

    def watch_disconnect(self, tag):
        def gone(session):
            ss.publish.broadcast("gone", {"tag": tag, "user": session.user_id})
        self.session.on("disconnect", gone)
        return True

    def logout_on_disconnect(self):
        self.session.on("disconnect", lambda session: session.user.logout())
        return True

    async def online(self):
        return await ss.users.online.now()

    async def presence(self, name):
        return await ss.presence.channel(name)
'''

SECRET = '''
import ss

authenticate = True

class Actions(ss.Actions):
    def data(self):
        return {"user": self.session.user_id}
'''

CUSTOM_AUTH = '''
USERS = {"joe": ("secret", 21323), "ann": ("pw", "ann")}

async def authenticate(params):
    entry = USERS.get(params.get("username"))
    if entry and entry[0] == params.get("password"):
        return {"success": True, "user_id": entry[1], "info": {"username": params["username"]}}
    return {"success": False, "info": {"num_retries": 2}}
'''

CB_AUTH = '''
def authenticate(params, cb):
    if params.get("password") == "letmein":
        cb({"success": True, "user_id": params["username"], "info": {}})
    else:
        cb({"success": False, "info": {}})
'''

# Short intervals, so purges and refreshes happen within a test; the windows stay some seconds wide,
# so a busy machine pausing a test's process for a moment does not make users or entries drop out.
FAST = {
    "users": {"online": {"mins_until_offline": 0.05, "update_interval": 0.2}},  # 3 s window
    "presence": {"timeout": 3.0, "refresh_interval": 0.2, "events": True},
}


@pytest.fixture
def pubsub_root(make_app):
    return make_app({
        "app/server/app.py": SERVER,
        "app/server/secret.py": SECRET,
        "lib/server/custom_auth.py": CUSTOM_AUTH,
        "lib/server/cb_auth.py": CB_AUTH,
    })


def merge(*parts: dict) -> dict:
    from ss.settings import deep_merge

    result: dict = {}
    for part in parts:
        result = deep_merge(result, part)
    return result


@pytest.fixture(params=["embedded", "redis"])
def store_overrides(request):
    """Both stores, each with a key prefix of its own: the embedded store is one per process, so
    users online and presence would otherwise carry over from earlier tests."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    if request.param == "embedded":
        return {"redis": {"enabled": False, "key_prefix": prefix}}
    return {"redis": {"enabled": True, "url": request.getfixturevalue("redis_url"), "key_prefix": prefix}}


@pytest.fixture
def start_app(pubsub_root, store_overrides):
    """start_app(**overrides) -> running_app context on this test's store."""

    def start(overrides: dict | None = None, root=None):
        return running_app(root or pubsub_root, "test", merge(store_overrides, FAST, overrides or {}))

    return start
