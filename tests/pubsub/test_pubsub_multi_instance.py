"""Two `python -m ss start` processes on one Redis, plus a console-like third process.

A user on instance A gets publish.user sent by an action on instance B;
channels and broadcast likewise; a publish from another process (the console)
reaches both; when A is killed its users leave presence and users online
within the configured times, while B's user, still heartbeating, stays.
"""

import asyncio
import os
import time
import uuid

import pytest

from ss.app import App
from ss.testing import Client
from pubsub_helpers import ServerProcess, eventually

pytestmark = pytest.mark.e2e

# Windows of some seconds, so a busy machine pausing a process for a moment does not drop a live user;
# SLACK is what a loaded machine may add to them before an expected change shows (the defaults are
# 45 s and 120 s, so a bound of a few seconds still tells that the configured times are used).
WINDOW, PRESENCE_TIMEOUT, REFRESH, SLACK = 3.0, 3.0, 0.25, 3.0
TIMINGS = {
    "users": {"online": {"mins_until_offline": WINDOW / 60, "update_interval": REFRESH}},
    "presence": {"timeout": PRESENCE_TIMEOUT, "refresh_interval": REFRESH, "events": True},
}


@pytest.fixture
def shared_app(pubsub_root, redis_url):
    prefix = f"multi-{uuid.uuid4().hex[:8]}:"
    config = {"redis": {"enabled": True, "url": redis_url, "key_prefix": prefix}, **TIMINGS}
    (pubsub_root / "config" / "app.py").write_text(f"config = {config!r}\n")
    return pubsub_root


@pytest.fixture
def servers():
    started: list[ServerProcess] = []

    def start(root):
        server = ServerProcess(root).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


async def connect(server: ServerProcess, uid: str, channel: str) -> Client:
    client = await Client(f"ws://127.0.0.1:{server.port}/_ss/socket").connect()
    await client.call("app.login", uid)
    rotated = await client.next_message()
    assert rotated["type"] == "session"
    await client.call("app.subscribe", channel)
    return client


async def keep_beating(client: Client) -> None:
    """Heartbeats, as a browser sends them (users online counts a user as long as they come)."""
    try:
        while True:
            await client.send({"type": "heartbeat"})
            await asyncio.sleep(0.3)
    except Exception:  # the socket closed (its server was killed): a browser would stop too
        return


async def test_two_instances_share_pubsub_presence_and_users_online(shared_app, servers):
    a, b = servers(shared_app), servers(shared_app)
    alice = await connect(a, "alice", "room")
    bob = await connect(b, "bob", "room")
    beating = [asyncio.create_task(keep_beating(alice)), asyncio.create_task(keep_beating(bob))]
    try:
        # B's action reaches the user on A, and the other way round
        await bob.call("app.to_user", "alice", "dm", "from B")
        assert (await alice.next_event("dm"))["data"] == "from B"
        await alice.call("app.to_user", "bob", "dm", "from A")
        assert (await bob.next_event("dm"))["data"] == "from A"
        # channel and broadcast cross instances too
        await bob.call("app.to_channel", "room", "said", "hi room")
        for client in (alice, bob):
            assert (await client.next_event("said"))["channel"] == "room"
        await alice.call("app.to_all", "flash", "everyone")
        for client in (alice, bob):
            assert (await client.next_event("flash"))["data"] == "everyone"

        # a third process, like `python -m ss console`: publishes and reads presence/online
        console = App.load(shared_app, "test")
        await console.store.connect()
        try:
            await console.publish.users(["alice", "bob"], "console", 42)
            for client in (alice, bob):
                assert (await client.next_event("console"))["data"] == 42
            assert sorted(await console.presence.channel("room")) == ["alice", "bob"]
            assert sorted(await console.users.online.now()) == ["alice", "bob"]

            # kill A without a goodbye: alice must drop out of presence and users online in time,
            # while bob, still heartbeating, stays
            beating[0].cancel()
            a.kill()
            killed = time.monotonic()
            left = await bob.next_event("presence:leave", timeout=PRESENCE_TIMEOUT + REFRESH + SLACK)
            assert left["data"] == {"channel": "room", "user_id": "alice"}
            assert await console.presence.channel("room") == ["bob"]
            assert time.monotonic() - killed < PRESENCE_TIMEOUT + REFRESH + SLACK
            await eventually(lambda: _online_is(console, ["bob"]), timeout=WINDOW + REFRESH + SLACK)
            assert time.monotonic() - killed < WINDOW + REFRESH + SLACK
        finally:
            await console.close()
    finally:
        for task in beating:
            task.cancel()
        await alice.close()
        await bob.close()


async def _online_is(app, expected):
    return await app.users.online.now() == expected


async def test_reconnect_to_the_other_instance_is_resubscribed_and_recovers(shared_app, servers):
    a, b = servers(shared_app), servers(shared_app)
    moving = await connect(a, "mo", "lobby")
    sender = await Client(f"ws://127.0.0.1:{b.port}/_ss/socket").connect()
    try:
        await sender.call("app.to_channel", "lobby", "n", 0)
        first = await moving.next_event("n")
        await moving.close()
        await sender.call("app.to_channel", "lobby", "n", 1)  # missed while moving
        moved = await Client(f"ws://127.0.0.1:{b.port}/_ss/socket?recover=1", moving.cookie).connect()
        assert await moved.call("app.channels") == ["lobby"]
        await moved.send({"type": "recover", "streams": {"channel:lobby": first["offset"]}})
        assert (await moved.next_event("n"))["data"] == 1
        await sender.call("app.to_channel", "lobby", "n", 2)
        assert (await moved.next_event("n"))["data"] == 2
        await moved.close()
    finally:
        await sender.close()


async def test_publish_from_the_console_process_reaches_a_server(shared_app, servers):
    import subprocess
    import sys

    a = servers(shared_app)
    alice = await connect(a, "alice", "room")
    try:
        lines = ('ss.publish.user("alice", "console", {"n": 7})\n'
                 'ss.publish.channel("room", "console", {"n": 8})\n'
                 'sorted(await ss.presence.channel("room"))\n')
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "ss", "console"], input=lines, cwd=shared_app,
            capture_output=True, text=True, timeout=60, env={**os.environ, "SS_ENV": "test"})
        assert result.returncode == 0, result.stderr
        assert (await alice.next_event("console"))["data"] == {"n": 7}
        message = await alice.next_event("console")
        assert message["data"] == {"n": 8} and message["channel"] == "room"
        assert "['alice']" in result.stdout
    finally:
        await alice.close()
