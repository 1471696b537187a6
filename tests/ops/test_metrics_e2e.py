"""/_ss/metrics of a real server after a known workload, parsed with prometheus_client's own parser;
who may read it (metrics.allow, the peer and forwarded addresses, metrics.port, production)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

from prometheus_client.parser import text_string_to_metric_families

from ss.testing import CallFailed, Client
from tests.conftest import free_port
from tests.raw_socket import client_frame, open_raw_socket
from tests.tools.conftest import fetch

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        def square(self, number):
            return number * number

        def broken(self):
            raise RuntimeError("kaput")

        async def join(self, name):
            await self.session.channel.subscribe(name)
            return True

        async def shout(self, text):
            await ss.publish.broadcast("shout", text)
            return True

        async def tell(self, name, text):
            await ss.publish.channel(name, "told", text)
            return True

        async def flood(self, name, count):
            for _ in range(count):
                ss.publish.channel(name, "flood", "x" * 20000)
            await ss.publish.channel(name, "flood", "end")
            return True
"""


def samples(port: int, headers: dict | None = None) -> dict[tuple, float]:
    """{(sample name, (label pairs sorted)): value} of one scrape."""
    status, _, body = fetch(f"http://127.0.0.1:{port}/_ss/metrics", headers)
    assert status == 200, body
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def start(make_app, ss_process, config: str, env: dict | None = None, port: int | None = None):
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": f"config = {config}\n"})
    port = port or free_port()
    server = ss_process(root, ["start", "--port", str(port)], env=env)
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    return server, port


async def test_metrics_count_a_known_workload(make_app, ss_process, redis_url):
    prefix = f"metrics-{uuid.uuid4().hex[:8]}:"
    config = ("{'redis': {'key_prefix': %r}, 'limits': {'max_outgoing_bytes': 65536}, "
              "'limiter': {'enabled': True, 'websockets': {'rps': 5}}}" % prefix)
    server, port = start(make_app, ss_process, config, env={"SS_REDIS_URL": redis_url})
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    a, b = await Client(url).connect(), await Client(url).connect()
    outcomes: dict[str, int] = {}

    async def call(client, method, *args):
        try:
            result = await client.call(method, *args)
            outcomes[method, "ok"] = outcomes.get((method, "ok"), 0) + 1
            return result
        except CallFailed as exc:
            outcomes[method, exc.code] = outcomes.get((method, exc.code), 0) + 1
            return None

    # A burst over the rate limit (5 calls/s): some answered, the rest refused with rate_limited.
    await asyncio.gather(*(call(a, "app.square", n) for n in range(12)))
    assert outcomes.get(("app.square", "rate_limited"), 0) >= 1
    await asyncio.sleep(2.5)                                  # the buckets refill
    await call(b, "app.broken")
    await call(b, "app.no_such_action")
    await asyncio.sleep(1.2)
    await call(a, "app.join", "room")
    await call(b, "app.join", "room")
    await call(a, "app.tell", "room", "hi")                   # channel: published 1, delivered 2
    await asyncio.sleep(1.2)
    await call(b, "app.shout", "hey")                         # broadcast: published 1, delivered 2
    for client, event in ((a, "told"), (b, "told"), (a, "shout"), (b, "shout")):
        await client.next_event(event, timeout=5)
    assert fetch(f"http://127.0.0.1:{port}/api/app/square.json?5")[0] == 200
    assert fetch(f"http://127.0.0.1:{port}/api/app/nope.json")[0] == 404

    # A slow reader: a raw socket joins a channel, asks for a flood and never reads.
    reader, writer = await open_raw_socket(port)
    for call_id, method, args in ((1, "app.join", ["slow"]), (2, "app.flood", ["slow", 1500])):
        writer.write(client_frame(0x81, json.dumps({"type": "call", "id": call_id, "method": method,
                                                    "args": args}).encode()))
        await writer.drain()
        await asyncio.sleep(0.5)
    found = {}
    for _ in range(100):
        found = await asyncio.to_thread(samples, port)
        if value(found, "ss_slow_reader_disconnects_total") >= 1 and \
                value(found, "ss_connections_closed_total", reason="slow_reader") >= 1:
            break
        await asyncio.sleep(0.1)
    writer.close()

    assert value(found, "ss_slow_reader_disconnects_total") == 1, server.output()
    assert value(found, "ss_connections_opened_total", transport="websocket") == 3
    assert value(found, "ss_connections_open", transport="websocket") == 2
    assert value(found, "ss_connections_closed_total", reason="slow_reader") == 1
    square_ok = outcomes[("app.square", "ok")]
    assert value(found, "ss_calls_total", action="app.square", code="ok") == square_ok
    assert value(found, "ss_rate_limited_total", door="socket") == outcomes[("app.square", "rate_limited")]
    assert value(found, "ss_calls_total", action="app.broken", code="action_failed") == 1
    # An action name that is not in the API tree never becomes a label.
    assert value(found, "ss_calls_total", action="(unknown)", code="unknown_action") == 1
    assert not any(("action", "app.no_such_action") in labels for _, labels in found)
    assert value(found, "ss_call_duration_seconds_count", action="app.square") == square_ok
    assert value(found, "ss_call_duration_seconds_bucket", action="app.square", le="+Inf") == square_ok
    assert value(found, "ss_calls_total", action="app.flood", code="ok") == 1
    assert value(found, "ss_pubsub_published_total", kind="channel") == 1 + 1501
    assert value(found, "ss_pubsub_published_total", kind="broadcast") == 1
    assert value(found, "ss_pubsub_delivered_total", kind="broadcast") == 2
    assert value(found, "ss_pubsub_delivered_total", kind="channel") >= 2 + 1    # the flood reached the reader
    assert value(found, "ss_api_requests_total", status="200") == 1
    assert value(found, "ss_api_requests_total", status="404") == 1
    assert value(found, "ss_sessions_created_total") == 3
    assert value(found, "ss_store_command_duration_seconds_count", command="SET") >= 3
    assert value(found, "ss_store_errors_total", kind="connection") == 0
    assert ("ss_outgoing_queued_bytes", ()) in found
    assert value(found, "process_resident_memory_bytes") > 0
    await a.close()
    await b.close()


