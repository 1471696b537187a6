"""The serving process settles Python's garbage collector once it has started (ss/serving.py)."""

from __future__ import annotations

import gc

import pytest

from ss import serving


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_full_collections_are_rarer(restored_collector):
    gc.unfreeze()
    first, second, _ = gc.get_threshold()
    leftover = [[i] for i in range(1000)]
    leftover.append(leftover)                      # start-up garbage: a cycle the settle collects first
    del leftover
    serving.settle_collector()
    assert gc.get_freeze_count() > 1000            # what start-up made is out of every later collection
    assert not gc.garbage
    assert gc.get_threshold() == (first, second, serving.FULL_COLLECTION_AFTER)
    assert serving.FULL_COLLECTION_AFTER > 10      # CPython's default: a full pass every 10 middle ones
    assert gc.isenabled()                          # new objects are still collected


async def test_serve_settles_the_collector_before_it_reports_ready(make_app, restored_collector):
    import asyncio
    import os
    import signal
    from pathlib import Path

    from ss.app import App

    gc.unfreeze()
    seen = []

    def ready(server):
        seen.append((gc.get_freeze_count(), gc.get_threshold()[2]))
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n    pass\n"})
    app = App.load(Path(root), "test", {"redis": {"enabled": False}})
    await asyncio.wait_for(serving.serve(app, port=0, host="127.0.0.1", quiet=True, ready=ready), 20)
    ((frozen, full_after),) = seen
    assert frozen > 1000 and full_after == serving.FULL_COLLECTION_AFTER
