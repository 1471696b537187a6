"""ss.shared on the server: the app/shared tree, values, JS errors, timeouts, reload in development."""

from __future__ import annotations

import asyncio
import math
import os
import time

import pytest

from ss.app import App
from ss.shared_code import JSError, SharedCode, SharedCodeError, SharedCodeTimeout
from ss.testing import CallFailed, running_app

CALCULATE = """
exports.circumference = (radius = 1) ->
  2 * estimatePi() * radius

exports.describe = (person) ->
  throw new TypeError("a person needs a name") unless person?.name
  {greeting: "Hello #{person.name}", tags: (t.toUpperCase() for t in person.tags or [])}

estimatePi = -> 355 / 113
"""

FORMAT_JS = """
exports.VERSION = "1.2";
exports.money = function (cents) { return (cents / 100).toFixed(2) + " EUR"; };
exports.nothing = function () {};
exports.deep = { nested: { twice: function (x) { return SS.shared.format.money(x * 2); } } };
exports.raw = function () { throw "a bare string"; };
exports.spin = function () { while (true) {} };
"""


@pytest.fixture
def shared_app(make_app):
    return make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n"
                                          "    async def circ(self, r):\n"
                                          "        return await ss.shared.calculate.circumference(r)\n",
                     "app/shared/calculate.coffee": CALCULATE, "app/shared/format.js": FORMAT_JS})


def test_shared_functions_values_and_namespaces(shared_app):
    code = SharedCode(shared_app, "test")
    assert math.isclose(code.calculate.circumference(20), 2 * 355 / 113 * 20)
    assert code.calculate.circumference() == 2 * 355 / 113           # CoffeeScript default argument
    assert code.calculate.describe({"name": "Ann", "tags": ["a", "b"]}) == {"greeting": "Hello Ann", "tags": ["A", "B"]}
    assert code.format.VERSION == "1.2"
    assert code.format.money(1999) == "19.99 EUR"
    assert code.format.nothing() is None
    assert code.format.deep.nested.twice(50) == "1.00 EUR"           # modules reach each other via SS.shared
    assert sorted(dir(code)) == ["calculate", "format"]
    assert "circumference" in dir(code.calculate) and "estimatePi" not in dir(code.calculate)
    with pytest.raises(AttributeError, match=r"ss.shared.calculate.estimatePi does not exist"):
        code.calculate.estimatePi                                     # private to its file, as in the browser
    with pytest.raises(AttributeError, match=r"app/shared/nope.js or .coffee"):
        code.nope


def test_js_exceptions_and_runaway_code_become_python_exceptions(shared_app):
    code = SharedCode(shared_app, "test", timeout=1)  # a busy machine still runs every other call well inside it
    with pytest.raises(JSError, match="TypeError: a person needs a name") as caught:
        code.calculate.describe({})
    assert caught.value.name == "TypeError" and caught.value.message == "a person needs a name"
    assert "calculate" in caught.value.stack or "describe" in caught.value.stack
    with pytest.raises(JSError, match="a bare string"):
        code.format.raw()
    started = time.monotonic()
    with pytest.raises(SharedCodeTimeout, match="shared_code.timeout"):
        code.format.spin()
    assert time.monotonic() - started < 3
    assert code.format.money(5) == "0.05 EUR"                        # still usable afterwards
    with pytest.raises(TypeError, match="must be JSON values"):
        code.format.money(object())


STALL_JS = """
// Sorting a typed array runs in one stretch V8 cannot interrupt: a call stopped while sorting
// ends only when the sort does, a good while after its timeout.
var source = null, scratch = null;
exports.prepare = function (n) {
  source = new Float64Array(n); scratch = new Float64Array(n);
  for (var i = 0; i < n; i++) source[i] = (i * 2654435761) % 1000003;
  return n;
};
exports.stall = function () { while (true) { scratch.set(source); scratch.sort(); } };
exports.sortOnce = function () { scratch.set(source); scratch.sort(); return scratch.length; };
exports.quick = function () { return "quick"; };
"""


def test_a_call_after_a_stopped_one_is_not_charged_for_the_stopping(make_app):
    # The timed-out call's SharedCodeTimeout is raised once V8 has really stopped it, so the
    # next call gets its own full timeout instead of waiting out the rest of the stopped one.
    root = make_app({"app/server/app.py": "import ss\n", "app/shared/stall.js": STALL_JS})
    measuring = SharedCode(root, "test", timeout=30, max_memory=512 << 20)
    size = measuring.stall.prepare(4_000_000)
    started = time.monotonic()
    measuring.stall.sortOnce()
    one_sort = time.monotonic() - started
    measuring.close()
    # Loading the module and filling the arrays are set-up, with time to spare on a busy machine;
    # then stop the first sort a fifth of the way in: most of it is still to run when the timeout fires.
    code = SharedCode(root, "test", timeout=30, max_memory=512 << 20)
    assert code.stall.prepare(size) == size
    code.timeout = max(0.05, one_sort / 5)
    for _ in range(3):
        with pytest.raises(SharedCodeTimeout):
            code.stall.stall()
        assert code.stall.quick() == "quick"


