"""The browser client's unit tests (Node's built-in runner, no browser), and its build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


from ss.client_js import MODULES, MODULES_DIR, client_source

HERE = Path(__file__).resolve().parent


def run_node_tests(directory: Path, built: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is not installed: run `make deps`"
    # Files, not the folder: newer Node versions read --test arguments as glob patterns.
    files = sorted(str(p) for p in directory.glob("*.test.js"))
    assert files
    return subprocess.run([node, "--test", *files], cwd=directory, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SS_CLIENT_JS": str(built)})


def test_node_unit_tests_pass(tmp_path):
    built = tmp_path / "client.js"
    built.write_bytes(client_source())   # the tests of the whole client run exactly what is served
    result = run_node_tests(HERE, built)
    summary = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", result.stdout, re.M))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert summary["fail"] == "0" and int(summary["pass"]) >= 50, summary


def test_a_failing_js_test_fails_the_run(tmp_path):
    """The check above would notice a broken client: node --test exits non-zero."""
    (tmp_path / "broken.test.js").write_text(
        'require("node:test")("fails", () => require("node:assert").strictEqual(1, 2));\n')
    result = run_node_tests(tmp_path, tmp_path / "unused.js")
    assert result.returncode != 0 and "# fail 1" in result.stdout


def test_the_build_is_every_module_in_order_inside_one_function():
    source = client_source().decode()
    assert sorted(p.stem for p in MODULES_DIR.glob("*.js")) == sorted(MODULES), "a module file missing from MODULES"
    positions = [source.index(f"/* ---- {name}.js ---- */") for name in MODULES]
    assert positions == sorted(positions)
    assert source.startswith("/* ss browser client")
    assert source.rstrip().endswith('})(typeof window !== "undefined" ? window : this);')
    assert client_source() is client_source()   # cached while no file changes


def test_the_build_follows_an_edited_module(tmp_path, monkeypatch):
    import ss.client_js as client_js

    copy = tmp_path / "modules"
    shutil.copytree(MODULES_DIR, copy)
    monkeypatch.setattr(client_js, "MODULES_DIR", copy)
    before = client_js.client_source()
    escape = copy / "escape.js"
    escape.write_text(escape.read_text() + "\n/* edited */\n")
    after = client_js.client_source()
    assert b"/* edited */" in after and b"/* edited */" not in before


def test_v8_without_a_browser_gets_ss_and_does_not_connect():
    """ss/shared_code.py evals the client in mini-racer: there is no WebSocket or location there."""
    import py_mini_racer as mini_racer  # a runtime dependency of ss (requirements.in): never skipped
    context = mini_racer.MiniRacer()
    context.eval(client_source().decode())
    assert context.eval("typeof WebSocket + typeof location") == "undefinedundefined"
    assert context.eval("SS.socket.state") == "connecting"
    context.eval("SS.define('shared', 'calc', function (exports) { exports.area = function (r) { return 3 * r * r; }; })")
    assert context.eval("SS.shared.calc.area(2)") == 12
    assert context.eval("SS.escape('<b>')") == "&lt;b&gt;"
    assert context.eval("var seen = []; SS.events.on('x', function (v) { seen.push(v); }); SS.events.emit('x', 1); seen[0]") == 1
