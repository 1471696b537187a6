"""Collects per-round values, takes medians, prints the table and checks the
issue's targets. Every cell is either a measured median or says why there is
none ("n/a (not implemented)", "n/a (failed: ...)", "n/a (not applicable)").
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .procs import CLIENT_BOUND
from .targets import COLUMNS, PEERS


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    better: str  # "higher" or "lower"


FIGURES = [
    Figure("seq.calls_per_s", "RPC sequential, 1 conn", "calls/s", "higher"),
    Figure("seq.p50_ms", "RPC sequential p50", "ms", "lower"),
    Figure("seq.p99_ms", "RPC sequential p99", "ms", "lower"),
    Figure("pipe.calls_per_s", "RPC 50 conns x 10 in flight", "calls/s", "higher"),
    Figure("pipe.p99_ms", "RPC 50x10 p99", "ms", "lower"),
    Figure("pipe.fairness", "RPC 50x10 fairness min/max", "ratio", "higher"),
    Figure("pipe.calls_per_cpu_s", "RPC 50x10 per server CPU-second", "calls/cpu-s", "higher"),
]
for _n in (500, 1000):
    for _suffix, _name in (("", ""), ("_redis", " [redis]")):
        FIGURES += [
            Figure(f"fanout{_n}{_suffix}.deliveries_per_s", f"Broadcast to {_n}{_name}, burst", "msg/s", "higher"),
            Figure(f"fanout{_n}{_suffix}.deliveries_per_s_under_limit",
                   f"Broadcast to {_n}{_name}, p99<100ms", "msg/s", "higher"),
            Figure(f"fanout{_n}{_suffix}.max_rate_under_limit", f"  publish rate at p99<100ms{_name}", "pub/s", "higher"),
            Figure(f"fanout{_n}{_suffix}.deliveries_per_cpu_s", f"  burst per server CPU-second{_name}", "msg/cpu-s",
                   "higher"),
        ]
FIGURES += [  # --workers 2 (Redis), beside the one-worker rows above: the scaling factor on this machine
    Figure("pipe_2w.calls_per_s", "RPC 50x10, --workers 2 [redis]", "calls/s", "higher"),
    Figure("pipe_2w.p99_ms", "RPC 50x10 p99, --workers 2 [redis]", "ms", "lower"),
    Figure("pipe_2w.calls_per_cpu_s", "  per server CPU-second, --workers 2", "calls/cpu-s", "higher"),
    Figure("fanout500_redis_2w.deliveries_per_s", "Broadcast to 500, --workers 2 [redis], burst", "msg/s", "higher"),
    Figure("fanout500_redis_2w.deliveries_per_cpu_s", "  burst per server CPU-second, --workers 2", "msg/cpu-s",
           "higher"),
]
# Over HTTP: ss's fallback transport beside the peers' long-polling (their fallback).
FIGURES += [
    Figure("seq_http.calls_per_s", "RPC sequential, 1 conn [http]", "calls/s", "higher"),
    Figure("seq_http.p50_ms", "RPC sequential p50 [http]", "ms", "lower"),
    Figure("seq_http.p99_ms", "RPC sequential p99 [http]", "ms", "lower"),
    Figure("pipe_http.calls_per_s", "RPC 50 conns x 10 in flight [http]", "calls/s", "higher"),
    Figure("pipe_http.p99_ms", "RPC 50x10 p99 [http]", "ms", "lower"),
    Figure("pipe_http.fairness", "RPC 50x10 fairness min/max [http]", "ratio", "higher"),
    Figure("pipe_http.calls_per_cpu_s", "RPC 50x10 per server CPU-second [http]", "calls/cpu-s", "higher"),
    Figure("fanout500_http.deliveries_per_s", "Broadcast to 500 [http], burst", "msg/s", "higher"),
    Figure("fanout500_http.deliveries_per_s_under_limit", "Broadcast to 500 [http], p99<100ms", "msg/s", "higher"),
    Figure("fanout500_http.max_rate_under_limit", "  publish rate at p99<100ms [http]", "pub/s", "higher"),
    Figure("fanout500_http.deliveries_per_cpu_s", "  burst per server CPU-second [http]", "msg/cpu-s", "higher"),
]
FIGURES += [
    Figure("xuser.p50_ms", "Cross-instance publish.user p50 [redis]", "ms", "lower"),
    Figure("xuser.p99_ms", "Cross-instance publish.user p99 [redis]", "ms", "lower"),
    Figure("idle.kb_per_conn", "Memory per idle socket (5000)", "KB", "lower"),
    Figure("idle.open_seconds", "Time to open 5000 sockets", "s", "lower"),
    Figure("idle.cpu_ms_per_open", "  server CPU per handshake", "ms", "lower"),
    # Sessions in Redis, as in production (the rows above: the embedded store, in the server's own process).
    Figure("idle_redis.kb_per_conn", "Memory per idle socket (5000) [redis]", "KB", "lower"),
    Figure("idle_redis.open_seconds", "Time to open 5000 sockets [redis]", "s", "lower"),
    Figure("idle_redis.cpu_ms_per_open", "  server CPU per handshake [redis]", "ms", "lower"),
    Figure("idle_http.kb_per_conn", "Memory per idle connection (5000) [http]", "KB", "lower"),
    Figure("idle_http.open_seconds", "Time to open 5000 connections [http]", "s", "lower"),
    Figure("idle_http.cpu_ms_per_open", "  server CPU per open [http]", "ms", "lower"),
    Figure("storm.back_s", "Reconnect storm: all back", "s", "lower"),
    Figure("storm.recovered_s", "Reconnect storm: all back and recovered", "s", "lower"),
    Figure("storm.probe_p50_ms", "  connected client's calls p50 meanwhile", "ms", "lower"),
    Figure("storm.probe_p99_ms", "  connected client's calls p99 meanwhile", "ms", "lower"),
    Figure("storm.cpu_ms_per_reconnect", "  server CPU per reconnect", "ms", "lower"),
    Figure("startup.dev_s", "Start to first 200, development", "s", "lower"),
    Figure("startup.prod_s", "Start to first 200, production+pack", "s", "lower"),
]

# The targets, as (description, check(results) -> bool | None).
TARGETS_TEXT = [
    ("sequential RPC >= 0.9x raw Tornado", "seq.calls_per_s", "tornado", ">=", 0.9),
    ("50x10 RPC >= 2x python-socketio", "pipe.calls_per_s", "py-socketio", ">=", 2.0),
    ("50x10 RPC >= raw Tornado", "pipe.calls_per_s", "tornado", ">=", 1.0),
    ("50x10 fairness >= 0.8", "pipe.fairness", None, ">=", 0.8),
    ("fan-out 500 >= 1.5x Node Socket.IO", "fanout500.deliveries_per_s", "node-socketio", ">=", 1.5),
    ("fan-out 500 >= 3x python-socketio", "fanout500.deliveries_per_s", "py-socketio", ">=", 3.0),
    ("fan-out 500 [redis] >= 1.5x Node Socket.IO", "fanout500_redis.deliveries_per_s", "node-socketio", ">=", 1.5),
    ("fan-out 500 [redis] >= 3x python-socketio", "fanout500_redis.deliveries_per_s", "py-socketio", ">=", 3.0),
    ("[http] sequential RPC >= 2x python-socketio polling", "seq_http.calls_per_s", "py-socketio", ">=", 2.0),
    ("[http] 50x10 RPC >= 2x python-socketio polling", "pipe_http.calls_per_s", "py-socketio", ">=", 2.0),
    ("[http] fan-out 500 >= 2x python-socketio polling", "fanout500_http.deliveries_per_s", "py-socketio", ">=", 2.0),
    ("cross-instance publish.user p99 < 5 ms", "xuser.p99_ms", None, "<", 5.0),
    ("memory per idle socket <= 16 KB", "idle.kb_per_conn", None, "<=", 16.0),
    ("memory per idle socket < 13 KB (round two)", "idle.kb_per_conn", None, "<", 13.0),
    ("memory per idle socket below raw Tornado", "idle.kb_per_conn", "tornado", "<", 1.0),
    ("opening 5000 sockets <= 1.2x raw Tornado", "idle.open_seconds", "tornado", "<=", 1.2),
    ("server CPU per handshake <= 1.2x raw Tornado", "idle.cpu_ms_per_open", "tornado", "<=", 1.2),
    ("server CPU per handshake [redis] <= 1.2x raw Tornado", "idle_redis.cpu_ms_per_open", "tornado", "<=", 1.2),
    ("reconnect storm: all back and recovered < 20 s", "storm.recovered_s", None, "<", 20.0),
    ("reconnect storm: connected client's p99 < 100 ms", "storm.probe_p99_ms", None, "<", 100.0),
    ("development start < 0.5 s", "startup.dev_s", None, "<", 0.5),
]


ASSET_TARGETS = [
    ("CSS save-to-browser-update < 100 ms", "save .styl", 100.0),
    ("cold pack < 2 s (bench/assets.py app: skeleton + 40 modules)", "cold pack", 2000.0),
]


@dataclass
class Cell:
    rounds: list = field(default_factory=list)        # measured values, one per round
    client_cpu: list = field(default_factory=list)
    server_cpu: list = field(default_factory=list)
    na: str | None = None                            # why there is no value

    @property
    def median(self):
        return statistics.median(self.rounds) if self.rounds else None

    @property
    def client_bound(self) -> bool:
        return bool(self.client_cpu) and statistics.median(self.client_cpu) >= CLIENT_BOUND


class Results:
    def __init__(self):
        self.cells: dict[tuple[str, str], Cell] = {}
        self.extra: dict = {}  # figures from outside the table (assets), by key

    def cell(self, key: str, column: str) -> Cell:
        return self.cells.setdefault((key, column), Cell())

    def add(self, key: str, column: str, value, client_cpu=None, server_cpu=None) -> None:
        c = self.cell(key, column)
        if value is None:
            return
        c.rounds.append(value)
        if client_cpu is not None:
            c.client_cpu.append(client_cpu)
        if server_cpu is not None:
            c.server_cpu.append(server_cpu)

    def mark_na(self, key: str, column: str, reason: str) -> None:
        c = self.cell(key, column)
        if not c.rounds and c.na is None:
            c.na = reason

    def peer_cell(self, key: str, peer: str) -> Cell | None:
        """A peer's cell; [redis] rows compare against the peer's plain run
        (the peers broadcast within one process, as their users would)."""
        c = self.cells.get((key, peer))
        if (c is None or (not c.rounds and c.na is None)) and "_redis." in key:
            c = self.cells.get((key.replace("_redis.", "."), peer))
        return c

    def ratio(self, key: str, peer: str):
        b_cell = self.peer_cell(key, peer)
        a_cell = self.cells.get((key, "ss"))
        a, b = (a_cell.median if a_cell else None), (b_cell.median if b_cell else None)
        if a is None or b in (None, 0):
            return None
        return a / b

    @classmethod
    def from_json(cls, doc: dict) -> "Results":
        """Rebuild from a latest.json written by to_json (to re-render a table)."""
        r = cls()
        for key, row in doc.get("figures", {}).items():
            for col, v in row["values"].items():
                if not v["rounds"] and not v.get("na"):
                    continue  # an empty cell an older report wrote: not a figure
                c = r.cell(key, col)
                c.rounds, c.na = list(v["rounds"]), v.get("na")
                c.client_cpu, c.server_cpu = list(v.get("client_cpu") or []), list(v.get("server_cpu") or [])
        r.extra = dict(doc.get("assets") or {})
        return r

    def to_json(self) -> dict:
        out: dict = {}
        for f in FIGURES:
            row = {"label": f.label, "unit": f.unit, "better": f.better, "values": {}, "ratio_ss_over": {}}
            for col in COLUMNS:
                c = self.cells.get((f.key, col))
                if c is None:
                    continue
                row["values"][col] = {
                    "median": c.median, "rounds": c.rounds, "na": None if c.rounds else c.na,
                    "client_bound": c.client_bound,
                    "client_cpu": c.client_cpu, "server_cpu": c.server_cpu,
                }
            for peer in PEERS:
                r = self.ratio(f.key, peer)
                if r is not None:
                    row["ratio_ss_over"][peer] = round(r, 3)
            if row["values"]:
                out[f.key] = row
        return out

    def target_checks(self) -> list[dict]:
        checks = []
        for text, key, peer, op, bound in TARGETS_TEXT:
            ss_cell = self.cells.get((key, "ss"))
            value = self.ratio(key, peer) if peer else (ss_cell.median if ss_cell else None)
            ok = None
            if value is not None:
                ok = {">=": value >= bound, "<": value < bound, "<=": value <= bound}[op]
            checks.append({"target": text, "value": None if value is None else round(value, 3), "ok": ok})
        # Asset targets: figures from bench/assets.py, found by their label.
        for text, needle, bound in ASSET_TARGETS:
            value = next((v for k, v in self.extra.items() if needle in k and isinstance(v, (int, float))), None)
            checks.append({"target": text, "value": value, "ok": None if value is None else value < bound})
        return checks


def fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    rates = ("calls/s", "msg/s", "pub/s", "calls/cpu-s", "msg/cpu-s")
    if unit in rates and value >= 10000:
        return f"{value / 1000:.1f}k"
    if unit in rates:
        return f"{value:.0f}"
    if unit in ("ratio",):
        return f"{value:.2f}"
    if unit == "s":
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def render(results: Results) -> str:
    """The table: one row per figure, a column per target, then ss/peer ratios.
    `*` marks a figure where the load generator's own CPU was >= 85%: the
    client may have been the limit, so the server could do more."""
    head = ["figure", "unit"] + COLUMNS + [f"ss/{p}" for p in PEERS]
    rows = [head]
    for f in FIGURES:
        cells = [results.cells.get((f.key, "ss"))] + [results.peer_cell(f.key, p) for p in PEERS]
        if all(c is None for c in cells):
            continue
        row = [f.label, f.unit]
        for c in cells:
            if c is None:
                row.append("")
            elif c.rounds:
                row.append(fmt(c.median, f.unit) + ("*" if c.client_bound else ""))
            else:
                row.append(c.na or "n/a")
        for p in PEERS:
            r = results.ratio(f.key, p)
            row.append("" if r is None else f"{r:.2f}")
        rows.append(row)
    # n/a reasons can be long: print them in full below, the table gets a short tag.
    notes: list[str] = []
    for row in rows[1:]:
        for i in range(2, 2 + len(COLUMNS)):
            if row[i].startswith("n/a") and len(row[i]) > 20:
                if row[i] not in notes:
                    notes.append(row[i])
                row[i] = f"n/a[{notes.index(row[i]) + 1}]"
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(v.ljust(widths[i]) if i < 2 else v.rjust(widths[i]) for i, v in enumerate(r)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("* client-bound: the load generator used >= 85% of its core; the server may do more.")
    lines.append("ratios are ss/peer: above 1 is better for throughput, below 1 for latency, memory, time.")
    for i, note in enumerate(notes):
        lines.append(f"[{i + 1}] {note}")
    if results.extra:
        lines.append("")
        lines.append("assets (bench/assets.py):")
        for k, v in results.extra.items():
            if k == "notes":
                lines.extend(f"  {note}" for note in v)
            else:
                lines.append(f"  {k}: {v}")
    lines.append("")
    lines.append("targets (issue 7):")
    for c in results.target_checks():
        mark = {True: "ok  ", False: "MISS", None: "n/a "}[c["ok"]]
        lines.append(f"  {mark} {c['target']}" + ("" if c["value"] is None else f"  ({c['value']})"))
    return "\n".join(lines)
