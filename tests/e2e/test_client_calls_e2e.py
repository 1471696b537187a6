"""Server calls to the browser in Chromium: an action runs SS.client.<method> in a tab and gets its answer.

One instance: the result, a Promise's value, a thrown error, a missing function, a tab that closes
while asked. Two instances on one Redis, pages spread over both: an action on one instance asks a tab
held by the other (ss.connections.call) and gets its answer, or a timeout when the tab never answers.
"""

from __future__ import annotations

import uuid

import pytest

from tests.fallback.proxy import REFUSE, Proxy

pytestmark = pytest.mark.e2e

CLIENT = """
# SS.client.asks.*: what the tests' server code calls in the browser
exports.confirm = (question) -> "yes to #{question} from #{SS.connection_id}"
exports.later = (value) -> new Promise (resolve) -> setTimeout (-> resolve value * 2), 50
exports.boom = -> throw new Error 'the user said no'
exports.never = ->
  window.asked = (window.asked or 0) + 1
  new Promise -> null
"""

SERVER = """
import ss


class Actions(ss.Actions):
    def my_id(self):
        return self.connection.id

    async def ask(self, method, args, timeout):
        return await self.connection.call(method, *args, timeout=timeout)

    async def ask_caught(self, method, args, timeout):
        try:
            return {"result": await self.connection.call(method, *args, timeout=timeout)}
        except ss.ClientCallError as exc:
            return {"code": exc.code, "message": exc.message}

    async def ask_other(self, connection_id, method, args, timeout):
        try:
            return {"result": await ss.connections.call(connection_id, method, *args, timeout=timeout)}
        except ss.ClientCallError as exc:
            return {"code": exc.code, "message": exc.message}
"""


@pytest.fixture
def calls_app(new_app):
    root = new_app("calls")
    (root / "app" / "client" / "asks.coffee").write_text(CLIENT)
    (root / "app" / "server" / "asks.py").write_text(SERVER)
    return root


def open_page(browser, url):
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_function("SS.socket.state === 'connected' && SS.client.asks !== undefined", timeout=20000)
    return page, errors


def test_an_action_calls_its_own_tab_and_another_one(browser, calls_app, ss_server):
    server = ss_server(calls_app)
    page, errors = open_page(browser, server.url)
    other, other_errors = open_page(browser, server.url)
    try:
        me = page.evaluate("SS.connection_id")
        assert page.evaluate("SS.server.asks.my_id()") == me
        # the function's return value, and a Promise's resolved value
        assert page.evaluate("SS.server.asks.ask('asks.confirm', ['Delete?'], 5)") == f"yes to Delete? from {me}"
        assert page.evaluate("SS.server.asks.ask('asks.later', [21], 5)") == 42
        # a thrown error the action does not catch answers the calling tab with the same code and message
        failed = page.evaluate("SS.server.asks.ask('asks.boom', [], 5).then(r => ['ok', r], e => [e.code, e.message])")
        assert failed == ["client_error", "asks.ask: SS.client.asks.boom failed in the browser: the user said no"]
        # a missing function, caught in the action
        missing = page.evaluate("SS.server.asks.ask_caught('asks.missing', [], 5)")
        assert missing["code"] == "no_such_function"
        assert missing["message"].startswith("SS.client.asks.missing is not a function in the browser")
        # another tab of this instance, by its connection id
        other_id = other.evaluate("SS.connection_id")
        answer = page.evaluate(f"SS.server.asks.ask_other({other_id!r}, 'asks.confirm', ['ok?'], 5)")
        assert answer == {"result": f"yes to ok? from {other_id}"}
        # ... which closes while it is being asked: connection_gone, long before the timeout
        page.evaluate(f"() => {{ window.pending = SS.server.asks.ask_other({other_id!r}, 'asks.never', [], 60); }}")
        other.wait_for_function("window.asked === 1", timeout=10000)
        other.context.close()
        gone = page.evaluate("window.pending")
        assert gone["code"] == "connection_gone"
        assert f"connection {other_id} closed before SS.client.asks.never answered" in gone["message"]
        # an id no instance holds
        unknown = page.evaluate(f"SS.server.asks.ask_other({other_id!r}, 'asks.confirm', [], 60)")
        assert unknown["code"] == "connection_gone"
        assert errors == [] and other_errors == []
    finally:
        page.context.close()


def test_a_tab_on_the_http_transport_answers_too(browser, calls_app, ss_server):
    server = ss_server(calls_app)
    proxy = Proxy([server.port], REFUSE).start()     # no WebSocket gets through: the client falls back to HTTP
    try:
        page, errors = open_page(browser, proxy.url)
        assert page.evaluate("SS.transport") == "http"
        assert page.evaluate("SS.server.asks.ask('asks.later', [4], 5)") == 8
        failed = page.evaluate("SS.server.asks.ask_caught('asks.boom', [], 5)")
        assert failed["code"] == "client_error"
        assert errors == []
        page.context.close()
    finally:
        proxy.stop()


@pytest.fixture
def two_instances(calls_app, ss_server, redis_url):
    (calls_app / "config" / "app.py").write_text(
        f"config = {{'redis': {{'key_prefix': 'calls-e2e-{uuid.uuid4().hex[:8]}:'}}}}\n")
    env = {"SS_REDIS_URL": redis_url}
    return ss_server(calls_app, env=env), ss_server(calls_app, env=env)


def test_an_action_on_one_instance_calls_a_tab_on_the_other(browser, two_instances):
    a, b = two_instances
    on_a, a_errors = open_page(browser, a.url)
    on_b, b_errors = open_page(browser, b.url)
    try:
        a_id, b_id = on_a.evaluate("SS.connection_id"), on_b.evaluate("SS.connection_id")
        assert a_id.split(".")[0] != b_id.split(".")[0]        # really two instances
        answer = on_a.evaluate(f"SS.server.asks.ask_other({b_id!r}, 'asks.confirm', ['across?'], 10)")
        assert answer == {"result": f"yes to across? from {b_id}"}
        assert on_b.evaluate(f"SS.server.asks.ask_other({a_id!r}, 'asks.later', [5], 10)") == {"result": 10}
        # an error in the far tab comes back with its code and message
        failed = on_a.evaluate(f"SS.server.asks.ask_other({b_id!r}, 'asks.boom', [], 10)")
        assert failed == {"code": "client_error", "message": "SS.client.asks.boom failed in the browser: the user said no"}
        # a tab that never answers: the caller's timeout
        timed_out = on_a.evaluate(f"SS.server.asks.ask_other({b_id!r}, 'asks.never', [], 1)")
        assert timed_out["code"] == "timeout"
        assert timed_out["message"].startswith("SS.client.asks.never did not answer within 1 s")
        assert on_b.evaluate("window.asked") == 1
        # a connection id of the other instance that is not open (closed tab): connection_gone, not the timeout
        gone_id = b_id.rsplit(".", 1)[0] + ".fffffff"
        gone = on_a.evaluate(f"SS.server.asks.ask_other({gone_id!r}, 'asks.confirm', [], 30)")
        assert gone["code"] == "connection_gone"
        assert a_errors == [] and b_errors == []
    finally:
        on_a.context.close()
        on_b.context.close()
