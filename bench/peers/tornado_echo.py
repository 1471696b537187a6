"""Raw Tornado WebSocket peer: the floor of ss's own stack.

Speaks the ss call/reply/event frames (docs/protocol.md) at /ws with no
framework in between: parse, answer, write. Run with the repo's .venv (the
same Tornado and orjson ss uses):

    python bench/peers/tornado_echo.py --port 8001
"""

import argparse
import asyncio
import time

import orjson
import tornado.web
import tornado.websocket

CLIENTS: set = set()
_running: set = set()


def reply(call_id, result) -> str:
    return orjson.dumps({"type": "reply", "id": call_id, "result": result}).decode()


async def publish_ticks(count: int, rate: float, tag) -> None:
    # The same pacing as bench/app/app/server/bench.py, so the loads match.
    start = time.monotonic()
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            await asyncio.sleep(delay if delay > 0 else 0)
        else:
            await asyncio.sleep(0)
        # What a user of plain Tornado writes: encode the message once, then
        # write_message to every socket (Tornado frames it per socket).
        msg = orjson.dumps({"type": "event", "event": "tick", "data": {"seq": i, "t": time.time() * 1000, "tag": tag}}).decode()
        for client in list(CLIENTS):
            try:
                client.write_message(msg)
            except tornado.websocket.WebSocketClosedError:
                CLIENTS.discard(client)


class EchoSocket(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    def open(self):
        # Tornado leaves Nagle on for WebSockets; small replies then wait for
        # the peer's delayed ACK (DESIGN.md "Performance notes").
        self.set_nodelay(True)
        CLIENTS.add(self)

    def on_close(self):
        CLIENTS.discard(self)

    def on_message(self, message):
        msg = orjson.loads(message)
        method = msg.get("method")
        args = msg.get("args") or []
        if method == "app.square":
            self.write_message(reply(msg["id"], args[0] * args[0]))
        elif method == "bench.broadcast":
            count, rate, tag = (list(args) + [0, 0, 0])[:3]
            task = asyncio.get_running_loop().create_task(publish_ticks(int(count), float(rate), tag))
            _running.add(task)
            task.add_done_callback(_running.discard)
            self.write_message(reply(msg["id"], True))
        else:
            self.write_message(orjson.dumps({
                "type": "error", "id": msg.get("id"),
                "error": {"code": "unknown_action", "message": f"no action {method}"},
            }).decode())


class Ready(tornado.web.RequestHandler):
    def get(self):
        self.write("ok")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = tornado.web.Application([(r"/", Ready), (r"/ws", EchoSocket)])
    app.listen(args.port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
