"""`python -m ss` as a user meets it: new, start, and the errors that stop a start."""

import subprocess
import sys

import pytest

from ss.testing import running_app
from tests.conftest import ServerProcess, free_port


def run(args, cwd, env=None, timeout=60):
    import os

    return subprocess.run([sys.executable, "-m", "ss", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_new_creates_the_layout_and_refuses_existing_folder(tmp_path):
    result = run(["new", "shop"], tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    for rel in ["app/client/app.coffee", "app/server/app.py", "app/shared", "app/css/app.styl",
                "app/views/app.jade", "config/app.py", "config/environments", "lib/client", "lib/css",
                "lib/server", "public", "static/incompatible_browsers/index.html", "Makefile"]:
        assert (root / rel).exists(), rel
    (root / "app" / "server" / "mine.py").write_text("# user work\n")
    again = run(["new", "shop"], tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (root / "app" / "server" / "mine.py").read_text() == "# user work\n"


def test_start_outside_an_app_says_what_to_do(tmp_path):
    result = run(["start"], tmp_path)
    assert result.returncode == 1 and "python -m ss new" in result.stderr


def test_config_syntax_error_stops_the_start(skeleton_app):
    (skeleton_app / "config" / "app.py").write_text("config = {\n  'http': {'port': 3000\n}\n")
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1
    assert "config/app.py:" in result.stderr and "syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_code_clash_stops_the_start(skeleton_app):
    (skeleton_app / "app" / "server" / "app").mkdir()
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1 and "app.py" in result.stderr and "rename one" in result.stderr


def test_redis_configured_but_down_names_host_and_port(skeleton_app):
    port = free_port()
    result = run(["start", "--port", str(free_port())], skeleton_app,
                 env={"SS_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "does not answer" in result.stderr


def test_port_in_use_is_a_clear_error(skeleton_app):
    server = ServerProcess(skeleton_app).start()
    try:
        result = run(["start", "--port", str(server.port)], skeleton_app)
        assert result.returncode == 1 and f"cannot listen on port {server.port}" in result.stderr
    finally:
        server.stop()


def test_banner_and_env_and_graceful_exit(skeleton_app):
    server = ServerProcess(skeleton_app, env={"SS_ENV": "staging"}).start()
    assert server.stop() == 0
    output = server.output()
    assert "env: staging" in output and f"http://localhost:{server.port}/" in output
    assert "store: embedded" in output and "lost on restart" in output


@pytest.mark.parametrize("env", ["development", "production"])
async def test_page_sets_a_safe_session_cookie_and_keeps_it(skeleton_app, env):
    (skeleton_app / "public" / "index.html").write_text("<!DOCTYPE html><p>packed</p>")
    async with running_app(skeleton_app, env, {"redis": {"enabled": False}}, assets=False) as app:
        if env == "development":
            app.app.pipeline = None  # no pipeline: the page handler must say so, not crash
            assert (await app.fetch("/")).code == 500
            return
        first = await app.fetch("/")
        assert first.code == 200 and b"packed" in first.body
        cookie = first.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        session = cookie.split(";")[0]
        second = await app.fetch("/", headers={"Cookie": session})
        assert second.headers["Set-Cookie"].split(";")[0] == session


def test_broken_source_stops_pack_and_production_start_without_a_traceback(skeleton_app):
    (skeleton_app / "app" / "client" / "app.coffee").write_text("exports.init = ->\n  if (\n")
    packed = run(["assets"], skeleton_app, timeout=300)
    assert packed.returncode == 1 and "app.coffee" in packed.stderr and "Traceback" not in packed.stderr
    started = run(["start", "--port", str(free_port())], skeleton_app, env={"SS_ENV": "production"}, timeout=300)
    assert started.returncode == 1 and "app.coffee" in started.stderr and "Traceback" not in started.stderr
