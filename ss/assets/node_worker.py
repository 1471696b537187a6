"""The persistent Node worker, seen from Python.

One process serves every CoffeeScript, Stylus and esbuild request of a
pipeline over JSON lines (see node/worker.js). It starts on the first call,
answers many calls concurrently (each carries an id), and is started again if
it dies; a call caught by a crash is retried once on the new process.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from pathlib import Path
from typing import Any, Callable

import orjson

from . import node_runtime
from .errors import CompileError, NodeWorkerError

log = logging.getLogger("ss.assets")

# Minified bundles come back as one JSON line; the default 64 KiB line limit is too small.
_LINE_LIMIT = 256 * 1024 * 1024
_RETRY_AFTER = 30.0  # seconds before trying again to start a worker that could not start


class NodeWorker:
    """A lazily started Node process answering compile requests.

    ``modules`` returns the node_modules folder (it may install it, so it runs
    in a thread); tests can pass their own.
    """

    def __init__(self, modules: Callable[[], Path] = node_runtime.ensure_node_modules) -> None:
        self._modules = modules
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._start_lock = asyncio.Lock()
        self._closed = False
        self._failed: tuple[float, NodeWorkerError] | None = None  # last start failure, remembered briefly
        self.starts = 0  # how many processes were launched; tests read it

    @property
    def pid(self) -> int | None:
        """The running process id, or None before the first call / after close."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def call(self, op: str, **payload: Any) -> dict:
        """Run ``op`` in the worker and return its result dict.

        Raises CompileError when the worker reports a compile error (with the
        position it found), NodeWorkerError when Node cannot run.
        """
        for attempt in (1, 2):
            proc = await self._ensure_started()
            request_id = next(self._ids)
            future = asyncio.get_running_loop().create_future()
            self._pending[request_id] = future
            assert proc.stdin is not None  # started with stdin=PIPE
            try:
                proc.stdin.write(orjson.dumps({"id": request_id, "op": op, **payload}) + b"\n")
                await proc.stdin.drain()
                reply = await future
            except (NodeWorkerError, ConnectionError, BrokenPipeError) as exc:
                if attempt == 2 or self._closed:
                    raise NodeWorkerError(f"node worker failed during {op}: {exc}") from exc
                log.warning("node worker died during %s; restarting it", op)
                continue
            finally:
                self._pending.pop(request_id, None)
            if reply.get("ok"):
                return reply["result"]
            error = reply.get("error") or {}
            raise CompileError(
                str(error.get("file") or payload.get("filename") or "<worker>"),
                str(error.get("message") or "compile failed"),
                int(error.get("line") or 0),
                int(error.get("column") or 0),
            )
        raise AssertionError("unreachable")

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        if self._closed:
            raise NodeWorkerError("node worker is closed")
        if self._proc and self._proc.returncode is None and self._reader and not self._reader.done():
            return self._proc
        async with self._start_lock:
            if self._proc and self._proc.returncode is None and self._reader and not self._reader.done():
                return self._proc
            loop = asyncio.get_running_loop()
            # Without Node or npm every file would retry the install; fail fast for a while instead.
            if self._failed and loop.time() - self._failed[0] < _RETRY_AFTER:
                raise self._failed[1]
            try:
                modules = await asyncio.to_thread(self._modules)
                cmd = node_runtime.node_command() + [str(node_runtime.WORKER_JS), str(modules)]
                self._proc = await asyncio.create_subprocess_exec(
                    *cmd,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=None,  # the worker's own crash reports go to the terminal
                    limit=_LINE_LIMIT,
                )
            except (NodeWorkerError, OSError) as exc:
                error = exc if isinstance(exc, NodeWorkerError) else NodeWorkerError(f"cannot start node: {exc}")
                self._failed = (loop.time(), error)
                raise error from None
            self._failed = None
            self.starts += 1
            self._reader = asyncio.create_task(self._read(self._proc))
            return self._proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None  # started with stdout=PIPE
        try:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                try:
                    reply = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("node worker said: %s", line[:200])
                    continue
                future = self._pending.get(reply.get("id"))
                if future and not future.done():
                    future.set_result(reply)
        finally:
            await proc.wait()
            # Fail only the calls sent to this process; a restarted one has its own.
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(NodeWorkerError(f"node worker exited with code {proc.returncode}"))

    async def close(self) -> None:
        """Stop the worker (closing its stdin ends it; kill if it lingers)."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc and proc.returncode is None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None  # started with stdin=PIPE
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 3)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader:
            with contextlib.suppress(Exception):
                await self._reader
