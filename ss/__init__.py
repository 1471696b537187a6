"""ss: real-time single-page web apps in Python, on Tornado.

What apps use::

    import ss

    class Actions(ss.Actions):          # app/server/app.py
        def square(self, number):
            return number * number

    ss.config                           # the merged config, attribute access
    await ss.server.app.square(25)      # call actions from server code
    ss.R                                # redis.asyncio client of the app's store
    ss.publish.user(uid, "event", data) # pub/sub, also .users / .broadcast / .channel / .socket(connection_id, ...)
    ss.publish.channel("room1", "said", data, exclude=self.connection)  # everyone but the caller
    await ss.users.online.now()         # ids of users online, on every instance
    await ss.users.disconnect(uid, reason="banned")  # close that user's tabs, on every instance
    await ss.presence.channel("room1")  # ids of users in a channel, on every instance
    await self.connection.track("room1", {"status": "typing"})  # presence with metadata
    await ss.presence.list("room1")     # {user_id: [meta, ...]}, on every instance
    await self.connection.call("app.confirm", "Sure?")  # run SS.client.app.confirm in the caller's tab
    await ss.connections.call(connection_id, "app.confirm", "Sure?")  # any tab, on any instance
    ss.shared.calculate.circumference(20)  # app/shared code, run on the server
    ss.db.M                             # what config/db.py set up
"""

from __future__ import annotations

from typing import Any

from .errors import ClientCallArgumentError, ClientCallError, PresenceError, PublishError
from .rpc.actions import Actions, in_thread
from .escaping import escape
from .version import __version__

__all__ = ["Actions", "in_thread", "escape", "__version__", "config", "server", "R", "env", "publish", "users", "presence",
           "connections", "shared", "db", "ClientCallError", "ClientCallArgumentError", "PublishError",
           "PresenceError"]


_RUNTIME_ATTRIBUTES = {
    "config": lambda app: app.config,
    "env": lambda app: app.env,
    "server": lambda app: app.server,
    "R": lambda app: app.store.redis,
    "publish": lambda app: app.publish,
    "users": lambda app: app.users,
    "presence": lambda app: app.presence,
    "connections": lambda app: app.cluster_connections,  # ss.realtime.client_calls.ClusterConnections
    "shared": lambda app: _shared_code(app),  # app/shared JS/CoffeeScript, run in V8 on the server
    "db": lambda app: app.db,                 # the names config/db.py defines
}


def _shared_code(app: Any) -> Any:
    from .shared_code import for_app  # mini-racer loads only when ss.shared is used

    return for_app(app)


def __getattr__(name: str) -> Any:
    # Attributes that read from the app running in this process (no submodule has one of
    # these names, so an import never hides them). Anything else is a plain AttributeError.
    getter = _RUNTIME_ATTRIBUTES.get(name)
    if getter is None:
        raise AttributeError(f"module 'ss' has no attribute {name!r}")
    from .app import current

    return getter(current())
