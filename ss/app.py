"""The running app: config, store, sessions, API tree and open sockets, in one object.

One ``App`` exists per process; ``ss.config``, ``ss.server``, ``ss.R`` and
friends read from the current one (see ``ss/__init__.py``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from . import protocol
from .db_setup import DbFile
from .project import Project
from .protocol.frames import text_frame
from .realtime.client_calls import ClusterConnections
from .realtime.hooks import RealtimeHooks
from .realtime.instance_bus import InstanceBus
from .realtime.outbox import Flusher, send_frame_to_many
from .realtime.presence import Presence
from .realtime.registry import Connections
from .realtime.publish import Publisher
from .realtime.router import LocalRouter
from .realtime.users_online import Users
from .rpc.dispatcher import Dispatcher
from .rpc.api_tree import ApiTree, ApiTreeError, load_api_tree
from .rpc.limiter import KeyedLimiter
from .rpc.recent_calls import RecentCalls
from .sessions.session import SessionHooks, SessionStore
from .settings import Config, load_config
from .store import OutageLog, Store, open_store

__all__ = ["App", "current", "ServerProxy"]

log = logging.getLogger("ss")

_current: "App | None" = None


def current() -> "App":
    """The app of this process. Raises RuntimeError outside a started app."""
    if _current is None:
        raise RuntimeError("no ss app is loaded in this process: start one with `python -m ss start` "
                           "(or ss.testing / `python -m ss console`)")
    return _current


class App:
    """Everything one ss process serves. Build with ``App.load(root)``, then ``await app.start()``."""

    def __init__(self, project: Project | None, config: Config, hooks: SessionHooks | None = None):
        global _current
        self.project = project
        self.config = config
        self.env: str = config.env
        self.store: Store = open_store(config)
        self.outage = OutageLog()  # one "store is down" log line per window, whoever notices
        self.sessions = SessionStore(self.store, config.session.ttl, hooks or RealtimeHooks(self),
                                     new_ttl=config.session.new_ttl, outage=self.outage)
        self.sessions.rotate_on_login = config.session.rotate_on_login
        self.publish = Publisher(self.store, config)
        self.router = LocalRouter(self)
        self.users = Users(self.store, config, self.publish)
        self.presence = Presence(self)
        self.tree = ApiTree()
        self.dispatcher = Dispatcher(self.tree, show_traceback=config.errors.show_traceback,
                                     store_description=self.store.description, outage=self.outage)
        self.connections = Connections()  # open connections, by id, address and session (ss/realtime/registry.py)
        self.instance_bus = InstanceBus(self)  # this instance's bus topic (ss/realtime/instance_bus.py)
        self.cluster_connections = ClusterConnections(self)  # ss.connections: by id, on any instance
        self.max_pending_calls = config.limits.max_pending_calls
        self.max_pending_bytes = config.limits.max_pending_bytes
        limits = config.limits
        self.recent_calls = RecentCalls(limits.replay_cache_bytes, limits.replay_max_reply_bytes,
                                        tabs_per_session=limits.max_tabs_per_session)
        self.protocol_limits = protocol.Limits(max_frame_bytes=config.limits.max_frame_bytes,
                                               max_depth=config.limits.max_depth)
        limiter = config.limiter
        self.http_limiter = KeyedLimiter(limiter.http.rps) if limiter.enabled else None
        self.pipeline: Any = None
        self.pinger: Any = None  # ss.realtime.pinger.Pinger, made by the first socket
        self.http_transports: Any = None  # ss.realtime.http_transport.HttpTransports, made by the first HTTP client
        self.http_server: Any = None  # tornado's HTTPServer answering this app (set by ss.serving.Server)
        # Writes every connection's queued frames once per loop turn (see ss/realtime/outbox.py).
        self.flusher = Flusher(config.limits.max_write_delay_ms / 1000)
        self.db = DbFile(project.root if project is not None else None)  # config/db.py, as ss.db
        self.server = ServerProxy(self)
        self._reload_listeners: list[Callable[[], Any]] = []
        self.draining = False  # set first on shutdown: /_ss/ready answers 503 (ss/web/probes.py)
        _current = self

    @classmethod
    def load(cls, root: Path | None, env: str | None = None, overrides: dict | None = None) -> "App":
        """Read config (raises ConfigError) and build the app for the folder ``root``."""
        config = load_config(root, env, overrides)
        return cls(Project(root) if root is not None else None, config)

    def load_actions(self) -> None:
        """(Re)load app/server into the API tree. Raises ApiTreeError; the old tree stays on failure."""
        if self.project is None:
            return
        self.tree = load_api_tree(self.project.server_dir, self.project.lib_server_dir)
        self.dispatcher.tree = self.tree

    def reload_actions(self) -> bool:
        """Reload server code after an edit, keeping connections. Logs and returns False on errors."""
        try:
            self.load_actions()
        except ApiTreeError as exc:
            log.error("server code not reloaded: %s", exc)
            return False
        log.info("server actions reloaded (%d actions)", len(self.tree.actions))
        for listener in self._reload_listeners:
            listener()
        return True

    def on_reload(self, listener: Callable[[], Any]) -> None:
        self._reload_listeners.append(listener)

    async def start(self) -> None:
        """Connect the store (StoreUnavailable if it does not answer) and load the server actions."""
        await self.store.connect()
        await self.db.start()  # config/db.py: after the config merge, before actions import anything
        self.load_actions()
        await self.router.start()
        await self.instance_bus.start()
        self.users.online.start()
        self.presence.start()

    async def close(self) -> None:
        global _current
        if self.pinger is not None:
            self.pinger.stop()
        if self.http_transports is not None:
            await self.http_transports.close()
        if self.pipeline is not None:
            await self.pipeline.close()
        await self.users.online.close()
        await self.presence.close()
        await self.publish.flush()
        await self.instance_bus.close()
        await self.db.stop()
        await self.store.close()
        if _current is self:
            _current = None

    def client_config(self) -> dict:
        """The ``client.*`` config sent to browsers in the init message (never server secrets)."""
        return self.config.client.to_dict()

    def send_to_all(self, message: dict) -> None:
        """Send one message to every open socket of this process (live reload, notices)."""
        send_frame_to_many(self.flusher, self.connections, text_frame(protocol.encode(message)))


class ServerProxy:
    """``ss.server.app.square(25)``: call actions from server code; returns an awaitable."""

    __slots__ = ("_app", "_path")

    def __init__(self, app: App, path: tuple[str, ...] = ()):
        self._app = app
        self._path = path

    def __getattr__(self, name: str) -> "ServerProxy":
        if name.startswith("_"):
            raise AttributeError(name)
        return ServerProxy(self._app, self._path + (name,))

    def __call__(self, *args: Any) -> "asyncio.Future":
        return asyncio.ensure_future(self._app.dispatcher.call(self._path, list(args)))

    def __dir__(self) -> list[str]:
        node: Any = self._app.tree.root
        for part in self._path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return sorted(node) if isinstance(node, dict) else []

    def __repr__(self) -> str:
        return f"<ss.server{'.' if self._path else ''}{'.'.join(self._path)}>"
