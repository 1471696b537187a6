"""ss.connections.call between two instances on one Redis (two apps in this process), and on the embedded store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import orjson
import pytest

from ss.errors import ClientCallArgumentError, ClientCallError
from tests.realtime.fakes import connection, embedded_app
from tests.waiting import eventually


@pytest.fixture
async def pair(tmp_path, redis_url):
    overrides = {"redis": {"enabled": True, "url": redis_url, "key_prefix": f"test-{uuid.uuid4().hex[:8]}:"}}
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(embedded_app(tmp_path / "a", overrides))
        b = await stack.enter_async_context(embedded_app(tmp_path / "b", overrides))
        yield a, b


async def asked(conn) -> dict:
    """The client_call the connection's tab got, once it came."""
    def calls():
        return [m for m in conn.transport.messages() if m["type"] == "client_call"]
    [call] = await eventually(calls, what="the client_call to reach the tab")
    return call


def answer(conn, call_id, **body) -> None:
    conn.receive(orjson.dumps({"type": "client_reply", "id": call_id, **body}))


async def test_a_call_to_a_tab_on_the_other_instance_returns_its_answer(pair):
    a, b = pair
    tab = connection(b)
    task = asyncio.ensure_future(a.cluster_connections.call(tab.id, "app.confirm", "across?", {"n": {1, 2}}))
    call = await asked(tab)
    assert (call["method"], call["args"]) == ("app.confirm", ["across?", {"n": [1, 2]}])
    answer(tab, call["id"], result={"yes": True})
    assert await task == {"yes": True}
    assert a.cluster_connections.waiting == 0 and tab.client_calls is None      # nothing left on either side


async def test_an_error_in_the_far_tab_comes_back_with_its_code_and_message(pair):
    a, b = pair
    tab = connection(b)
    task = asyncio.ensure_future(a.cluster_connections.call(tab.id, "app.confirm"))
    call = await asked(tab)
    answer(tab, call["id"], error={"code": "client_error", "message": "the user said no"})
    with pytest.raises(ClientCallError) as info:
        await task
    assert (info.value.code, info.value.message) == ("client_error",
                                                     "SS.client.app.confirm failed in the browser: the user said no")
    assert info.value.connection_id == tab.id and info.value.method == "app.confirm"


async def test_a_tab_that_never_answers_times_out_on_both_sides(pair):
    a, b = pair
    tab = connection(b)
    with pytest.raises(ClientCallError) as info:
        await a.cluster_connections.call(tab.id, "app.confirm", timeout=0.3)
    assert info.value.code == "timeout"
    assert info.value.message.startswith(f"SS.client.app.confirm did not answer within 0.3 s on connection {tab.id}")
    assert a.cluster_connections.waiting == 0
    await eventually(lambda: tab.client_calls is None, what="the holding instance to give up too")


async def test_a_closed_tab_on_the_other_instance_is_gone_not_a_timeout(pair):
    a, b = pair
    tab = connection(b)
    task = asyncio.ensure_future(a.cluster_connections.call(tab.id, "app.confirm", timeout=60))
    await asked(tab)
    tab.transport_closed()
    with pytest.raises(ClientCallError) as info:
        await task
    assert info.value.code == "connection_gone"
    assert f"connection {tab.id} closed before SS.client.app.confirm answered" in info.value.message
    # and an id that instance does not hold (any more) is answered so at once, by that instance
    with pytest.raises(ClientCallError) as info:
        await a.cluster_connections.call(tab.id, "app.confirm", timeout=60)
    assert info.value.code == "connection_gone" and "no open connection" in info.value.message


async def test_an_instance_nobody_runs_means_the_timeout(pair):
    a, _ = pair
    with pytest.raises(ClientCallError) as info:
        await a.cluster_connections.call("gone1234.1f", "app.confirm", timeout=0.2)
    assert info.value.code == "timeout"
    assert a.cluster_connections.waiting == 0


async def test_what_cannot_be_sent_is_refused_before_anything_goes_out(pair):
    a, b = pair
    tab = connection(b)
    with pytest.raises(ClientCallArgumentError):
        await a.cluster_connections.call(tab.id, "app.confirm", object())
    with pytest.raises(ValueError, match="SS.client"):
        await a.cluster_connections.call(tab.id, "app._private")
    await asyncio.sleep(0.2)
    assert tab.transport.messages() == [] and a.cluster_connections.waiting == 0


async def test_with_the_embedded_store_an_id_not_here_is_gone_at_once(tmp_path):
    async with embedded_app(tmp_path) as app:
        with pytest.raises(ClientCallError) as info:
            await app.cluster_connections.call("other1234.1", "app.confirm", timeout=60)
        assert info.value.code == "connection_gone"
        assert "no open connection 'other1234.1'" in info.value.message
