"""A test proxy between the browser and ss: forwards plain HTTP, and does to WebSocket upgrades what
corporate proxies and middleboxes do (refuse them, or accept them and then pass nothing).

With ``buffer_responses``, it also does what some buffering proxies do to streamed
responses: passes each response on only once it is complete.

Every request gets ``Connection: close`` upstream, so each TCP connection carries one request,
and with several upstreams each request goes to the next (a round-robin balancer, not sticky).
It runs its own event loop in a thread (the sync Playwright API holds the main thread's).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import re
import threading

from tests.conftest import free_port

REFUSE = "refuse"        # upgrades answered 403
SILENT = "silent"        # upgrades answered 101 by the proxy, then nothing passes
PASS = "pass"            # upgrades forwarded


class Proxy:
    def __init__(self, upstream_ports: list[int], upgrades: str = REFUSE, buffer_responses: bool = False):
        self.upstreams = list(upstream_ports)
        self.upgrades = upgrades
        self.buffer_responses = buffer_responses
        self.port = free_port()
        self.requests: list[tuple[int, str]] = []  # (upstream port, request line)
        self.refused_upgrades = 0
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Proxy":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._ready.set()
        await self._stopping.wait()
        server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        text = head.decode("latin-1")
        upgrade = re.search(r"^upgrade:\s*websocket", text, re.I | re.M) is not None
        if upgrade and self.upgrades == REFUSE:
            self.refused_upgrades += 1
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if upgrade and self.upgrades == SILENT:
            key = re.search(r"^sec-websocket-key:\s*(\S+)", text, re.I | re.M).group(1)
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                      .digest()).decode()
            writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode())
            await writer.drain()
            try:
                while await reader.read(65536):
                    pass  # swallow whatever the browser sends; answer nothing
            finally:
                writer.close()
            return
        if not upgrade:
            lines = [line for line in text.split("\r\n")[:-2] if not line.lower().startswith(("connection:",
                                                                                            "keep-alive:"))]
            text = "\r\n".join(lines) + "\r\nConnection: close\r\n\r\n"
        turn = next(self._turn)
        for i in range(len(self.upstreams)):  # an upstream that refuses connections is skipped (a health check)
            port = self.upstreams[(turn + i) % len(self.upstreams)]
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        self.requests.append((port, text.split("\r\n", 1)[0]))
        up_writer.write(text.encode("latin-1"))

        async def forward(src: asyncio.StreamReader, dst: asyncio.StreamWriter, at_once: bool) -> None:
            """Pass bytes on as they come, or (at_once) the whole response once upstream closes it."""
            try:
                if at_once:
                    dst.write(await src.read())  # upstream closes after its one response (Connection: close)
                    await dst.drain()
                while not at_once and (data := await src.read(65536)):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    dst.close()
                except Exception:
                    pass

        buffered = self.buffer_responses and not upgrade
        try:
            await asyncio.gather(forward(reader, up_writer, False), forward(up_reader, writer, buffered))
        finally:
            up_writer.close()
            writer.close()
