"""Server calls to the browser on one connection, over a fake transport: reply, errors, timeout, close, bound."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

import ss
from ss.errors import CallError, ClientCallArgumentError, ClientCallError
from tests.realtime.fakes import connection, embedded_app, settle
from tests.waiting import eventually

ACTIONS = """
import ss

class Actions(ss.Actions):
    async def ask(self, question):
        return await self.connection.call("app.confirm", question, timeout=5)

    async def ask_other(self, connection_id, question):
        return await ss.connections.call(connection_id, "app.confirm", question, timeout=5)

    async def ask_and_catch(self):
        try:
            return await self.connection.call("app.missing", timeout=5)
        except ss.ClientCallError as exc:
            return ["caught", exc.code, exc.message]
"""


@pytest.fixture
async def app(make_app):
    root = make_app({"app/server/app.py": ACTIONS})
    async with embedded_app(root) as running:
        yield running


async def sent_calls(conn, app) -> list[dict]:
    """The client_call messages written to ``conn`` so far (tasks started just before get their turn first)."""
    await asyncio.sleep(0)
    await settle(app)
    return [m for m in conn.transport.messages() if m["type"] == "client_call"]


async def answer_to_call(conn, kind: str) -> dict:
    """The one ``reply`` or ``error`` message the connection's own call got, once it came."""
    def found():
        return [m for m in conn.transport.messages() if m["type"] == kind]
    [message] = await eventually(found, what=f"the {kind} to the action")
    return message


def answer(conn, call_id, **body) -> None:
    conn.receive(orjson.dumps({"type": "client_reply", "id": call_id, **body}))


async def test_the_browser_answer_is_the_result(app):
    conn = connection(app)
    assert conn.client_calls is None                       # an idle connection holds no table
    task = asyncio.ensure_future(conn.call("app.confirm", "Delete the file?", {"size": 3}))
    [call] = await sent_calls(conn, app)
    assert call == {"type": "client_call", "id": call["id"], "method": "app.confirm",
                    "args": ["Delete the file?", {"size": 3}]}
    assert list(conn.client_calls) == [call["id"]]
    answer(conn, call["id"], result={"ok": True})
    assert await task == {"ok": True}
    assert conn.client_calls is None                       # dropped again once nothing waits


async def test_calls_in_flight_are_told_apart_by_id(app):
    conn = connection(app)
    first = asyncio.ensure_future(conn.call("app.a"))
    second = asyncio.ensure_future(conn.call("app.b"))
    calls = await sent_calls(conn, app)
    ids = {c["method"]: c["id"] for c in calls}
    assert len(set(ids.values())) == 2
    answer(conn, ids["app.b"], result="b")
    answer(conn, ids["app.a"])                             # no "result" key: undefined in the browser
    assert await second == "b" and await first is None


@pytest.mark.parametrize("code, browser_message, expected", [
    ("client_error", "user said no", "SS.client.app.confirm failed in the browser: user said no"),
    ("no_such_function", "SS.client.app.confirm is not a function",
     "SS.client.app.confirm is not a function in the browser"),
    ("bad_result", "Converting circular structure to JSON",
     "SS.client.app.confirm gave a result that cannot be sent as JSON"),
])
async def test_a_browser_error_raises_client_call_error(app, code, browser_message, expected):
    conn = connection(app)
    task = asyncio.ensure_future(conn.call("app.confirm"))
    [call] = await sent_calls(conn, app)
    answer(conn, call["id"], error={"code": code, "message": browser_message})
    with pytest.raises(ClientCallError) as info:
        await task
    error = info.value
    assert error.code == code and error.method == "app.confirm" and error.connection_id == conn.id
    assert expected in error.message and browser_message in error.message
    assert isinstance(error, CallError) and isinstance(error, ss.ClientCallError)
    assert conn.client_calls is None


async def test_no_answer_in_time_is_a_timeout_and_leaves_nothing_behind(app, caplog):
    conn = connection(app)
    with pytest.raises(ClientCallError) as info:
        await conn.call("app.confirm", "?", timeout=0.05)
    assert info.value.code == "timeout"
    assert "SS.client.app.confirm did not answer within 0.05 s" in info.value.message
    assert conn.client_calls is None
    [call] = await sent_calls(conn, app)
    # the answer that comes too late is dropped quietly (at debug level), with no error to the browser
    with caplog.at_level(logging.DEBUG, logger="ss.client_calls"):
        answer(conn, call["id"], result=True)
    await settle(app)
    assert [m["type"] for m in conn.transport.messages()] == ["client_call"]
    assert "no client call" in caplog.text and str(call["id"]) in caplog.text


@pytest.mark.asyncio_only  # reads the loop's timers from asyncio's _scheduled
async def test_a_timer_is_cancelled_when_the_answer_comes(app):
    conn = connection(app)
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(conn.call("app.confirm", timeout=1000))
    [call] = await sent_calls(conn, app)
    timers = [h for h in loop._scheduled if not h.cancelled() and h.when() > loop.time() + 900]
    assert len(timers) == 1
    answer(conn, call["id"], result=1)
    assert await task == 1
    assert timers[0].cancelled()


