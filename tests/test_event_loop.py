"""server.event_loop: which loop `python -m ss start` serves on, and the errors a wrong choice gives."""

import asyncio
import builtins

import pytest
import uvloop

from ss import event_loop
from tests.conftest import ServerProcess, free_port
from tests.test_cli import run


async def _loop_type():
    return type(asyncio.get_running_loop())


def test_asyncio_is_the_default_and_asyncios_own_loop():
    from ss.presets import BASE

    assert BASE["server"]["event_loop"] == "asyncio"
    assert not issubclass(event_loop.run(_loop_type(), "asyncio"), uvloop.Loop)


def test_uvloop_serves_on_uvloop():
    assert event_loop.run(_loop_type(), "uvloop") is uvloop.Loop


def _without_uvloop(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_uvloop_asked_for_but_missing_says_how_to_fix_it(monkeypatch):
    _without_uvloop(monkeypatch)
    with pytest.raises(ValueError) as caught:
        event_loop.loop_factory("uvloop")
    message = str(caught.value)
    assert "server.event_loop" in message and "pip install uvloop" in message and '"asyncio"' in message


def test_an_unknown_loop_names_the_choices():
    with pytest.raises(ValueError) as caught:
        event_loop.loop_factory("trio")
    assert "'trio'" in str(caught.value) and '"asyncio" or "uvloop"' in str(caught.value)


def test_the_banner_names_the_loop_and_the_setting_changes_it(skeleton_app):
    server = ServerProcess(skeleton_app).start()
    assert server.stop() == 0
    assert "loop: asyncio" in server.output()
    config = skeleton_app / "config" / "app.py"
    config.write_text(config.read_text() + "\nconfig['server'] = {'event_loop': 'uvloop'}\n")
    server = ServerProcess(skeleton_app).start()
    assert server.stop() == 0                       # a graceful stop (SIGTERM) on uvloop too
    assert "loop: uvloop" in server.output()


def test_a_wrong_loop_stops_the_start_with_a_clear_error(skeleton_app):
    config = skeleton_app / "config" / "app.py"
    config.write_text(config.read_text() + "\nconfig['server'] = {'event_loop': 'trio'}\n")
    result = run(["start", "--port", str(free_port())], skeleton_app)
    assert result.returncode == 1
    assert "server.event_loop" in result.stderr and "'trio'" in result.stderr
    assert "Traceback" not in result.stderr
