"""Hostile and broken requests on every endpoint of the HTTP transport: clear answers, nothing else happens."""

import asyncio

import orjson
import pytest

from ss.testing import running_app

from .http_client import HttpClient
from .test_http_transport import ACTIONS


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {**store_overrides, "limits": {"max_frame_bytes": 4096, "max_outgoing_bytes": 20000,
                                                "max_connections_per_ip": 3, "http_poll_timeout": 2}}
    async with running_app(root, "development", overrides) as running:
        yield running


def error_of(response):
    return orjson.loads(response.body)["error"]


async def test_another_connections_secret_is_refused(server):
    alice = await HttpClient(server.url).open()
    mallory = await HttpClient(server.url).open()
    try:
        call = orjson.dumps({"type": "call", "id": 1, "method": "app.square", "args": [3]})
        response = await mallory.send_raw(call, cid=alice.cid)          # mallory's secret, alice's id
        assert response.code == 403 and error_of(response)["code"] == "bad_token"
        assert (await alice.call("app.runs"))["result"] == []
    finally:
        await alice.close()
        await mallory.close()


async def test_a_secret_replayed_after_close_gets_connection_gone(server):
    client = await HttpClient(server.url).open()
    cid, secret = client.cid, client.secret
    await client.close()
    await asyncio.sleep(0.1)
    assert len(server.app.connections) == 0
    replay = HttpClient(server.url)
    call = orjson.dumps({"type": "call", "id": 1, "method": "app.square", "args": [3]})
    response = await replay.send_raw(call, secret=secret, cid=cid)
    assert response.code == 410 and error_of(response)["code"] == "connection_gone"
    checker = await HttpClient(server.url).open()
    try:
        assert (await checker.call("app.runs"))["result"] == []
    finally:
        await checker.close()


@pytest.mark.parametrize("path", ["/_ss/http/poll?c=", "/_ss/http/send?c=", "/_ss/http/close?c="])
async def test_malformed_targets_get_bad_message(server, path):
    client = HttpClient(server.url)
    method = "GET" if "poll" in path else "POST"
    body = None if method == "GET" else b"{}"
    for cid, secret in [("", "s"), ("x" * 65, "s"), ("a.1", ""), ("a.1", "s" * 129)]:
        headers = {"X-SS-Secret": secret} if secret else {}
        response = await client.fetch(path + cid, method, body, headers)
        assert response.code == 400 and error_of(response)["code"] == "bad_message", (cid, response.body)
    response = await client.fetch(path + "nobody.7", method, body, {"X-SS-Secret": "s"})
    assert response.code in (410, 204)   # close of an unknown connection: nothing to do


async def test_per_address_limit_counts_http_connections(server):
    clients = [await HttpClient(server.url).open() for _ in range(3)]
    try:
        response = await HttpClient(server.url).fetch("/_ss/http/open?tab=x", "POST", b"",
                                                      {"X-SS-Transport": "http"})
        assert response.code == 429 and error_of(response)["code"] == "too_many_connections"
        assert "Set-Cookie" not in response.headers
    finally:
        for client in clients:
            await client.close()


async def test_a_client_that_does_not_poll_is_cut_off_past_max_outgoing_bytes(server):
    client = await HttpClient(server.url).open()
    client._poller.cancel()
    await client.send({"type": "call", "id": "j", "method": "app.join", "args": ["flood"]})
    await asyncio.sleep(0.2)
    other = await HttpClient(server.url).open()
    try:
        for _ in range(30):
            await other.call("app.shout", "flood", "x" * 1000)
        await asyncio.sleep(0.3)
        response = await client.poll_once()
        assert response.code == 200   # what was queued before the cut is still given
        response = await client.poll_once()
        body = orjson.loads(response.body)
        assert response.code == 410 and body["close"] == {"code": 1008, "reason": "not reading its messages"}
        assert (await other.call("app.square", 2))["result"] == 4   # the others are unaffected
    finally:
        await other.close()


async def test_a_huge_message_closes_with_1009_like_the_socket(server):
    client = await HttpClient(server.url).open()
    big = orjson.dumps({"type": "call", "id": 1, "method": "app.square", "args": ["x" * 5000]})
    assert (await client.send_raw(big)).code == 204
    code, body = await asyncio.wait_for(client.gone, 5)
    assert code == 410 and body["close"]["code"] == 1009
