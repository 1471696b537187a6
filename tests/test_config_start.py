"""`python -m ss start` with a config it cannot use: it stops before serving, saying what to fix."""

from tests.conftest import free_port
from tests.test_cli import run


def test_unknown_key_stops_the_start_naming_key_file_and_suggestion(skeleton_app):
    (skeleton_app / "config" / "app.py").write_text('config = {\n    "limiter": {"enabled": True, "rsp": 5},\n}\n')
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1
    assert ("config/app.py:2: limiter.rsp: no such key; did you mean limiter.websockets.rps or limiter.http.rps?"
            in result.stderr) and "Traceback" not in result.stderr


def test_wrong_type_in_the_env_file_stops_the_start(skeleton_app):
    (skeleton_app / "config" / "environments" / "development.py").write_text('config = {"log": {"level": "3"}}\n')
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1
    assert "development.py:1: log.level: expected int, given str '3': write 3 without quotes" in result.stderr


def test_redis_host_alone_is_used_not_ignored(skeleton_app):
    """Configured the seed's way, Redis is what the app uses: down, the start says so with its address."""
    port = free_port()
    (skeleton_app / "config" / "app.py").write_text(f'config = {{"redis": {{"host": "127.0.0.1", "port": {port}}}}}\n')
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "does not answer" in result.stderr
