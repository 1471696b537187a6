"""Compiled CoffeeScript/Stylus kept on disk: a restart with unchanged files starts no Node."""
from __future__ import annotations

import os
import time

from ss.assets import sources
from ss.assets.build import Builder
from ss.assets.compilers import Compiled, Compilers
from ss.assets.disk_cache import DiskCache
from ss.assets.node_worker import NodeWorker

from .conftest import write_files


async def build(root, cache_dir):
    worker = NodeWorker()
    builder = Builder(root, Compilers(worker, label=lambda p: sources.relative(root, p)), DiskCache(cache_dir))
    try:
        snap = await builder.snapshot()
    finally:
        await worker.close()
    return snap, builder, worker


async def test_restart_with_unchanged_files_needs_no_node(sample_app, tmp_path):
    first, _, worker1 = await build(sample_app, tmp_path / "cache")
    assert worker1.starts == 1
    second, builder, worker2 = await build(sample_app, tmp_path / "cache")
    assert worker2.starts == 0 and builder.disk_hits == 4  # 3 .coffee + app.styl
    assert [p.text for p in second.app_js] == [p.text for p in first.app_js]
    assert second.css_text() == first.css_text()


async def test_a_changed_import_is_a_miss(sample_app, tmp_path):
    await build(sample_app, tmp_path / "cache")
    (sample_app / "app/css/vars.styl").write_text("c = #999999\n")
    snap, builder, worker = await build(sample_app, tmp_path / "cache")
    assert "#999" in snap.css_text() and worker.starts == 1
    assert builder.disk_hits == 3  # the .coffee files still hit


async def test_errors_are_not_stored(sample_app, tmp_path):
    write_files(sample_app, {"app/client/app.coffee": "x = (\n"})
    snap, _, _ = await build(sample_app, tmp_path / "cache")
    assert snap.errors
    _, builder, worker = await build(sample_app, tmp_path / "cache")
    assert worker.starts == 1 and builder.disk_hits == 3  # the broken file compiled again


def test_prune_removes_entries_unused_for_long(tmp_path):
    cache = DiskCache(tmp_path)
    cache.put("aa" + "0" * 62, Compiled("old", "js"))
    cache.put("bb" + "0" * 62, Compiled("new", "js"))
    old = tmp_path / "aa" / ("aa" + "0" * 62)
    past = time.time() - 40 * 86400
    os.utime(old, (past, past))
    assert cache.prune() == 1
    assert cache.get("aa" + "0" * 62) is None and cache.get("bb" + "0" * 62).text == "new"