async def test_closing_fails_every_waiting_call(app):
    conn = connection(app)
    tasks = [asyncio.ensure_future(conn.call("app.confirm", n)) for n in range(3)]
    await sent_calls(conn, app)
    conn.transport_closed()
    for task in tasks:
        with pytest.raises(ClientCallError) as info:
            await task
        assert info.value.code == "connection_gone"
        assert f"connection {conn.id} closed before SS.client.app.confirm answered" in info.value.message
    assert conn.client_calls is None


async def test_a_closed_connection_is_gone_at_once(app):
    conn = connection(app)
    conn.transport_closed()
    with pytest.raises(ClientCallError) as info:
        await conn.call("app.confirm")
    assert info.value.code == "connection_gone"
    assert await sent_calls(conn, app) == []


async def test_the_calls_waiting_on_one_connection_are_bounded(app):
    conn = connection(app)
    limit = app.cluster_connections.max_pending
    tasks = [asyncio.ensure_future(conn.call("app.confirm", n)) for n in range(limit)]
    await asyncio.sleep(0)
    with pytest.raises(ClientCallError) as info:
        await conn.call("app.confirm", "one too many")
    assert info.value.code == "too_many_calls"
    assert f"{limit} calls to the browser are already waiting" in info.value.message
    assert len(conn.client_calls) == limit
    calls = await sent_calls(conn, app)
    assert len(calls) == limit
    for call in calls:
        answer(conn, call["id"], result=call["args"][0])
    assert await asyncio.gather(*tasks) == list(range(limit))


async def test_arguments_json_cannot_carry_are_refused_before_sending(app):
    conn = connection(app)
    with pytest.raises(ClientCallArgumentError) as info:
        await conn.call("app.confirm", object())
    assert isinstance(info.value, TypeError)
    assert "SS.client.app.confirm: an argument cannot be sent as JSON" in str(info.value)
    assert conn.client_calls is None and await sent_calls(conn, app) == []


@pytest.mark.parametrize("method", ["", "app", "app.", ".x", "app._private", "__proto__.x", 5])
async def test_a_method_outside_ss_client_is_refused(app, method):
    conn = connection(app)
    with pytest.raises(ValueError, match="SS.client"):
        await conn.call(method)
    assert await sent_calls(conn, app) == []


async def test_an_action_that_does_not_catch_answers_its_caller_with_the_same_error(app):
    conn = connection(app)
    conn.receive(b'{"type":"call","id":1,"method":"app.ask","args":["sure?"]}')
    [call] = await sent_calls(conn, app)
    answer(conn, call["id"], error={"code": "client_error", "message": "nope"})
    reply = await answer_to_call(conn, "error")
    assert reply["id"] == 1 and reply["error"]["code"] == "client_error"
    assert reply["error"]["message"] == "SS.client.app.confirm failed in the browser: nope"


async def test_an_action_may_catch_it(app):
    conn = connection(app)
    conn.receive(b'{"type":"call","id":1,"method":"app.ask_and_catch"}')
    [call] = await sent_calls(conn, app)
    answer(conn, call["id"], error={"code": "no_such_function", "message": "SS.client.app.missing is not a function"})
    reply = await answer_to_call(conn, "reply")
    assert reply["result"][:2] == ["caught", "no_such_function"]


async def test_ss_connections_finds_and_calls_a_local_connection(app):
    caller, target = connection(app), connection(app)
    assert ss.connections.get(target.id) is target
    assert ss.connections.get("nobody.1") is None
    caller.receive(orjson.dumps({"type": "call", "id": 1, "method": "app.ask_other", "args": [target.id, "ok?"]}))
    [call] = await sent_calls(target, app)
    answer(target, call["id"], result="yes")
    reply = await answer_to_call(caller, "reply")
    assert reply["result"] == "yes"


async def test_ss_connections_call_to_an_unknown_id_is_gone(app):
    with pytest.raises(ClientCallError) as info:
        await ss.connections.call(f"{app.connections.instance}.ffff", "app.confirm", timeout=5)
    assert info.value.code == "connection_gone"
    assert "no open connection" in info.value.message


async def test_a_malformed_answer_gets_bad_message_without_an_id(app):
    conn = connection(app)
    task = asyncio.ensure_future(conn.call("app.confirm"))
    [call] = await sent_calls(conn, app)
    conn.receive(orjson.dumps({"type": "client_reply", "id": call["id"], "error": {"code": "weird", "message": "x"}}))
    await settle(app)
    [error] = [m for m in conn.transport.messages() if m["type"] == "error"]
    assert error["id"] is None and error["error"]["code"] == "bad_message"
    assert not task.done()                                  # the call still waits for a proper answer
    answer(conn, call["id"], result=2)
    assert await task == 2