def foreign_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))                  # TEST-NET: nothing is sent
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_metrics_refuse_foreign_and_forwarded_addresses(make_app, ss_process):
    # Listening on every interface (development binds 127.0.0.1), so the machine's own address reaches it.
    server, port = start(make_app, ss_process, "{'http': {'host': '0.0.0.0'}}")
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics")[0] == 200
    # A proxy on this host passing a visitor's request on: the forwarded address is not allowed.
    status, _, body = fetch(f"http://127.0.0.1:{port}/_ss/metrics", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and b"203.0.113.9" in body and b"metrics.allow" in body
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics", {"X-Real-Ip": "203.0.113.9"})[0] == 403
    address = foreign_address()
    if address is not None:                                  # the machine's own non-loopback address
        status, _, body = fetch(f"http://{address}:{port}/_ss/metrics", {"X-Real-Ip": "127.0.0.1"})
        assert status == 403 and address.encode() in body    # a forged header does not help
        assert fetch(f"http://{address}:{port}/_ss/health")[0] == 200


def test_metrics_allow_list_opens_a_network(make_app, ss_process):
    server, port = start(make_app, ss_process, "{'metrics': {'allow': ['127.0.0.0/8', '203.0.113.0/24']}}")
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 200
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics", {"X-Forwarded-For": "198.51.100.1"})[0] == 403


def test_metrics_are_off_in_production_and_can_have_their_own_port(make_app, ss_process):
    server, port = start(make_app, ss_process, "{}", env={"SS_ENV": "production"})
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics")[0] == 404
    assert fetch(f"http://127.0.0.1:{port}/_ss/ready")[0] == 200
    server.stop()
    metrics_port = free_port()
    server, port = start(make_app, ss_process,
                         "{'metrics': {'enabled': True, 'port': %d}}" % metrics_port, env={"SS_ENV": "production"})
    assert fetch(f"http://127.0.0.1:{port}/_ss/metrics")[0] == 404           # not on the app's port
    status, headers, body = fetch(f"http://127.0.0.1:{metrics_port}/_ss/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE ss_calls_total counter" in body and b"# TYPE ss_call_duration_seconds histogram" in body
    assert fetch(f"http://127.0.0.1:{metrics_port}/_ss/ready")[0] == 200
    assert fetch(f"http://127.0.0.1:{metrics_port}/")[0] == 404              # nothing of the app there
    assert f"127.0.0.1:{metrics_port}/_ss/metrics" in server.output()


def test_a_bad_allow_entry_stops_the_start(make_app):
    import subprocess
    import sys

    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": "config = {'metrics': {'allow': ['localhost']}}\n"})
    result = subprocess.run([sys.executable, "-m", "ss", "start", "--port", str(free_port())], cwd=root,
                            capture_output=True, text=True, timeout=60, env={**__import__("os").environ,
                                                                               "SS_ENV": "development"})
    assert result.returncode == 1
    assert "metrics.allow: 'localhost' is not an IP address or network" in result.stderr


def test_development_asset_compiles_are_timed(skeleton_app, ss_process):
    unique = uuid.uuid4().hex                  # new sources: the disk cache of earlier runs cannot answer
    (skeleton_app / "app" / "client" / "fresh.coffee").write_text(f"exports.tag = -> '{unique}'\n")
    (skeleton_app / "app" / "css" / "fresh.styl").write_text(f".x{unique}\n  color red\n")
    port = free_port()
    server = ss_process(skeleton_app, ["start", "--port", str(port)])
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    status, _, page = fetch(f"http://127.0.0.1:{port}/", timeout=60)   # compiles the client and css
    assert status == 200, page[:300]
    found = samples(port)
    assert value(found, "ss_asset_compile_seconds_count", kind=".coffee") >= 1, server.output()
    assert value(found, "ss_asset_compile_seconds_count", kind=".styl") >= 1
    assert value(found, "ss_asset_compile_seconds_sum", kind=".coffee") > 0


async def test_recovery_served_and_failed_are_counted(make_app, ss_process):
    server, port = start(make_app, ss_process, "{'pubsub': {'history': {'size': 3}}, 'presence': {'events': False}}")
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    sender = await Client(url).connect()
    away = await Client(url).connect()
    await away.call("app.join", "calm")
    await away.call("app.join", "busy")
    offsets = {}
    for name in ("calm", "busy"):
        await sender.call("app.tell", name, "first")
        event = await away.next_event("told", timeout=5)
        offsets[event["stream"]] = event["offset"]
    await away.close()
    await sender.call("app.tell", "calm", "missed")           # one missed: recoverable
    for i in range(5):                                         # more than the 3 kept: trimmed
        await sender.call("app.tell", "busy", f"missed {i}")
    back = await Client(url + "?recover=1", away.cookie).connect()
    await back.send({"type": "recover", "streams": {**offsets, "channel:never": 1}})
    failed = await back.next_message()
    assert failed["type"] == "recovery_failed"
    assert failed["streams"] == {"channel:busy": "trimmed", "channel:never": "not_subscribed"}
    found = await asyncio.to_thread(samples, port)
    assert value(found, "ss_recovery_served_total") == 1
    assert value(found, "ss_recovery_failed_total", reason="trimmed") == 1
    assert value(found, "ss_recovery_failed_total", reason="not_subscribed") == 1
    for client in (sender, back):
        await client.close()


def test_http_api_rate_limit_refusals_are_counted(make_app, ss_process):
    server, port = start(make_app, ss_process, "{'limiter': {'enabled': True, 'http': {'rps': 2}}}")
    statuses = [fetch(f"http://127.0.0.1:{port}/api/app/square.json?3")[0] for _ in range(12)]
    refused = statuses.count(429)
    assert refused >= 1 and set(statuses) <= {200, 429}
    found = samples(port)
    assert value(found, "ss_rate_limited_total", door="http") == refused
    assert value(found, "ss_api_requests_total", status="429") == refused
    assert value(found, "ss_api_requests_total", status="200") == 12 - refused
