"""Runs an app: binds its ports, starts the store and assets, serves until a signal, shuts down gracefully.

With ``https.enabled`` the app is served over TLS (ss/web/tls.py), and a plain-HTTP
listener redirects to it when ``https.redirect_http`` is set.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import tornado.httpserver
import tornado.netutil

from . import metrics
from .realtime import compat
from .app import App
from .web.application import make_application
from .web.guard import server_options

__all__ = ["serve", "settle_collector", "Server", "Listeners", "bind_listeners", "reserve_ports", "REUSE_PORT", "banner"]

#: Linux (and the BSDs): each worker binds its own listening socket and the kernel spreads new
#: connections evenly over them. Elsewhere the workers share one socket bound before forking.
REUSE_PORT = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")

log = logging.getLogger("ss")

#: A full garbage collection at most once per this many middle ones (CPython's default: 10). A full
#: pass walks every object the process holds; with thousands of sockets coming back at once (a
#: reconnect storm), the default ran one every few hundred milliseconds, stalling the loop each time.
FULL_COLLECTION_AFTER = 100


def settle_collector() -> None:
    """Once started: collect start-up garbage, freeze what remains, make full collections rarer.

    What start-up made (modules, actions, templates, the asset bundles) lives as long as the
    process; frozen, no later collection walks it again. Cycles made while serving are still
    collected: young ones as before, old ones by the rarer full passes.
    """
    gc.collect()
    gc.freeze()
    first, second, _ = gc.get_threshold()
    gc.set_threshold(first, second, FULL_COLLECTION_AFTER)


@dataclass
class Listeners:
    """Bound sockets: ``main`` serves the app (TLS when enabled), ``redirect`` the https redirect."""

    main: list[socket.socket]
    redirect: list[socket.socket] = field(default_factory=list)
    shared: bool = False  # bound before forking and accepted from by every worker (no SO_REUSEPORT)

    def close(self) -> None:
        for sock in self.main + self.redirect:
            sock.close()


def bind_listeners(config, port: int, host: str, https_port: int | None = None, reuse_port: bool = False) -> Listeners:
    """Bind the app's port(s): ``port`` alone, or with https ``https_port`` plus ``port`` for the redirect.

    ``reuse_port``: with SO_REUSEPORT, so every worker listens on a socket of its own.
    Raises OSError (port in use, no permission for ports below 1024); nothing stays bound then.
    """
    https = config.https
    if not https.enabled:
        return Listeners(tornado.netutil.bind_sockets(port, host, reuse_port=reuse_port))
    main = tornado.netutil.bind_sockets(https_port if https_port is not None else https.port, host,
                                        reuse_port=reuse_port)
    try:
        redirect = tornado.netutil.bind_sockets(port, host, reuse_port=reuse_port) if https.redirect_http else []
    except OSError:
        for sock in main:
            sock.close()
        raise
    return Listeners(main, redirect)


def reserve_ports(config, port: int, host: str) -> list[socket.socket]:
    """Hold the app's port(s) for workers that bind them with SO_REUSEPORT: bound, never listening.

    The supervisor keeps these, so "port in use" is reported before any worker starts and
    nothing else can take the port during a rolling restart; a socket that does not listen
    is not in the kernel's group, so no connection ever waits on it. Raises OSError.
    """
    https = config.https
    ports = [int(https.port)] + ([port] if https.redirect_http else []) if https.enabled else [port]
    held: list[socket.socket] = []
    try:
        for number in ports:
            for family, kind, proto, _, address in sorted(
                    set(socket.getaddrinfo(host or None, number, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                           socket.AI_PASSIVE)), key=lambda info: info[0]):
                # First without SO_REUSEPORT: that fails if anything holds the port, even another
                # server with SO_REUSEPORT, which would otherwise silently share our connections.
                for reuse_port in (False, True):
                    sock = socket.socket(family, kind, proto)
                    held.append(sock)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if reuse_port:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                    if family == socket.AF_INET6:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.bind(address)
                    if not reuse_port:
                        held.remove(sock)
                        sock.close()
    except OSError:
        for sock in held:
            sock.close()
        raise
    return held


class Server:
    """An app listening on a port; ``await start()``, then ``await stop()``."""

    def __init__(self, app: App, port: int | None = None, host: str | None = None,
                 https_port: int | None = None, listeners: Listeners | None = None):
        self.app = app
        self.port = int(port if port is not None else app.config.http.port)
        self.host = host if host is not None else app.config.http.host
        self.https_port = https_port
        self.listeners = listeners  # bound already (workers bind once, before forking)
        self.http_server: tornado.httpserver.HTTPServer | None = None
        self.redirect_server: tornado.httpserver.HTTPServer | None = None
        self.redirect_port: int | None = None
        self.certificate = None
        self.metrics_server: tornado.httpserver.HTTPServer | None = None
        self.metrics_port: int | None = None
        self._sampler: asyncio.Task | None = None

    async def start(self, with_assets: bool = True) -> None:
        """Listen, connect the store, load actions and assets. Errors propagate, nothing left running.

        The port is bound first, so "port in use" fails before anything else starts.
        With ``https.enabled``, ``self.port`` is the https port and ``self.redirect_port``
        the plain-HTTP one (or None). Raises tls.CertificateError for unusable certificates,
        middleware.MiddlewareError for a broken config/http.py.
        """
        listeners = self.listeners or bind_listeners(self.app.config, self.port, self.host, self.https_port)
        sockets = listeners.main
        try:
            ssl_options = self._ssl_context()
            self.port = sockets[0].getsockname()[1]  # the real one when asked for port 0
            if listeners.redirect:
                self.redirect_port = listeners.redirect[0].getsockname()[1]
            await self.app.start()
            if with_assets and self.app.project is not None:
                from .assets.pipeline import AssetPipeline

                pipeline = AssetPipeline(self.app.project.root, self.app.env, self.app.config,
                                         notify=self.app.send_to_all)
                pipeline.on_server_change(lambda paths: self._reload_actions())
                self.app.pipeline = pipeline
                await pipeline.start()
            application = make_application(self.app, self.port if ssl_options is not None else None)
            metrics_sockets = self._metrics_sockets()
        except BaseException:
            listeners.close()
            await self.app.close()
            raise
        if self.app.config.metrics.enabled:
            metrics.setup()
            self._sampler = asyncio.get_running_loop().create_task(_sample(self.app), name="ss-metrics-sampler")
        if metrics_sockets:
            from .web.probes import metrics_application

            self.metrics_server = tornado.httpserver.HTTPServer(metrics_application(self.app), xheaders=False)
            self.metrics_server.add_sockets(metrics_sockets)
            self.metrics_port = metrics_sockets[0].getsockname()[1]
        # Forwarded headers are read by ss/web/guard.py, from http.trusted_proxies only.
        options = server_options(self.app.config)
        self.http_server = tornado.httpserver.HTTPServer(application, ssl_options=ssl_options, **options)
        self.app.http_server = self.http_server  # the HTTP transport hands requests back to it (http_keepalive.py)
        self.http_server.add_sockets(sockets)
        if listeners.redirect:
            from .web.tls import redirect_application

            self.redirect_server = tornado.httpserver.HTTPServer(redirect_application(self.app, self.port), **options)
            self.redirect_server.add_sockets(listeners.redirect)

    def _metrics_sockets(self) -> list[socket.socket]:
        """The sockets of ``metrics.port`` (shared by every worker under --workers), or none."""
        settings = self.app.config.metrics
        if not settings.enabled or not settings.port:
            return []
        try:
            return tornado.netutil.bind_sockets(int(settings.port), str(settings.host),
                                                reuse_port=self.listeners is not None)
        except OSError as exc:
            raise OSError(exc.errno, f"metrics.port {settings.port}: {exc.strerror}") from None

    def _ssl_context(self):
        if not self.app.config.https.enabled:
            return None
        from .web.tls import load_certificate, ssl_context

        root = self.app.project.root if self.app.project is not None else Path.cwd()
        self.certificate = load_certificate(root, self.app.config.https.cert_name)
        return ssl_context(self.certificate, root)

    def _reload_actions(self) -> None:
        if self.app.reload_actions():
            self.app.send_to_all({"type": "api", "api": self.app.tree.describe()})

    async def stop(self) -> None:
        """Turn readiness to 503 (and wait ``limits.shutdown_delay`` for balancers to notice), stop
        listening, let running calls finish and reply, close every socket (1012: reconnect elsewhere),
        release the store."""
        self.app.draining = True
        delay = self.app.config.limits.shutdown_delay
        if delay > 0 and self.http_server is not None:
            log.info("not ready any more (/_ss/ready answers 503); closing the listener in %gs "
                     "(limits.shutdown_delay)", delay)
            await asyncio.sleep(delay)
        for server in (self.http_server, self.redirect_server, self.metrics_server):
            if server is not None:
                # Connections the kernel already queued on our socket are taken, not reset (with
                # SO_REUSEPORT each worker has its own queue, and the others keep listening).
                compat.stop_listening(server, take_queued=not (self.listeners and self.listeners.shared))
        if self._sampler is not None:
            self._sampler.cancel()
        drain_timeout = self.app.config.limits.shutdown_timeout
        await asyncio.gather(*(c.drain(drain_timeout) for c in list(self.app.connections)))
        if self.http_server is not None:
            try:
                await asyncio.wait_for(self.http_server.close_all_connections(), 5)
            except asyncio.TimeoutError:
                pass
        if self.redirect_server is not None:
            try:
                await asyncio.wait_for(self.redirect_server.close_all_connections(), 5)
            except asyncio.TimeoutError:
                pass
        await self.app.close()
        metrics.flush()  # under --workers, what this worker counted stays in the totals


async def _sample(app: App, interval: float = 1.0) -> None:
    """Each second: the bytes queued to this process's sockets (ss_outgoing_queued_bytes), and the
    counts of the last second handed to prometheus_client (ss/metrics.py)."""
    while True:
        await asyncio.sleep(interval)
        metrics.queued_bytes(sum(getattr(c.transport, "queued_bytes", 0) for c in list(app.connections)))
        metrics.flush()


def banner(app: App, port: int, server: "Server | None" = None) -> str:
    from .version import __version__

    scheme = "https" if app.config.https.enabled else "http"
    shown = "" if (scheme, port) in (("https", 443), ("http", 80)) else f":{port}"
    lines = [f"ss {__version__}  env: {app.env}  url: {scheme}://localhost{shown}/",
             f"  store: {app.store.description}",
             f"  loop: {app.config.server.event_loop} (server.event_loop)"]
    if server is not None and server.certificate is not None:
        root = app.project.root if app.project is not None else Path.cwd()
        lines.append(f"  https: {server.certificate.describe(root)}")
        if server.redirect_port is not None:
            lines.append(f"  http://localhost:{server.redirect_port}/ redirects to https")
    host = server.host if server is not None else app.config.http.host
    if host in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  listening on {host} only (this machine): set http.host = \"0.0.0.0\" in config/app.py "
                     "to accept other machines")
    settings = app.config.metrics
    if settings.enabled:
        where = (f"http://{settings.host}:{server.metrics_port}/_ss/metrics" if server is not None and server.metrics_port
                 else "/_ss/metrics")
        lines.append(f"  metrics: {where} (to {', '.join(map(str, settings.allow))}); probes: /_ss/health, /_ss/ready")
    lines.append(f"  actions: {len(app.tree.actions)} loaded from app/server  (Ctrl-C to stop)")
    return "\n".join(lines)


async def serve(app: App, port: int | None = None, host: str | None = None,
                listeners: Listeners | None = None, quiet: bool = False,
                ready: "Callable[[Server], object] | None" = None) -> None:
    """Run ``app`` until SIGINT/SIGTERM, then shut down gracefully (see Server.stop).

    ``listeners``: sockets bound already (workers); ``quiet``: no banner (all but the first
    worker); ``ready(server)`` is called once it serves.
    """
    server = Server(app, port, host, listeners=listeners)
    await server.start()
    if not quiet:
        text = banner(app, server.port, server)
        if app.config.log.get("format") == "json":  # every line of the output parses
            from .logs import json_line

            text = json_line("info", "ss", text.replace("\n", "; "), port=server.port, env=app.env)
        print(text, flush=True)
    settle_collector()
    if ready is not None:
        ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
