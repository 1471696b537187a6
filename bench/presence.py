"""Presence benchmark: what SS.presence costs on the wire for a channel of N tracked members.

    .venv/bin/python bench/presence.py [--members 500] [--redis redis://127.0.0.1:6379/15]

An ss app runs in this process (embedded store, or Redis with ``--redis``) and
N WebSocket clients (``ss.testing.Client``) each sign in as their own user,
subscribe to "room1" and track themselves with a meta of a name and a status.
Then it counts what the clients receive, as a browser would:

- state: one client asks for the whole state (``{"type":"presence"}``);
- join: one more client tracks itself; every member gets the diff;
- update: that client changes its status;
- leave: that client closes.

Sizes are of the JSON text of each message (what goes in a WebSocket frame).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ss.testing import Client, running_app  # noqa: E402

SERVER = '''
import ss

class Actions(ss.Actions):
    async def enter(self, uid, meta):
        await self.session.set_user_id(uid)
        await self.session.channel.subscribe("room1")
        await self.connection.track("room1", meta)
        return True

    async def status(self, status):
        await self.connection.update("room1", {"name": self.session.user_id, "status": status})
        return True
'''


async def drain(clients: list[Client], quiet: float = 0.3) -> list[list[dict]]:
    """Everything each client received (besides replies and events) until nothing came for ``quiet`` s."""
    received: list[list[dict]] = [[] for _ in clients]

    async def take(i: int, client: Client) -> None:
        while True:
            try:
                received[i].append(await client.next_message(timeout=quiet))
            except asyncio.TimeoutError:
                return

    await asyncio.gather(*(take(i, c) for i, c in enumerate(clients)))
    return received


def summary(received: list[list[dict]], kind: str) -> tuple[int, int, list[int]]:
    """(clients that got it, messages in all, sizes) of the messages of type ``kind``."""
    sizes = [len(orjson.dumps(m)) for got in received for m in got if m.get("type") == kind]
    return sum(1 for got in received if any(m.get("type") == kind for m in got)), len(sizes), sizes


async def run(members: int, redis_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "app" / "server").mkdir(parents=True)
        (root / "config").mkdir()
        (root / "app" / "server" / "app.py").write_text(SERVER)
        store = ({"enabled": True, "url": redis_url, "key_prefix": f"bench-presence-{uuid.uuid4().hex[:8]}:"}
                 if redis_url else {"enabled": False})
        overrides = {"redis": store}
        async with running_app(root, "test", overrides) as app:
            clients = []
            started = time.perf_counter()
            for i in range(members):
                client = await app.client(follow_session=False).connect()
                await client.call("app.enter", f"user{i}", {"name": f"User {i}", "status": "idle"})
                clients.append(client)
            tracked_in = time.perf_counter() - started
            await drain(clients)

            asker = clients[0]
            await asker.send({"type": "presence", "channel": "room1"})
            got = await drain(clients)
            state = summary(got, "presence_state")
            listed = next(m for m in got[0] if m["type"] == "presence_state")
            assert sum(len(v) for v in listed["state"].values()) == members, "the state misses members"

            newcomer = await app.client(follow_session=False).connect()
            await newcomer.call("app.enter", "newcomer", {"name": "New", "status": "idle"})
            join = summary(await drain(clients), "presence_diff")
            await newcomer.call("app.status", "typing")
            update = summary(await drain(clients), "presence_diff")
            await newcomer.close()
            leave = summary(await drain(clients), "presence_diff")
            for client in clients:
                await client.close()
    return {"members": members, "store": "redis" if redis_url else "embedded", "tracked_in_s": tracked_in,
            "state": state, "join": join, "update": update, "leave": leave}


def report(result: dict) -> None:
    members = result["members"]
    print(f"presence, {members} tracked members in one channel [{result['store']}] "
          f"(tracked in {result['tracked_in_s']:.1f} s)")
    print(f"{'':24}{'receivers':>10}{'messages':>10}{'bytes each (median)':>22}{'bytes in all':>14}")
    for name in ("state", "join", "update", "leave"):
        receivers, count, sizes = result[name]
        median = statistics.median(sizes) if sizes else 0
        print(f"{name:24}{receivers:>10}{count:>10}{median:>22.0f}{sum(sizes):>14}")
    _, _, sizes = result["state"]
    if sizes:
        print(f"state: {sizes[0] / members:.0f} bytes per member, one message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--redis", help="a Redis URL (default: the embedded store)")
    args = parser.parse_args()
    report(asyncio.run(run(args.members, args.redis)))


if __name__ == "__main__":
    main()
