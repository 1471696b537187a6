#!/usr/bin/env python3
"""Benchmark ss against its peers and print one table (issue 7).

Each benchmark starts its server(s) pinned to core 0, drives them with the
Node load generator pinned to core 1, measures for a fixed time, and stops
everything. Medians of --rounds rounds (3); --quick is 1 short round. Results
go to bench/results/latest.json; server logs to bench/results/logs/.

    bench/run.sh [--quick]            # installs the peers first; what `make bench` runs
    .venv/bin/python bench/run.py --render bench/results/latest.json   # table again, no run
    .venv/bin/python bench/run.py --quick --only ss,tornado --scenarios seq,pipe
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib.procs import (BENCH, CLIENT_CPU, ROOT, SERVER_CPU, LoadgenError, Redis, Server, ServerFailed,
                            cpu_seconds, free_port, rss_kb, run_loadgen)
from benchlib.report import Results, render
from benchlib.targets import MAIN_PY, TARGETS, Target

SCENARIOS = ["seq", "pipe", "fanout500", "fanout1000", "idle", "storm", "xuser", "startup", "assets"]

# Which result fields become which figures.
FIELDS = {
    "seq": ["calls_per_s", "p50_ms", "p99_ms"],
    "pipe": ["calls_per_s", "p99_ms", "fairness", "calls_per_cpu_s"],
    "fanout": ["deliveries_per_s", "deliveries_per_s_under_limit", "max_rate_under_limit", "deliveries_per_cpu_s"],
    "xuser": ["p50_ms", "p99_ms"],
}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def short(err: Exception) -> str:
    return str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.results = Results()
        self.raw: list[dict] = []
        self.redis: Redis | None = None
        self.round = 0

    # -- helpers -----------------------------------------------------------

    def loadgen_args(self, target: Target, scenario: str, url: str) -> list[str]:
        o = self.o
        common = ["--proto", target.proto, "--url", url, "--warmup", str(o.warmup), "--duration", str(o.duration)]
        if scenario == "seq":
            return common + ["--scenario", "rpc", "--conns", "1", "--inflight", "1"]
        if scenario == "pipe":
            return common + ["--scenario", "rpc", "--conns", "50", "--inflight", "10"]
        if scenario.startswith("fanout"):
            return common + ["--scenario", "fanout", "--clients", scenario[len("fanout"):], "--step", str(o.step)]
        raise ValueError(scenario)

    def figure_prefix(self, target: Target, scenario: str) -> str:
        if target.http:
            return scenario + "_http"
        if scenario.startswith("fanout"):
            return scenario + ("_redis" if target.redis else "") + target.row_suffix
        return scenario + target.row_suffix

    def record(self, target: Target, scenario: str, result: dict) -> None:
        # Throughput per second of server CPU: on a box shared with other work
        # the server does not always get its whole core, and this figure holds
        # still when that varies (the plain one does not).
        cpu = result.get("server_cpu")
        for rate, per_cpu in (("calls_per_s", "calls_per_cpu_s"), ("deliveries_per_s", "deliveries_per_cpu_s")):
            if rate in result and cpu:
                result[per_cpu] = round(result[rate] / cpu)
        self.raw.append({"round": self.round, "target": target.name, "scenario": scenario, "result": result})
        prefix = self.figure_prefix(target, scenario)
        for field in FIELDS["fanout" if scenario.startswith("fanout") else scenario]:
            self.results.add(f"{prefix}.{field}", target.column, result.get(field),
                             result.get("client_cpu"), result.get("server_cpu"))

    def mark_na(self, target: Target, scenario: str, reason: str) -> None:
        self.raw.append({"round": self.round, "target": target.name, "scenario": scenario, "na": reason})
        prefix = self.figure_prefix(target, scenario)
        for field in FIELDS["fanout" if scenario.startswith("fanout") else scenario]:
            self.results.mark_na(f"{prefix}.{field}", target.column, reason)

    def na_reason(self, err: Exception) -> str:
        if isinstance(err, LoadgenError) and err.not_implemented:
            return f"n/a (not implemented: {short(err)})"
        if isinstance(err, ServerFailed):
            return f"n/a (server did not start: {short(err)})"
        return f"n/a (failed: {short(err)})"

    def redis_url(self, target: Target) -> str | None:
        if not target.redis:
            return None
        if self.redis is None:
            self.redis = Redis().start()
        self.redis.command("FLUSHALL")
        return self.redis.url

    # -- benchmarks ----------------------------------------------------------

    def traffic(self, target: Target, scenarios: list[str]) -> None:
        """RPC and fan-out scenarios against one server process."""
        try:
            server = target.server(self.redis_url(target)).start()
        except ServerFailed as err:
            for s in scenarios:
                self.mark_na(target, s, self.na_reason(err))
            say(f"  {target.name}: {short(err)}")
            return
        with server:
            url = f"http://127.0.0.1:{server.port}"
            for s in scenarios:
                try:
                    r = run_loadgen(self.loadgen_args(target, s, url), server.pids(), timeout=self.o.timeout)
                except (LoadgenError, OSError) as err:
                    self.mark_na(target, s, self.na_reason(err))
                    say(f"  {target.name} {s}: {self.na_reason(err)}")
                    continue
                self.record(target, s, r)
                say(f"  {target.name} {s}: " + ", ".join(f"{k}={r.get(k)}" for k in
                    FIELDS["fanout" if s.startswith("fanout") else s] + ["client_cpu", "server_cpu"]))

    def idle(self, target: Target) -> None:
        """Memory per idle socket: a fresh server, a small warm-up, then RSS
        before and after opening --idle-clients sockets; and the server's CPU
        time for those handshakes (it does nothing else meanwhile)."""
        key = "idle" + ("_http" if target.http else "") + ("_redis" if target.redis else "")
        figures = [f"{key}.kb_per_conn", f"{key}.open_seconds", f"{key}.cpu_ms_per_open"]
        try:
            server = target.server(self.redis_url(target), tag="-idle").start()
        except ServerFailed as err:
            for figure in figures:
                self.results.mark_na(figure, target.column, self.na_reason(err))
            return
        with server:
            url = f"http://127.0.0.1:{server.port}"
            base = ["--proto", target.proto, "--url", url, "--scenario", "idle"]
            try:
                # Warm-up: first connections load code and fill caches that would
                # otherwise be charged to the sockets.
                run_loadgen(base + ["--clients", "50"], [server.pid], timeout=60)
                time.sleep(1.0)
                rss0 = rss_kb(server.pid)
                cpu0 = cpu_seconds([server.pid])

                def on_ready(msg):
                    cpu1 = cpu_seconds([server.pid])  # the handshakes are done: the server is idle from here
                    time.sleep(1.0)  # let the last handshakes settle
                    return {"rss_before_kb": rss0, "rss_after_kb": rss_kb(server.pid), "open_cpu_s": cpu1 - cpu0}

                r = run_loadgen(base + ["--clients", str(self.o.idle_clients)], [server.pid],
                                on_ready=on_ready, timeout=self.o.timeout)
            except (LoadgenError, OSError) as err:
                reason = self.na_reason(err)
                for figure in figures:
                    self.results.mark_na(figure, target.column, reason)
                say(f"  {target.name} idle: {reason}")
                return
        r["kb_per_conn"] = round((r["rss_after_kb"] - r["rss_before_kb"]) / r["clients"], 2)
        r["cpu_ms_per_open"] = round(r["open_cpu_s"] / r["clients"] * 1000, 3)
        self.raw.append({"round": self.round, "target": target.name, "scenario": key, "result": r})
        self.results.add(f"{key}.kb_per_conn", target.column, r["kb_per_conn"])
        self.results.add(f"{key}.open_seconds", target.column, r["open_seconds"])
        self.results.add(f"{key}.cpu_ms_per_open", target.column, r["cpu_ms_per_open"])
        say(f"  {target.name} idle: {r['kb_per_conn']} KB/socket, {r['open_seconds']} s to open {r['clients']}, "
            f"{r['cpu_ms_per_open']} ms server CPU each")

    def storm(self, target: Target) -> None:
        """The reconnect storm (loadgen `storm`): --storm-clients tabs connected with cookies and
        recovery offsets drop at once and all come back within --storm-window ms, while one more
        client keeps calling; a fresh server."""
        figures = ["storm.back_s", "storm.recovered_s", "storm.probe_p50_ms", "storm.probe_p99_ms",
                   "storm.cpu_ms_per_reconnect"]
        try:
            server = target.server(self.redis_url(target), tag="-storm").start()
        except ServerFailed as err:
            for figure in figures:
                self.results.mark_na(figure, target.column, self.na_reason(err))
            return
        with server:
            args = ["--proto", target.proto, "--url", f"http://127.0.0.1:{server.port}", "--scenario", "storm",
                    "--clients", str(self.o.storm_clients), "--window", str(self.o.storm_window)]
            try:
                r = run_loadgen(args, [server.pid], timeout=self.o.timeout)
            except (LoadgenError, OSError) as err:
                for figure in figures:
                    self.results.mark_na(figure, target.column, self.na_reason(err))
                say(f"  {target.name} storm: {self.na_reason(err)}")
                return
        r["cpu_ms_per_reconnect"] = round(r["server_cpu_s"] / r["clients"] * 1000, 3)
        self.raw.append({"round": self.round, "target": target.name, "scenario": "storm", "result": r})
        for figure in figures:
            field = figure.split(".", 1)[1]
            if field == "recovered_s" and not r.get("recovering"):
                self.results.mark_na(figure, target.column, "n/a (no recovery: its events carry no offsets)")
            else:
                self.results.add(figure, target.column, r.get(field), r.get("client_cpu"))
        say(f"  {target.name} storm: back in {r['back_s']} s, recovered in {r['recovered_s']} s "
            f"(recovering={r['recovering']}, failed={r['recovery_failed']}, new sessions={r['new_sessions']}, "
            f"retries={r['retries']}), probe p50 {r['probe_p50_ms']} p99 {r['probe_p99_ms']} ms "
            f"over {r['probe_calls']} calls, {r['cpu_ms_per_reconnect']} ms server CPU each")

    def xuser(self, target: Target) -> None:
        """publish.user across two instances sharing one Redis."""
        url = self.redis_url(target)
        try:
            a = target.server(url, tag="-a").start()
        except ServerFailed as err:
            self.mark_na(target, "xuser", self.na_reason(err))
            return
        with a:
            try:
                b = target.server(url, tag="-b").start()
            except ServerFailed as err:
                self.mark_na(target, "xuser", self.na_reason(err))
                return
            with b:
                args = ["--proto", target.proto, "--scenario", "xuser", "--url", f"http://127.0.0.1:{a.port}",
                        "--url2", f"http://127.0.0.1:{b.port}", "--warmup", str(self.o.warmup),
                        "--duration", str(self.o.duration)]
                try:
                    r = run_loadgen(args, [a.pid, b.pid], timeout=self.o.timeout)
                except (LoadgenError, OSError) as err:
                    self.mark_na(target, "xuser", self.na_reason(err))
                    say(f"  {target.name} xuser: {self.na_reason(err)}")
                    return
        self.record(target, "xuser", r)
        say(f"  {target.name} xuser: p50={r['p50_ms']} p99={r['p99_ms']} lost={r['lost']}")

    def startup(self) -> None:
        """Time from `python -m ss start` to the first 200 on / for a fresh
        `ss new` app: development with a warm cache (the second start), and
        production after `python -m ss assets`."""
        app = BENCH / "results" / "startup-app"
        if self.round == 1 or not app.exists():
            shutil.rmtree(app, ignore_errors=True)
            made = subprocess.run([str(MAIN_PY), "-m", "ss", "new", str(app)], cwd=app.parent,
                                  capture_output=True, text=True, timeout=120)
            if made.returncode != 0 or not app.exists():
                reason = f"n/a (not implemented: `ss new` failed: {short(Exception(made.stderr or made.stdout))})"
                self.results.mark_na("startup.dev_s", "ss", reason)
                self.results.mark_na("startup.prod_s", "ss", reason)
                say(f"  startup: {reason}")
                return
            self._startup_warm = False
        for env, key in (("development", "startup.dev_s"), ("production", "startup.prod_s")):
            try:
                if env == "production":
                    packed = subprocess.run(
                        [str(MAIN_PY), "-m", "ss", "assets"], cwd=app, capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, SS_ENV="production"))
                    if packed.returncode != 0:
                        raise RuntimeError(f"`ss assets` failed: {(packed.stderr or packed.stdout).strip()[-200:]}")
                runs = 2 if (env == "development" and not getattr(self, "_startup_warm", False)) else 1
                for i in range(runs):
                    port = free_port()
                    server = Server(f"startup-{env}", [str(MAIN_PY), "-m", "ss", "start", "--port", str(port)], app,
                                    {"SS_ENV": env}, port)
                    with server:
                        t0 = server.spawn()
                        t1 = server.wait_http("/", want=lambda s: s == 200, timeout=60)
                    if env == "development":
                        self._startup_warm = True
                    if i == runs - 1:  # the first development start fills the cache: not measured
                        self.results.add(key, "ss", round(t1 - t0, 3))
                        self.raw.append({"round": self.round, "scenario": key, "result": {"seconds": t1 - t0}})
                        say(f"  startup {env}: {t1 - t0:.3f} s")
            except (ServerFailed, RuntimeError, subprocess.TimeoutExpired) as err:
                self.results.mark_na(key, "ss", f"n/a (failed: {short(err)})")
                say(f"  startup {env}: failed: {short(err)}")

    def assets(self) -> None:
        """Asset figures come from bench/assets.py (the asset pipeline's own
        benchmark, owned with ss/assets/) when it exists: run it and carry its
        figures into ours. It prints "  <label>  <value> ms" lines; a --json
        option, if it grows one, is preferred."""
        script = BENCH / "assets.py"
        if not script.exists():
            self.results.extra["status"] = "n/a (bench/assets.py not present yet)"
            return
        rounds = "1" if self.o.quick else "3"
        helptext = subprocess.run([str(MAIN_PY), str(script), "--help"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=60).stdout
        out = BENCH / "results" / "assets.json"
        out.unlink(missing_ok=True)
        argv = [str(MAIN_PY), str(script), "--rounds", rounds]
        if "--json" in helptext:
            argv += ["--json", str(out)]
        say(f"  assets: {' '.join(argv[1:])}")
        try:
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            self.results.extra["status"] = "n/a (bench/assets.py timed out after 900 s)"
            return
        if proc.returncode != 0:
            self.results.extra["status"] = f"n/a (bench/assets.py exit {proc.returncode}: " \
                                           f"{(proc.stderr or proc.stdout).strip()[-300:]})"
            return
        if out.exists():
            self.results.extra.update(flatten(json.loads(out.read_text())))
            return
        for line in proc.stdout.splitlines():
            m = re.match(r"^\s*(.+?)\s+(\d+(?:\.\d+)?) ms\s*$", line)
            if m:
                self.results.extra[m.group(1).strip() + " (ms)"] = float(m.group(2))
            elif line.strip():
                self.results.extra.setdefault("notes", []).append(line.strip())
        say("  assets: " + "; ".join(f"{k} {v}" for k, v in self.results.extra.items() if k != "notes"))

    # -- the whole run ---------------------------------------------------------

    def run(self) -> int:
        o = self.o
        targets = [t for t in TARGETS if not o.only or t.name in o.only or t.column in o.only]
        started = time.time()
        try:
            for self.round in range(1, o.rounds + 1):
                say(f"== round {self.round}/{o.rounds}")
                for t in targets:
                    traffic = [s for s in SCENARIOS if s in t.scenarios and s in o.scenarios
                               and s in ("seq", "pipe", "fanout500", "fanout1000")]
                    if traffic:
                        self.traffic(t, traffic)
                if "idle" in o.scenarios:
                    for t in targets:
                        if "idle" in t.scenarios:
                            self.idle(t)
                if "storm" in o.scenarios:
                    for t in targets:
                        if "storm" in t.scenarios:
                            self.storm(t)
                if "xuser" in o.scenarios:
                    for t in targets:
                        if "xuser" in t.scenarios:
                            self.xuser(t)
                if "startup" in o.scenarios and any(t.column == "ss" for t in targets):
                    self.startup()
                # A long run that is cut short still leaves its finished rounds.
                self.write(started, quiet=True)
            if "assets" in o.scenarios:
                self.assets()
        finally:
            if self.redis:
                self.redis.stop()
        self.write(started)
        return 0

    def write(self, started: float, quiet: bool = False) -> None:
        o = self.o
        table = render(self.results)
        if not quiet:
            print(table)
        doc = {
            "meta": meta(o, started),
            "figures": self.results.to_json(),
            "targets": self.results.target_checks(),
            "assets": self.results.extra,
            "table": table.splitlines(),
            "raw": self.raw,
        }
        doc["meta"]["rounds_done"] = self.round
        o.json.parent.mkdir(parents=True, exist_ok=True)
        o.json.write_text(json.dumps(doc, indent=1))
        if not quiet:
            say(f"wrote {o.json}")


def flatten(data, prefix: str = "") -> dict:
    out = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, (int, float, str, bool)) or data is None:
        out[prefix] = data
    else:
        out[prefix] = json.dumps(data)
    return out


def version_of(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except OSError:
        return "?"


def meta(o, started: float) -> dict:
    git = version_of(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    # ss is measured as it is on disk: say when that differs from the commit.
    if version_of(["git", "-C", str(ROOT), "status", "--porcelain", "--", "ss", "bench"]):
        git += " + uncommitted changes in ss/ or bench/"
    return {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "git": git,
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "loadavg_end": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": version_of(["node", "--version"]),
        "pinning": {"servers": f"taskset -c {SERVER_CPU}", "loadgen": f"taskset -c {CLIENT_CPU}"},
        "settings": {"rounds": o.rounds, "warmup_s": o.warmup, "duration_s": o.duration,
                     "fanout_step_s": o.step, "idle_clients": o.idle_clients, "storm_clients": o.storm_clients,
                     "storm_window_ms": o.storm_window, "quick": o.quick},
    }


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Benchmark ss against raw Tornado, python-socketio and Node Socket.IO.")
    p.add_argument("--quick", action="store_true", help="1 short round (development)")
    p.add_argument("--rounds", type=int, help="rounds; the table shows medians (default 3, quick 1)")
    p.add_argument("--duration", type=float, help="seconds measured per figure (default 5, quick 2)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up before measuring (default 2, quick 1)")
    p.add_argument("--step", type=float, help="seconds per publish rate in the fan-out sweep (default 2, quick 1)")
    p.add_argument("--idle-clients", type=int, default=5000, help="sockets for the memory figure (5000)")
    p.add_argument("--storm-clients", type=int, help="tabs in the reconnect storm (5000, quick 1000)")
    p.add_argument("--storm-window", type=int, default=1000, help="ms over which the storm's tabs reconnect (1000)")
    p.add_argument("--only", default="", help="comma-separated targets: ss,ss+redis,tornado,py-socketio,node-socketio")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    p.add_argument("--timeout", type=float, default=300, help="seconds before one generator run is killed")
    p.add_argument("--json", type=Path, default=BENCH / "results" / "latest.json")
    o = p.parse_args(argv)
    o.rounds = o.rounds or (1 if o.quick else 3)
    o.duration = o.duration or (2 if o.quick else 5)
    o.warmup = o.warmup or (1 if o.quick else 2)
    o.step = o.step or (1 if o.quick else 2)
    o.storm_clients = o.storm_clients or (1000 if o.quick else 5000)
    o.only = {s for s in o.only.split(",") if s}
    o.scenarios = {s for s in o.scenarios.split(",") if s}
    unknown = o.scenarios - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return o


def rerender(path: Path) -> int:
    """Print the table again from a results file (after a report change)."""
    doc = json.loads(path.read_text())
    results = Results.from_json(doc)
    table = render(results)
    print(table)
    doc.update(figures=results.to_json(), targets=results.target_checks(), table=table.splitlines())
    path.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        sys.exit(rerender(Path(sys.argv[2])))
    sys.exit(Bench(parse_args()).run())
