"""python-socketio peer: AsyncServer on aiohttp, as its docs set it up.

Events: square(n) -> ack n*n; bench.broadcast(count, rate, tag) emits `tick`
to everyone; bench.login(uid) joins room user:<uid>; bench.send_user(uid,
data) emits bench.ping to that room. With --redis URL the server uses
AsyncRedisManager, so rooms and broadcasts span instances. Run with
bench/.venv (bench/requirements.txt):

    python bench/peers/socketio_py.py --port 8002 [--redis redis://127.0.0.1:6391/0]
"""

import argparse
import asyncio
import time

import socketio
from aiohttp import web

_running: set = set()


def build(redis_url):
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", client_manager=manager)

    async def publish_ticks(count: int, rate: float, tag) -> None:
        # The same pacing as bench/app/app/server/bench.py.
        start = time.monotonic()
        for i in range(count):
            if rate > 0:
                delay = start + i / rate - time.monotonic()
                await asyncio.sleep(delay if delay > 0 else 0)
            else:
                await asyncio.sleep(0)
            await sio.emit("tick", {"seq": i, "t": time.time() * 1000, "tag": tag})

    @sio.on("square")
    async def square(sid, n):
        return n * n

    @sio.on("bench.broadcast")
    async def broadcast(sid, count, rate, tag=0):
        task = asyncio.get_running_loop().create_task(publish_ticks(int(count), float(rate), tag))
        _running.add(task)
        task.add_done_callback(_running.discard)
        return True

    @sio.on("bench.login")
    async def login(sid, uid):
        await sio.enter_room(sid, f"user:{uid}")
        return True

    @sio.on("bench.send_user")
    async def send_user(sid, uid, data):
        await sio.emit("bench.ping", data, room=f"user:{uid}")
        return True

    app = web.Application()
    sio.attach(app)

    async def ready(request):
        return web.Response(text="ok")

    app.router.add_get("/", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--redis", default=None, help="redis:// URL: use AsyncRedisManager")
    args = parser.parse_args()
    web.run_app(build(args.redis), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
