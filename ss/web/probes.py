"""``/_ss/health`` and ``/_ss/ready``: what a load balancer or an orchestrator asks before sending traffic.

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
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
import tornado.web

from .middleware import ChainedApplication

__all__ = ["HealthHandler", "ReadyHandler", "readiness", "OpsFirstApplication", "OPS_PATHS",
           "HEALTH_PATH", "READY_PATH"]

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


class OpsFirstApplication(ChainedApplication):
    """A ChainedApplication whose probe and metrics paths skip the middleware chain."""

    def find_handler(self, request, **kwargs: Any):
        if request.path in OPS_PATHS:
            return tornado.web.Application.find_handler(self, request, **kwargs)
        return super().find_handler(request, **kwargs)


def probe_routes(app: Any) -> list:
    args = {"app": app}
    return [(HEALTH_PATH, HealthHandler, args), (READY_PATH, ReadyHandler, args)]
