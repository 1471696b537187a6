"""ss.shared on the server: the app/shared tree, values, JS errors, timeouts, reload in development."""

from __future__ import annotations

import math
import os
import time

import pytest

from ss.app import App
from ss.shared_code import JSError, SharedCode, SharedCodeError, SharedCodeTimeout
from ss.testing import running_app

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
                                          "    def circ(self, r):\n        return ss.shared.calculate.circumference(r)\n",
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
    code = SharedCode(shared_app, "test", timeout=0.3)
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

        assert ss.shared.format.money(250) == "2.50 EUR"


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
