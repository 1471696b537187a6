"""log.format = "json": every line a server writes parses, and call lines carry action, duration, code and
the connection id, never the session id."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from ss import logs
from ss.testing import CallFailed, Client
from tests.conftest import free_port

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        def square(self, number):
            return number * number

        def broken(self):
            raise RuntimeError("kaput")
"""


async def test_a_server_in_json_mode_writes_only_json_lines(make_app, ss_process, redis_url):
    root = make_app({"app/server/app.py": ACTIONS,
                     "config/app.py": "config = {'log': {'level': 3, 'format': 'json'}}\n"})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)])
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    client = await Client(f"ws://127.0.0.1:{port}/_ss/socket").connect()
    assert await client.call("app.square", 7) == 49
    with pytest.raises(CallFailed):
        await client.call("app.broken")
    session_id = client.cookie.split("=", 1)[1] if client.cookie else None
    await client.close()
    assert server.stop() == 0

    lines = [line for line in server.output().splitlines() if line.strip()]
    records = []
    for line in lines:                                        # every line parses
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\n--- the whole output:\n{server.output()}") from None
    for record in records:
        assert {"time", "level", "logger", "message", "pid"} <= set(record)
        assert record["time"].endswith("Z") and "T" in record["time"]
    assert records[0]["message"].startswith("ss ") and records[0]["port"] == port   # the banner
    replies = [r for r in records if r["logger"] == "ss.calls" and "code" in r]
    ok = next(r for r in replies if r["action"] == "app.square")
    assert ok["code"] == "ok" and ok["duration_ms"] >= 0 and ok["level"] == "call"
    assert ok["connection"] == client.init["connection_id"] and ok["transport"] == "websocket"
    failed = next(r for r in replies if r["action"] == "app.broken")
    assert failed["code"] == "action_failed"
    error = next(r for r in records if r["level"] == "error" and "app.broken failed" in r["message"])
    assert "RuntimeError: kaput" in error["exc"] and error["exc"].startswith("Traceback")
    if session_id:
        assert session_id not in server.output()


def test_json_formatter_keeps_only_known_fields_and_text_stays_the_default():
    stream = io.StringIO()
    logs.configure(2, stream, fmt="json")
    try:
        logging.getLogger("ss.test").info("hello %s", "there", extra={"action": "app.x", "secret": "s3"})
        record = json.loads(stream.getvalue())
        assert record["message"] == "hello there" and record["action"] == "app.x" and "secret" not in record
        logs.configure(2, stream, fmt="text")
        logging.getLogger("ss.test").info("plain")
        assert stream.getvalue().splitlines()[-1].endswith("I ss.test: plain")
        with pytest.raises(ValueError, match='log.format must be "text" or "json", not \'xml\''):
            logs.configure(2, stream, fmt="xml")
    finally:
        logs.configure(1, sys.stderr, fmt="text")
