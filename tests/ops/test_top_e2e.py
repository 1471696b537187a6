"""`python -m ss top`: reads a running server's /_ss/metrics and shows rates and percentiles of the last
interval; its quantiles match Prometheus' histogram_quantile; errors say what to do."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from ss.testing import CallFailed, Client
from ss.top import diff, parse, quantile, render
from tests.conftest import free_port

ACTIONS = """
    import asyncio

    import ss

    class Actions(ss.Actions):
        async def slow(self):
            await asyncio.sleep(0.02)
            return True

        def broken(self):
            raise RuntimeError("kaput")

        async def shout(self):
            await ss.publish.broadcast("shout", 1)
            return True
"""


def test_quantile_interpolates_inside_the_bucket_as_prometheus_does():
    buckets = [(0.01, 10.0), (0.1, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == 0.01 + (0.1 - 0.01) * (50 - 10) / 80
    assert quantile(0.99, buckets) == 0.1 + 0.9 * (99 - 90) / 10
    assert quantile(0.5, []) is None and quantile(0.5, [(float("inf"), 0.0)]) is None
    assert quantile(0.5, [(0.5, 0.0), (float("inf"), 4.0)]) == 0.5     # all above the last bound


def test_diff_shows_the_last_interval_only():
    before = parse('ss_calls_total{action="app.a",code="ok"} 100\n'
                   'ss_call_duration_seconds_bucket{action="app.a",le="0.01"} 100\n'
                   'ss_call_duration_seconds_bucket{action="app.a",le="+Inf"} 100\n')
    now = parse('ss_calls_total{action="app.a",code="ok"} 110\n'
                'ss_calls_total{action="app.a",code="action_failed"} 2\n'
                'ss_call_duration_seconds_bucket{action="app.a",le="0.01"} 100\n'
                'ss_call_duration_seconds_bucket{action="app.a",le="+Inf"} 112\n'
                'ss_connections_open{transport="websocket"} 3\n')
    view = diff(before, now, 2.0)
    row = view.actions[0]
    assert (row.action, row.rate, row.errors) == ("app.a", 6.0, 1.0)
    assert row.p50 == 0.01 and view.connections == {"websocket": 3.0} and view.codes == {"action_failed": 1.0}
    screen = render(view, "http://x/_ss/metrics")
    assert "3 open (websocket 3)" in screen and "errors 1.0/s" in screen


async def test_top_once_against_a_running_server(make_app, ss_process):
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": "config = {}\n"})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)])
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    client = await Client(f"ws://127.0.0.1:{port}/_ss/socket").connect()
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            await client.call("app.slow")
            await client.call("app.shout")
            try:
                await client.call("app.broken")
            except CallFailed:
                pass

    task = asyncio.ensure_future(load())
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ss", "top", "--once", "--interval", "1",
                                                                  "--port", str(port)],
                                     cwd=root, capture_output=True, text=True, timeout=60)
    stop.set()
    await task
    await client.close()
    assert result.returncode == 0, result.stderr
    screen = result.stdout
    assert f"http://127.0.0.1:{port}/_ss/metrics" in screen
    assert "1 open (websocket 1)" in screen
    slow = next(line for line in screen.splitlines() if line.startswith("app.slow"))
    rate, errors, p50, p99 = slow.split()[1:5]
    # 20 ms sleeps, estimated inside their bucket
    assert float(rate) > 1 and float(errors) == 0 and p50.endswith("ms") and 10 <= float(p50[:-2]) <= 50
    broken = next(line for line in screen.splitlines() if line.startswith("app.broken"))
    assert float(broken.split()[2]) > 0 and "action_failed" in screen
    assert "published broadcast" in screen and "delivered broadcast" in screen


def test_top_says_what_to_do_when_it_cannot_read(make_app, ss_process, tmp_path):
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "ss", "top", "--once", "--url", f"127.0.0.1:{port}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}/_ss/metrics")
    assert "is the server running" in result.stderr

    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": "config = {}\n"})
    server = ss_process(root, ["start", "--port", str(port)], env={"SS_ENV": "production"})
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    result = subprocess.run([sys.executable, "-m", "ss", "top", "--once", "--port", str(port)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "metrics are off (set metrics.enabled" in result.stderr
