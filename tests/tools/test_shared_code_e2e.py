"""app/shared runs in the browser and on the server: the same calls give the same results."""

from __future__ import annotations

import json

from ss.shared_code import JSError, SharedCode

TEXT = """
exports.slug = (text) ->
  String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')

exports.stats = (numbers) ->
  throw new RangeError("no numbers") unless numbers?.length
  sum = numbers.reduce ((a, b) -> a + b), 0
  {sum, mean: sum / numbers.length, max: Math.max(numbers...), text: sum.toFixed(2)}
"""

CASES = [
    ("calculate.circumference", [20]),
    ("calculate.circumference", []),
    ("calculate.circumference", [0]),
    ("calculate.circumference", [-3.5]),
    ("calculate.circumference", [0.1]),
    ("calculate.circumference", [1e10]),
    ("calculate.circumference", ["5"]),
    ("calculate.circumference", [None]),
    ("text.slug", ["Hello, World!"]),
    ("text.slug", ["  Ünïcödé -- and  spaces "]),
    ("text.slug", [42]),
    ("text.stats", [[1, 2, 3.5]]),
    ("text.stats", [[0.1, 0.2]]),
    ("text.stats", [[-1e300, 1e300, 7]]),
    ("text.stats", [[]]),
    ("text.stats", [None]),
]

IN_BROWSER = """([path, args]) => {
  const parts = path.split('.');
  const fn = SS.shared[parts[0]][parts[1]];
  try { return {ok: JSON.parse(JSON.stringify(fn(...args) ?? null))}; }
  catch (e) { return {error: e.name + ': ' + e.message}; }
}"""


def test_the_same_function_in_chromium_and_from_python(skeleton_app, ss_server, browser):
    (skeleton_app / "app" / "shared" / "text.coffee").write_text(TEXT)
    server = ss_server(skeleton_app)
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
    on_server = SharedCode(skeleton_app, "development")
    for path, args in CASES:
        in_browser = page.evaluate(IN_BROWSER, [path, args])
        try:  # SharedCode.call waits here (sync Playwright leaves its loop marked as running in this thread)
            in_python = {"ok": on_server.call(tuple(path.split(".")), tuple(args))}
        except JSError as exc:
            in_python = {"error": str(exc)}
        assert json.dumps(in_python) == json.dumps(in_browser), (path, args)
    assert page.evaluate(IN_BROWSER, ["calculate.circumference", [20]])["ok"] == 2 * 355 / 113 * 20
    on_server.close()
    page.close()
