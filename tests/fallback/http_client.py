"""A Python client of the HTTP transport (ss/realtime/http_transport.py), as the browser speaks it."""

from __future__ import annotations

import asyncio
import http.cookies
from typing import Any

import orjson
import tornado.httpclient


class HttpClient:
    """Opens an HTTP connection, polls it in the background and sends calls as POSTs."""

    def __init__(self, base: str, cookie: str | None = None, stream: bool = False, origin: str | None = None,
                 bases: list[str] | None = None, replies: bool = False):
        self.bases = bases or [base]   # several: each request goes to the next (a round-robin balancer)
        self._turn = 0
        self.cookie = cookie
        self.stream = stream
        self.replies_in_answer = replies  # POST with ?replies=1: its answer carries the messages ready by then
        self.delivered = 0                 # messages taken in, in the server's order (the init is number 0)
        self.waiting: dict[int, bytes] = {}  # messages that came before earlier ones (by number)
        self.posting = 0                   # POSTs on their way (their answers may bring messages)
        self.answered_by_post = 0          # messages that came in POST answers
        self.origin = origin
        self.cid = ""
        self.secret = ""
        self.init: dict = {}
        self.messages: asyncio.Queue = asyncio.Queue()
        self.replies: dict[Any, asyncio.Future] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self.gone: asyncio.Future | None = None
        self._poller: asyncio.Task | None = None
        self._next = 0

    def base(self) -> str:
        base = self.bases[self._turn % len(self.bases)]
        self._turn += 1
        return base

    async def fetch(self, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
                    timeout: float = 40) -> tornado.httpclient.HTTPResponse:
        all_headers = {**({"Cookie": self.cookie} if self.cookie else {}),
                       **({"Origin": self.origin} if self.origin else {}), **(headers or {})}
        return await tornado.httpclient.AsyncHTTPClient().fetch(
            self.base() + path, method=method, body=body, headers=all_headers, raise_error=False,
            request_timeout=timeout, allow_nonstandard_methods=True)

    async def open(self, query: str = "tab=t1") -> "HttpClient":
        response = await self.fetch(f"/_ss/http/open?{query}", "POST", b"", {"X-SS-Transport": "http"})
        assert response.code == 200, (response.code, response.body)
        for header in response.headers.get_list("Set-Cookie"):
            morsel = http.cookies.SimpleCookie(header).get("ss_session")
            if morsel is not None:
                self.cookie = f"ss_session={morsel.value}"
        answer = orjson.loads(response.body)
        self.cid, self.secret = answer["connection"], answer["secret"]
        self.gone = asyncio.get_running_loop().create_future()
        self._poller = asyncio.create_task(self._poll_forever())
        self.init = await asyncio.wait_for(self.messages.get(), 10)
        assert self.init["type"] == "init", self.init
        return self

    async def poll_once(self, stream: bool | None = None, secret: str | None = None):
        stream = self.stream if stream is None else stream
        return await self.fetch(f"/_ss/http/poll?c={self.cid}" + ("&stream=1" if stream else ""),
                                headers={"X-SS-Secret": secret or self.secret})

    async def _poll_forever(self) -> None:
        while True:
            response = await self.poll_once()
            if response.code != 200:
                if not self.gone.done():
                    self.gone.set_result((response.code, orjson.loads(response.body)))
                return
            number = None
            for line in response.body.split(b"\n"):
                if line.startswith(b"#"):
                    number = int(line[1:])   # the number of the batch's first message
                elif line.strip():
                    assert number is not None, f"a poll's message without a number: {response.body!r}"
                    self._take_in(number, line)
                    number += 1
            if self.waiting and not self.posting:
                # No request on its way can bring what the waiting messages wait for: it was lost.
                if not self.gone.done():
                    self.gone.set_result((0, {"lost": (self.delivered, min(self.waiting))}))
                return

    def _take_in(self, number: int, line: bytes, by_post: bool = False) -> None:
        """Message ``number``: taken in if it is the next (then those that waited for it), else kept."""
        if number < self.delivered:
            return
        if number > self.delivered:
            self.waiting[number] = line
            return
        self.delivered += 1
        self.answered_by_post += by_post
        self._dispatch(orjson.loads(line))
        while self.delivered in self.waiting:
            self.delivered += 1
            self._dispatch(orjson.loads(self.waiting.pop(self.delivered - 1)))

    def _answer_of_post(self, seq: int, body: bytes) -> None:
        for number, line in enumerate((line for line in body.split(b"\n") if line.strip()), seq):
            self._take_in(number, line, by_post=True)

    def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind in ("reply", "error") and message.get("id") in self.replies:
            future = self.replies.pop(message["id"])
            if not future.done():
                future.set_result(message)
        elif kind == "event":
            self.events.put_nowait(message)
        else:
            self.messages.put_nowait(message)

    async def send_raw(self, body: bytes, secret: str | None = None, cid: str | None = None,
                       replies: bool | None = None):
        replies = self.replies_in_answer if replies is None else replies
        return await self.fetch(f"/_ss/http/send?c={cid or self.cid}" + ("&replies=1" if replies else ""), "POST",
                                body, {"X-SS-Secret": secret or self.secret, "Content-Type": "text/plain"})

    async def send(self, *messages: dict) -> None:
        self.posting += 1
        try:
            response = await self.send_raw(b"\n".join(orjson.dumps(m) for m in messages))
        finally:
            self.posting -= 1
        if response.code == 200 and self.replies_in_answer:
            self._answer_of_post(int(response.headers["X-SS-Seq"]), response.body)
            return
        assert response.code == 204, (response.code, response.body)

    async def call(self, method: str, *args: Any, timeout: float = 10) -> dict:
        """The reply or error message of one call."""
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self.replies[self._next] = future
        await self.send({"type": "call", "id": self._next, "method": method, "args": list(args)})
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        if self.cid:
            await self.fetch(f"/_ss/http/close?c={self.cid}", "POST", b"", {"X-SS-Secret": self.secret})
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except BaseException:
                pass
