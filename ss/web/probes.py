"""``/_ss/health``, ``/_ss/ready`` and ``/_ss/metrics``: what balancers, orchestrators and Prometheus ask.

- ``/_ss/health`` (liveness): 200 while the process serves HTTP at all. It checks
  nothing else, so a store outage never gets a healthy process killed.
- ``/_ss/ready`` (readiness): 200 with a small JSON body when the store answers
  and the process is not shutting down; 503 with the reason otherwise. During a
  graceful shutdown it turns 503 first (``App.draining``), ``limits.shutdown_delay``
  seconds before the listener closes, so balancers stop sending new visitors
  before any socket is closed.

Both skip the middleware chain (config/http.py, the https domain redirect, the
browser check): a balancer probes by address, with no cookie and no browser,
and must get the process's own answer. Neither says anything secret: no store
address, no session, no version.

``/_ss/metrics`` (Prometheus text format, ss/metrics.py) is served when
``metrics.enabled`` (off in production unless turned on), on the app's port or
only on ``metrics.port``, and only to the addresses of ``metrics.allow``
(loopback by default): the socket's peer *and* every address a proxy put in
X-Forwarded-For / X-Real-Ip must be allowed, so neither a forged header nor a
proxy on the same host opens it to the world. Others get 403 saying so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from typing import Any

import orjson
import tornado.web

from .. import metrics
from ..errors import StartupError
from .http_api import ApiHandler
from .middleware import ChainedApplication

__all__ = ["HealthHandler", "ReadyHandler", "MetricsHandler", "AllowList", "readiness", "OpsFirstApplication",
           "OPS_PATHS", "HEALTH_PATH", "READY_PATH", "METRICS_PATH", "probe_routes", "metrics_application"]

HEALTH_PATH = "/_ss/health"
READY_PATH = "/_ss/ready"
METRICS_PATH = "/_ss/metrics"
OPS_PATHS = frozenset({HEALTH_PATH, READY_PATH, METRICS_PATH})

#: seconds the readiness probe waits for the store's PING before calling it down
STORE_PING_TIMEOUT = 1.0


async def readiness(app: Any) -> tuple[bool, dict]:
    """(ready, body): ready when not draining and the store (and its pub/sub link) answers."""
    body: dict = {"ready": False, "pid": os.getpid(), "connections": len(app.connections)}
    if getattr(app, "draining", False):
        body["reason"] = "draining: the server is shutting down; send new clients to another instance"
        return False, body
    try:
        await asyncio.wait_for(app.store.redis.ping(), STORE_PING_TIMEOUT)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure to answer means "not ready", whatever raised it
        body["reason"] = f"store not answering ({type(exc).__name__}); calls needing it fail until it is back"
        return False, body
    if not app.store.pubsub_connected:
        body["reason"] = "store pub/sub link down (reconnecting); messages from other instances would be missed"
        return False, body
    body["ready"] = True
    return True, body


class _ProbeHandler(tornado.web.RequestHandler):
    def initialize(self, app: Any) -> None:
        self.app = app

    def _json(self, status: int, body: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(orjson.dumps(body) + b"\n")

    def head(self) -> Any:
        return self.get()


class HealthHandler(_ProbeHandler):
    """Liveness: the process serves."""

    def get(self) -> None:
        self._json(200, {"status": "ok", "pid": os.getpid()})


class ReadyHandler(_ProbeHandler):
    """Readiness: the store answers and the process is not draining (else 503 with ``reason``)."""

    async def get(self) -> None:
        ready, body = await readiness(self.app)
        self._json(200 if ready else 503, body)


class AllowList:
    """Addresses and networks (``metrics.allow``: "127.0.0.1", "10.0.0.0/8", "::1") that may read metrics."""

    def __init__(self, entries: list[str]):
        self.networks = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise StartupError(f"metrics.allow: {entry!r} is not an IP address or network "
                                 "(e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"::1\")") from None

    def allows(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


def request_addresses(request) -> list[str | None]:
    """The socket's peer, then every client address a proxy claims (X-Forwarded-For, X-Real-Ip)."""
    address = getattr(request.connection, "context", None)
    peer = getattr(address, "address", None)
    found: list[str | None] = [peer[0] if isinstance(peer, tuple) and peer else None]
    for header in ("X-Forwarded-For", "X-Real-Ip"):
        for value in request.headers.get_list(header):
            found.extend(part.strip() for part in value.split(",") if part.strip())
    return found


class MetricsHandler(tornado.web.RequestHandler):
    """``/_ss/metrics``: the Prometheus text exposition, to allowed addresses only."""

    def initialize(self, allow: AllowList) -> None:
        self.allow = allow

    def get(self) -> None:
        addresses = request_addresses(self.request)
        refused = next((a for a in addresses if not self.allow.allows(a)), False)
        if refused is not False:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"metrics are not served to {refused or 'this address'}: add it to metrics.allow "
                        "(or scrape from an allowed address, or on metrics.port)\n")
            return
        body, content_type = metrics.exposition()
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


class OpsFirstApplication(ChainedApplication):
    """A ChainedApplication whose probe and metrics paths skip the middleware chain, and which counts
    HTTP API requests by status (ss_api_requests_total)."""

    def find_handler(self, request, **kwargs: Any):
        if request.path in OPS_PATHS:
            return tornado.web.Application.find_handler(self, request, **kwargs)
        return super().find_handler(request, **kwargs)

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        if isinstance(handler, ApiHandler):
            metrics.api_request(handler.get_status())
        super().log_request(handler)


def metrics_route(app: Any) -> list:
    """The /_ss/metrics route, when metrics are on (raises StartupError for a bad metrics.allow)."""
    settings = app.config.metrics
    if not settings.enabled:
        return []
    return [(METRICS_PATH, MetricsHandler, {"allow": AllowList(list(settings.allow))})]


def probe_routes(app: Any) -> list:
    """/_ss/health, /_ss/ready, and /_ss/metrics unless it has a port of its own (metrics.port)."""
    args = {"app": app}
    routes = [(HEALTH_PATH, HealthHandler, args), (READY_PATH, ReadyHandler, args)]
    if not app.config.metrics.port:
        routes += metrics_route(app)
    return routes


def metrics_application(app: Any) -> tornado.web.Application:
    """What ``metrics.port`` serves: the metrics and the two probes, nothing of the app."""
    return tornado.web.Application([(HEALTH_PATH, HealthHandler, {"app": app}),
                                    (READY_PATH, ReadyHandler, {"app": app}), *metrics_route(app)])
