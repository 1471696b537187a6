"""Development live reload: the watcher turns saves into notify() messages."""
from __future__ import annotations

import asyncio
import re

import pytest

from ss.assets import AssetPipeline

from .conftest import write_files

# watchdog's own recursive-watch race warning (see ss/assets/watcher.py); pytest resets filters per test.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


class Messages:
    """Collects notify() messages; ``next()`` awaits the next one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict] = asyncio.Queue()

    def __call__(self, message: dict) -> None:
        self.queue.put_nowait(message)

    async def next(self, timeout: float = 30) -> dict:  # compiles run in Node: slow on a busy machine
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture
async def live(sample_app):
    messages = Messages()
    pipeline = AssetPipeline(sample_app, "development", {}, notify=messages)
    await pipeline.start()
    yield pipeline, messages, sample_app
    await pipeline.close()


async def test_stylesheet_save_swaps_css(live):
    pipeline, messages, root = live
    (root / "app/css/vars.styl").write_text("c = #00ff00\n")
    msg = await messages.next()
    assert msg["type"] == "css" and re.fullmatch(r"/_ss/assets/[0-9a-f]{10}/app\.css", msg["href"])
    css = (await pipeline.asset(msg["href"].removeprefix("/_ss/assets/"))).body.decode()
    assert "#0f0" in css


async def test_client_save_reloads(live):
    pipeline, messages, root = live
    (root / "app/client/app.coffee").write_text("exports.init = -> 'new'\n")
    assert await messages.next() == {"type": "reload"}


async def test_new_view_reloads(live):
    pipeline, messages, root = live
    write_files(root, {"app/views/extra.html": "<b>${x}</b>"})
    assert await messages.next() == {"type": "reload"}
    assert 'id="extra"' in await pipeline.page()


async def test_broken_file_shows_error_then_ok(live):
    pipeline, messages, root = live
    (root / "app/client/app.coffee").write_text("exports.init = ->\n  x = (\n")
    msg = await messages.next()
    assert msg["type"] == "asset_error"
    assert msg["error"]["file"] == "app/client/app.coffee" and msg["error"]["line"] >= 2 and msg["error"]["message"]
    (root / "app/client/app.coffee").write_text("exports.init = -> 1\n")
    assert await messages.next() == {"type": "asset_ok"}
    assert await messages.next() == {"type": "reload"}


async def test_broken_stylesheet_then_fixed(live):
    pipeline, messages, root = live
    (root / "app/css/app.styl").write_text("body\n  color foo(\n")
    assert (await messages.next())["type"] == "asset_error"
    (root / "app/css/app.styl").write_text("body\n  color blue\n")
    assert await messages.next() == {"type": "asset_ok"}
    assert (await messages.next())["type"] == "css"


async def test_server_change_calls_back(live):
    pipeline, messages, root = live
    changed: asyncio.Queue = asyncio.Queue()
    pipeline.on_server_change(changed.put_nowait)
    (root / "app/server/app.py").write_text("import ss\nX = 2\n")
    paths = await asyncio.wait_for(changed.get(), 30)
    assert root / "app/server/app.py" in paths
    assert messages.queue.empty()  # server code is not a browser asset


async def test_folder_created_later_is_watched(live):
    pipeline, messages, root = live
    assert not (root / "config").exists()
    (root / "vendor" / "bar" / "lib").mkdir(parents=True)  # vendor/ exists; a new library inside it
    (root / "vendor/bar/lib/bar.js").write_text("window.BAR = 1;\n")
    assert await messages.next() == {"type": "reload"}
    assert "/vendor/bar/lib/bar.js" in await pipeline.page()


async def test_missing_top_folder_created_later_is_watched(tmp_path):
    root = write_files(tmp_path / "app", {"app/client/app.js": "exports.init = function () {};\n"})
    messages = Messages()
    pipeline = AssetPipeline(root, "development", {}, notify=messages)
    await pipeline.start()
    try:
        (root / "lib").mkdir()
        (root / "lib/client").mkdir()
        (root / "lib/client/1.x.js").write_text("window.X = 1;\n")
        assert await messages.next() == {"type": "reload"}
        assert "/lib/client/1.x.js" in await pipeline.page()
    finally:
        await pipeline.close()


async def test_script_change_made_while_an_error_shows_reloads_after_the_fix(live):
    pipeline, messages, root = live
    (root / "app/css/app.styl").write_text("body\n  color foo(\n")
    assert (await messages.next())["type"] == "asset_error"
    (root / "app/client/app.coffee").write_text("exports.init = -> 'meanwhile'\n")
    assert (await messages.next())["type"] == "asset_error"  # still broken: no reload into a broken page
    (root / "app/css/app.styl").write_text("body\n  color blue\n")
    assert await messages.next() == {"type": "asset_ok"}
    assert await messages.next() == {"type": "reload"}  # not just a stylesheet swap
