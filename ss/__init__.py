"""ss: real-time single-page web apps in Python, on Tornado.

What apps use::

    import ss

    class Actions(ss.Actions):          # app/server/app.py
        def square(self, number):
            return number * number

    ss.config                           # the merged config, attribute access
    await ss.server.app.square(25)      # call actions from server code
    ss.R                                # redis.asyncio client of the app's store
    ss.publish.user(uid, "event", data) # pub/sub, also .users / .broadcast / .channel
    await ss.users.online.now()         # ids of users online, on every instance
    await ss.presence.channel("room1")  # ids of users in a channel, on every instance
    ss.shared.calculate.circumference(20)  # app/shared code, run on the server
    ss.db.M                             # what config/db.py set up
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .actions import Actions, in_thread
from .escaping import escape
from .version import __version__

__all__ = ["Actions", "in_thread", "escape", "__version__", "config", "server", "R", "env", "publish", "users", "presence",
           "shared", "db"]


_RUNTIME_ATTRIBUTES = {
    "config": lambda app: app.config,
    "env": lambda app: app.env,
    "server": lambda app: app.server,
    "R": lambda app: app.store.redis,
    "publish": lambda app: app.publish,
    "users": lambda app: app.users,
    "presence": lambda app: app.presence,
    "shared": lambda app: _shared_code(app),  # app/shared JS/CoffeeScript, run in V8 on the server
    "db": lambda app: app.db,                 # the names config/db.py defines
}


def _shared_code(app: Any) -> Any:
    from .shared_code import for_app  # mini-racer loads only when ss.shared is used

    return for_app(app)


class _Package(types.ModuleType):
    """The ``ss`` module itself.

    ``ss.config`` and ``ss.server`` are runtime attributes and also submodules
    (ss/config.py, ss/server.py). Importing a submodule stores it on its
    package, which would hide the runtime value from then on (``ss.server.app``
    would be looked up in the module). So these two names resolve here: the
    running app's value when there is one, else the submodule.
    """

    def _shadowed(name: str) -> property:  # type: ignore[misc]
        def get(self: types.ModuleType) -> Any:
            app_module = sys.modules.get(__name__ + ".app")
            app = getattr(app_module, "_current", None)
            if app is not None:
                return _RUNTIME_ATTRIBUTES[name](app)
            try:
                return self.__dict__["_submodule_" + name]
            except KeyError:
                raise AttributeError(name) from None  # then __getattr__ below says what to do

        def set(self: types.ModuleType, value: Any) -> None:
            self.__dict__["_submodule_" + name] = value  # the import system storing the submodule

        return property(get, set)

    config = _shadowed("config")
    server = _shadowed("server")
    del _shadowed


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    # Attributes that read from the app running in this process. Anything else
    # (including submodules not imported yet) is a plain AttributeError.
    getter = _RUNTIME_ATTRIBUTES.get(name)
    if getter is None:
        raise AttributeError(f"module 'ss' has no attribute {name!r}")
    from .app import current

    return getter(current())
