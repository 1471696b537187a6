"""The persistent Node worker: concurrency, restart after a crash, shutdown."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from ss.assets.errors import CompileError


async def test_many_concurrent_compiles_share_one_process(worker):
    results = await asyncio.gather(*(worker.call("coffee", source=f"x = {i}", filename="a.coffee") for i in range(200)))
    assert [r["code"].strip().splitlines()[-1] for r in results] == [f"x = {i};" for i in range(200)]
    assert worker.starts == 1


async def test_restarts_after_being_killed(worker):
    await worker.call("ping")
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    result = await worker.call("coffee", source="y = 2", filename="a.coffee")
    assert "y = 2;" in result["code"]
    assert worker.starts == 2 and worker.pid != first


async def test_calls_in_flight_when_it_dies_are_retried(worker):
    await worker.call("ping")
    calls = [asyncio.create_task(worker.call("coffee", source=f"z = {i}", filename="a.coffee")) for i in range(20)]
    os.kill(worker.pid, signal.SIGKILL)
    results = await asyncio.gather(*calls)
    assert all("z = " in r["code"] for r in results)


async def test_compile_errors_do_not_hurt_the_worker(worker):
    with pytest.raises(CompileError):
        await worker.call("coffee", source="a = (", filename="bad.coffee")
    assert (await worker.call("ping"))["pid"] == worker.pid
    assert worker.starts == 1


async def test_minify_with_esbuild(worker):
    out = await worker.call("minify", source="function add(first, second) {\n  return first + second;\n}\nwindow.add = add;\n")
    assert out["code"].strip() == "function add(d,n){return d+n}window.add=add;"


async def test_close_ends_the_process(worker):
    await worker.call("ping")
    pid = worker.pid
    await worker.close()
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_without_node_modules_fails_fast_and_clearly():
    from ss.assets.errors import NodeWorkerError
    from ss.assets.node_worker import NodeWorker

    attempts = []

    def no_modules():
        attempts.append(1)
        raise NodeWorkerError("npm ci failed: offline")

    w = NodeWorker(modules=no_modules)
    for _ in range(3):
        with pytest.raises(NodeWorkerError, match="offline"):
            await w.call("coffee", source="x = 1", filename="a.coffee")
    assert attempts == [1]  # not one install attempt per file
    await w.close()
