"""Prometheus metrics of an ss process, served at ``/_ss/metrics`` (ss/web/probes.py) with prometheus_client.

Nothing is counted until :func:`setup` runs (``metrics.enabled``, at server start):
until then every recording function returns at once. Hot paths only count, in
plain dicts here (no string formatting, no lock, no ``labels()`` call per event);
:func:`flush` hands the sums to prometheus_client each second and before every
scrape. Labels stay bounded: action names
come from the API tree (anything else is ``(unknown)``), codes from
``ss.errors.ErrorCode``, kinds and reasons from short fixed lists.

Under ``--workers`` the supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder before forking; each worker then writes its values to its own
memory-mapped files there, and a scrape of any worker adds them all up
(prometheus_client's multiprocess mode). Gauges are summed over live workers.

The list (docs/operations.md says what each means and what to alert on):

======================================  ===========================  ==========================================
name                                    labels                       what
======================================  ===========================  ==========================================
ss_connections_open                     transport                    connections open now (gauge)
ss_connections_opened_total             transport                    connections opened
ss_connections_closed_total             reason                       connections closed, by why
ss_calls_total                          action, code                 calls answered, ``code`` ok or an error code
ss_call_duration_seconds                action                       time from receiving a call to its reply
ss_api_requests_total                   status                       HTTP API requests, by HTTP status
ss_pubsub_published_total               kind                         messages published (user, channel, broadcast, socket)
ss_pubsub_delivered_total               kind                         messages queued to this process's sockets
ss_slow_reader_disconnects_total                                     sockets cut off for not reading
ss_outgoing_queued_bytes                                             bytes waiting in socket buffers (sampled 1/s)
ss_store_command_duration_seconds       command                      Redis round trips (commands, pipelines)
ss_store_errors_total                   kind                         store commands that failed (connection, ...)
ss_store_reconnects_total               link                         pub/sub link back after a loss; failovers
ss_sessions_created_total                                            sessions created
ss_rate_limited_total                   door                         calls or API requests refused (rate_limited)
ss_recovery_served_total                                             streams replayed to a reconnected socket
ss_recovery_failed_total                reason                       streams that could not be replayed
ss_asset_compile_seconds                kind                         development asset compiles, by file type
======================================  ===========================  ==========================================
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any, Iterable

__all__ = ["setup", "enabled", "flush", "exposition", "worker_exited", "UNKNOWN_ACTION"]

UNKNOWN_ACTION = "(unknown)"
#: seconds buckets of call and store durations: 0.5 ms .. 10 s
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ASSET_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ASSET_KINDS = frozenset({".coffee", ".js", ".styl", ".sass", ".scss", ".css", ".jade", ".pug", ".html"})
PUBSUB_KINDS = ("user", "channel", "broadcast", "socket")

_on = False
_registry: Any = None          # single-process mode: the private registry scraped by exposition()
_multiprocess_dir: str | None = None
_m: dict[str, Any] = {}        # name -> metric
_children: dict[tuple, Any] = {}  # (name, *labels) -> the label child, looked up once


def enabled() -> bool:
    return _on


def setup() -> None:
    """Create the metrics (once per process; again after a fork): counting starts now."""
    global _on, _registry, _multiprocess_dir
    if _on and _m.get("pid") == os.getpid():
        return
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

    _multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    if _multiprocess_dir:
        # prometheus_client picks its value class when first imported; the supervisor may have
        # imported it before setting the folder, so choose again: values go to per-pid files.
        values.ValueClass = values.MultiProcessValue()
        _registry = None  # metrics are read from the files at each scrape (exposition)
    else:
        _registry = CollectorRegistry()
        ProcessCollector(registry=_registry)
        PlatformCollector(registry=_registry)
        GCCollector(registry=_registry)
    registry = _registry
    _children.clear()
    _m.clear()
    _m["pid"] = os.getpid()

    def counter(name: str, doc: str, labels: Iterable[str] = ()) -> None:
        _m[name] = Counter(name, doc, list(labels), registry=registry)

    counter("ss_connections_opened", "Connections opened", ["transport"])
    counter("ss_connections_closed", "Connections closed, by reason", ["reason"])
    _m["ss_connections_open"] = Gauge("ss_connections_open", "Connections open now", ["transport"],
                                      registry=registry, multiprocess_mode="livesum")
    counter("ss_calls", "Calls answered, by action and outcome code (ok or an error code)", ["action", "code"])
    _m["ss_call_duration_seconds"] = Histogram("ss_call_duration_seconds", "Time from a call's arrival to its reply",
                                               ["action"], buckets=DURATION_BUCKETS, registry=registry)
    counter("ss_api_requests", "HTTP API requests, by HTTP status", ["status"])
    counter("ss_pubsub_published", "Pub/sub messages published by this process", ["kind"])
    counter("ss_pubsub_delivered", "Pub/sub messages queued to this process's sockets", ["kind"])
    counter("ss_slow_reader_disconnects", "Sockets disconnected for not reading (limits.max_outgoing_bytes)")
    _m["ss_outgoing_queued_bytes"] = Gauge("ss_outgoing_queued_bytes", "Bytes queued to sockets, sampled each second",
                                           registry=registry, multiprocess_mode="livesum")
    _m["ss_store_command_duration_seconds"] = Histogram(
        "ss_store_command_duration_seconds", "Round trips to the store (Redis commands and pipelines)", ["command"],
        buckets=DURATION_BUCKETS, registry=registry)
    counter("ss_store_errors", "Store commands that failed, by kind", ["kind"])
    counter("ss_store_reconnects", "Store links re-established after a loss (pubsub) or a master switch (failover)",
            ["link"])
    counter("ss_sessions_created", "Sessions created")
    counter("ss_rate_limited", "Calls (socket) or API requests (http) refused with rate_limited", ["door"])
    counter("ss_recovery_served", "Pub/sub streams replayed to a reconnected socket")
    counter("ss_recovery_failed", "Pub/sub streams that could not be replayed, by reason", ["reason"])
    _m["ss_asset_compile_seconds"] = Histogram("ss_asset_compile_seconds", "Development asset compiles, by file type",
                                               ["kind"], registry=registry,
                                               buckets=ASSET_BUCKETS)
    _on = True


def reset_for_tests() -> None:
    global _on
    _on = False
    _m.clear()
    _children.clear()
    _counts.clear()
    _hists.clear()
    _sets.clear()
    _calls.clear()


def _child(name: str, *labels: str) -> Any:
    key = (name, *labels)
    child = _children.get(key)
    if child is None:
        metric = _m[name]
        child = _children[key] = metric.labels(*labels) if labels else metric
    return child


# ---- recording: each returns at once when metrics are off ----
#
# prometheus_client's own inc()/observe() take a lock each time, and a histogram walks its
# buckets in Python: about 3 µs per call in one process, 5 µs in multiprocess mode. So
# events are added up here in plain dicts (tens of nanoseconds) and handed to
# prometheus_client by flush(): each second (serving.py) and before every scrape.

_counts: dict[tuple, float] = {}   # (metric, *labels) -> amount to add (counters; gauges up or down)
_hists: dict[tuple, list] = {}     # (metric, *labels) -> [count per bucket..., sum]
_sets: dict[tuple, float] = {}     # (metric, *labels) -> value to set (gauges)
_calls: dict[tuple, list] = {}     # (action, code) -> [count per duration bucket..., sum]: both call metrics
_BOUNDS = DURATION_BUCKETS + (float("inf"),)
_ASSET_BOUNDS = ASSET_BUCKETS + (float("inf"),)


def _add(key: tuple, amount: float = 1) -> None:
    _counts[key] = _counts.get(key, 0) + amount


def _observe(key: tuple, seconds: float, bounds: tuple = _BOUNDS) -> None:
    counts = _hists.get(key)
    if counts is None:
        counts = _hists[key] = [0] * (len(bounds) + 1)
    counts[bisect_left(bounds, seconds)] += 1
    counts[-1] += seconds


def flush() -> None:
    """Hand what was added up since the last flush to prometheus_client (its files under --workers)."""
    global _counts, _hists, _sets, _calls
    if not _on:
        return
    counts, _counts = _counts, {}
    hists, _hists = _hists, {}
    sets, _sets = _sets, {}
    calls, _calls = _calls, {}
    for (action, code), buckets in calls.items():
        counts[("ss_calls", action, code)] = sum(buckets[:-1])
        merged = hists.get(("ss_call_duration_seconds", action))
        if merged is None:
            hists[("ss_call_duration_seconds", action)] = list(buckets)
        else:
            for index, count in enumerate(buckets):
                merged[index] += count
    for key, amount in counts.items():
        if amount:
            _child(*key).inc(amount)
    for key, value in sets.items():
        _child(*key).set(value)
    if hists:
        from .realtime.compat import histogram_add  # observe()'s work, once per bucket instead of per event

        for key, buckets in hists.items():
            histogram_add(_child(*key), buckets[:-1], buckets[-1])


def connection_opened(transport: str) -> None:
    if _on:
        _add(("ss_connections_opened", transport))
        _add(("ss_connections_open", transport))


def connection_closed(transport: str, reason: str) -> None:
    if _on:
        _add(("ss_connections_open", transport), -1)
        _add(("ss_connections_closed", reason))


def call_done(actions: dict, method: str, code: str, seconds: float) -> None:
    """One call answered: ``method`` counts under its name only when it is in ``actions`` (the API tree)."""
    if _on:
        key = (method if method in actions else UNKNOWN_ACTION, code)
        counts = _calls.get(key)
        if counts is None:
            counts = _calls[key] = [0] * (len(_BOUNDS) + 1)
        counts[bisect_left(_BOUNDS, seconds)] += 1
        counts[-1] += seconds


def api_request(status: int) -> None:
    if _on:
        _add(("ss_api_requests", str(status)))


def published(kind: str, count: int = 1) -> None:
    if _on:
        _add(("ss_pubsub_published", kind), count)


def delivered(kind: str, count: int) -> None:
    if _on:
        _add(("ss_pubsub_delivered", kind), count)


def slow_reader() -> None:
    if _on:
        _add(("ss_slow_reader_disconnects",))


def queued_bytes(total: int) -> None:
    if _on:
        _sets[("ss_outgoing_queued_bytes",)] = total


def store_command(command: str, seconds: float) -> None:
    if _on:
        _observe(("ss_store_command_duration_seconds", command), seconds)


def store_error(kind: str) -> None:
    if _on:
        _add(("ss_store_errors", kind))


def store_reconnect(link: str) -> None:
    if _on:
        _add(("ss_store_reconnects", link))


def session_created() -> None:
    if _on:
        _add(("ss_sessions_created",))


def rate_limited(door: str) -> None:
    if _on:
        _add(("ss_rate_limited", door))


def recovery(served: int, failed: Iterable[str]) -> None:
    if _on:
        if served:
            _add(("ss_recovery_served",), served)
        for reason in failed:
            _add(("ss_recovery_failed", reason))


def asset_compiled(suffix: str, seconds: float) -> None:
    if _on:
        kind = suffix.lower() if suffix.lower() in ASSET_KINDS else "other"
        _observe(("ss_asset_compile_seconds", kind), seconds, _ASSET_BOUNDS)


def pubsub_kind(stream: str) -> str:
    """``user:42`` -> user, ``channel:room`` -> channel, ``broadcast`` -> broadcast (else other)."""
    head = stream.split(":", 1)[0]
    return head if head in PUBSUB_KINDS else "other"


# ---- reading ----

def exposition() -> tuple[bytes, str]:
    """(body, content type) of a scrape: this process's metrics, or every worker's under --workers."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    flush()
    if _multiprocess_dir:
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=_multiprocess_dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    if _registry is None:
        return b"", CONTENT_TYPE_LATEST
    return generate_latest(_registry), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """The supervisor reaped worker ``pid``: drop its live gauges (its counters stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid)