def test_edits_are_picked_up_in_development_and_errors_name_the_file(shared_app):
    code = SharedCode(shared_app, "development")
    assert code.format.money(100) == "1.00 EUR"
    path = shared_app / "app" / "shared" / "format.js"
    path.write_text(FORMAT_JS.replace('" EUR"', '" USD"'))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert code.format.money(100) == "1.00 USD"
    (shared_app / "app" / "shared" / "broken.coffee").write_text("exports.x = ->\n  if\n")
    with pytest.raises(SharedCodeError, match="app/shared/broken.coffee"):
        code.format.money(1)
    (shared_app / "app" / "shared" / "broken.coffee").write_text("throw new Error('not at load time')\n")
    with pytest.raises(SharedCodeError, match=r"app/shared/broken.coffee failed while loading on the server: .*not at load time"):
        code.format.money(1)


async def test_ss_shared_from_server_actions(shared_app):
    async with running_app(shared_app) as running:
        async with running.client() as client:
            assert math.isclose(await client.call("app.circ", 3), 2 * 355 / 113 * 3)
        import ss

        assert await ss.shared.format.money(250) == "2.50 EUR"     # on the loop: awaitable


def test_an_app_without_shared_code(make_app):
    app = App.load(make_app({}), "test")
    import ss

    assert dir(ss.shared) == [] and repr(ss.shared) == "<ss.shared: nothing in app/shared>"
    del app


def test_shared_code_escapes_exactly_like_the_server_and_the_browser(make_app):
    import ss

    root = make_app({"app/shared/fmt.js": "exports.safe = function (t) { return SS.escape(t); };\n"})
    code = SharedCode(root, "test")
    for text in ["<script>alert('x')</script>", 'a & "b"', "plain", ""]:
        assert code.fmt.safe(text) == ss.escape(text)


SLOW_ACTIONS = """
import ss


class Actions(ss.Actions):
    async def spin(self, ms):
        return await ss.shared.work.spin(ms)

    def quick(self, number):
        return number * number

    async def square(self, number):
        return await ss.shared.work.square(number)

    @ss.in_thread
    def square_in_thread(self, number):
        return ss.shared.work.square(number)  # no loop in this thread: the value itself
"""

WORK_JS = """
exports.spin = function (ms) { var end = Date.now() + ms; while (Date.now() < end) {} return ms; };
exports.square = function (x) { return x * x; };
exports.forever = function () { while (true) {} };
"""


@pytest.fixture
def slow_app(make_app):
    return make_app({"app/server/app.py": SLOW_ACTIONS, "app/shared/work.js": WORK_JS})


async def test_a_long_shared_call_leaves_the_event_loop_free_for_other_clients(slow_app):
    async with running_app(slow_app, overrides={"shared_code": {"timeout": 10}}) as running:
        async with running.client() as ann, running.client() as bob:
            assert await ann.call("app.square", 3) == 9                  # app/shared loaded
            slow = asyncio.create_task(ann.call("app.spin", 3000, timeout=30))
            await asyncio.sleep(0.3)                                      # the spin is under way
            assert await bob.call("app.quick", 7) == 49
            assert not slow.done(), "bob's call had to wait for ann's shared code"   # the loop was free
            assert await bob.call("app.square", 5, timeout=30) == 25      # queued behind the spin on V8
            assert await slow == 3000


async def test_concurrent_calls_queue_on_v8_and_a_timeout_does_not_wedge_the_rest(slow_app):
    async with running_app(slow_app, overrides={"shared_code": {"timeout": 0.3}}) as running:
        async with running.client() as ann, running.client() as bob:
            results = await asyncio.gather(ann.call("app.spin", 5000), *(bob.call("app.square", n) for n in range(8)),
                                           ann.call("app.square_in_thread", 12), return_exceptions=True)
            assert isinstance(results[0], CallFailed) and "shared_code.timeout" in str(results[0])
            assert results[1:] == [n * n for n in range(8)] + [144]
            assert await ann.call("app.square", 11) == 121


async def test_on_the_event_loop_a_call_is_awaitable_elsewhere_it_returns_the_value(shared_app):
    code = SharedCode(shared_app, "test", timeout=0.3)
    pending = code.format.money(1999)
    assert isinstance(pending, asyncio.Future)
    assert await pending == "19.99 EUR"
    assert code.format.VERSION == "1.2"                                   # plain values come back directly
    with pytest.raises(JSError, match="TypeError: a person needs a name"):
        await code.calculate.describe({})
    with pytest.raises(SharedCodeTimeout, match="shared_code.timeout"):
        await code.format.spin()
    with pytest.raises(TypeError, match="must be JSON values"):
        await code.format.money(object())
    assert await asyncio.to_thread(code.format.money, 5) == "0.05 EUR"   # another thread: the value
    assert code.call(("format", "money"), (7,)) == "0.07 EUR"            # SharedCode.call always waits
    code.close()
