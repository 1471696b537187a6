"""``ss.shared``: the app's app/shared code (JavaScript or CoffeeScript), run on the server.

The browser gets app/shared as ``SS.shared.<file>.<export>``; the server runs the
very same compiled code in an embedded V8 (mini-racer)::

    async def area(self, radius):                       # an action: on the event loop
        return await ss.shared.calculate.circumference(radius)

    ss.shared.calculate.circumference(20)               # another thread, a script: 125.66...

V8 runs off the event loop, on one thread of its own (``ss-v8``), so a slow
shared function never holds up the other clients. What a call returns depends
on the thread that makes it:

- On the thread of a running event loop (an ``async def`` action, a plain
  ``def`` action, config/db.py's ``on_start``, a console line) it returns an
  awaitable (an :class:`asyncio.Future`) resolving to the result: write
  ``await ss.shared.x.f(...)``. A plain ``def`` action may return it as is
  (the dispatcher awaits an awaitable result); the console awaits it for you.
  Everything the call raises (JSError, SharedCodeTimeout, SharedCodeError,
  TypeError) is raised by the ``await``.
- On any other thread (an ``@ss.in_thread`` action, a plain script or test
  with no running loop) it waits and returns the result itself.

:meth:`SharedCode.call` always waits in the calling thread. An exported plain
value (``exports.VERSION = "1.2"``) is read directly, on any thread.

Arguments and results cross as JSON (numbers, strings, booleans, None, lists,
dicts), exactly as they would cross the wire. A JS exception becomes
:class:`JSError` carrying the JS name and message; a call whose JavaScript
runs longer than ``shared_code.timeout`` seconds is stopped with
:class:`SharedCodeTimeout`, and the V8 heap is capped at
``shared_code.max_memory`` bytes.

One V8 context runs one thing at a time, so calls queue on the V8 thread in
the order made (each about half a millisecond, mostly thread hand-over: batch
work into one call in hot paths). The timeout counts the JavaScript's own run
time, not the wait in the queue; a call that timed out leaves the context
usable for the next one.

The code is compiled on first use (CoffeeScript through the asset pipeline's
Node worker) and, in development, again whenever a file in app/shared changes.
That loading happens in the thread that first touches ``ss.shared`` (the event
loop's too), after the calls already queued: production loads once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import queue
import threading
import weakref
from pathlib import Path
from typing import Any

__all__ = ["SharedCode", "SharedCodeError", "JSError", "SharedCodeTimeout", "for_app"]

# The browser client itself runs first (it only connects where WebSocket and location
# exist), so shared code finds the same SS.define, SS.escape and SS.events as in the browser.
from ss.client_js import client_source
from .errors import SSError

_PRELUDE = r"""
SS.env = %(env)s;
SS.server_side = true;
function __ss_call(path, args) {
  var owner = null, target = SS.shared;
  for (var i = 0; i < path.length; i++) {
    owner = target;
    target = target == null ? undefined : target[path[i]];
  }
  try {
    if (typeof target !== "function") throw new TypeError("SS.shared." + path.join(".") + " is not a function");
    var result = target.apply(owner, args);
    return JSON.stringify({ ok: result === undefined ? null : result });
  } catch (e) {
    var isError = e instanceof Error;
    return JSON.stringify({ error: {
      name: isError ? e.name : "Error",
      message: isError ? String(e.message) : String(e),
      stack: isError && e.stack ? String(e.stack) : ""
    } });
  }
}
function __ss_describe(node, depth) {
  var out = {};
  Object.keys(node).forEach(function (key) {
    var value = node[key];
    if (typeof value === "function") out[key] = { t: "f" };
    else if (value && typeof value === "object" && !Array.isArray(value) && depth < 8)
      out[key] = { t: "o", k: __ss_describe(value, depth + 1) };
    else {
      try { out[key] = { t: "v", v: JSON.parse(JSON.stringify(value === undefined ? null : value)) }; }
      catch (e) { out[key] = { t: "v", v: null }; }
    }
  });
  return out;
}
"""


class SharedCodeError(SSError):
    """app/shared cannot be loaded (compile error, a file throwing while it loads): fix the file named."""


class JSError(SSError):
    """A JS exception thrown by shared code; ``name`` and ``message`` are the JS ones, ``stack`` V8's."""

    def __init__(self, name: str, message: str, stack: str = ""):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.stack = stack


class SharedCodeTimeout(JSError, TimeoutError):
    """Shared code ran longer than ``shared_code.timeout`` seconds and was stopped."""


class SharedCode:
    """The app/shared tree of one app, loaded into its own V8 context on first use."""

    def __init__(self, root: Path | None, env: str = "development", timeout: float = 2,
                 max_memory: int = 64 << 20, watch: bool = True):
        self.root = root
        self.env = env
        self.timeout = timeout
        self.max_memory = max_memory
        self.watch = watch  # development: recompile when a file changed
        self._lock = threading.Lock()  # one thread (re)loads at a time; never taken on the V8 thread
        self._context: Any = None  # set, used and closed on the V8 thread only
        self._tree: dict = {}
        self._signature: tuple | None = None
        self._holder: list = []  # the live context, closed on the V8 thread when this object goes
        weakref.finalize(self, _close_all, self._holder)

    # ---- loading ----

    def _files(self) -> list:
        if self.root is None or not (self.root / "app" / "shared").is_dir():
            return []
        from .assets.errors import CompileError
        from .assets.sources import modules

        try:
            return modules(self.root, "shared")
        except CompileError as exc:
            raise SharedCodeError(str(exc)) from None

    def _current_signature(self, files: list) -> tuple:
        stats = []
        for module in files:
            try:
                stat = module.path.stat()
            except OSError:
                continue
            stats.append((str(module.path), stat.st_mtime_ns, stat.st_size))
        return tuple(stats)

    def ensure_loaded(self) -> None:
        """Compile and load app/shared if not done yet (or, in development, if it changed).

        Compiles in the calling thread, then loads on the V8 thread (after the
        calls queued before) and waits. Raises SharedCodeError naming the file at fault.
        """
        if self._signature is not None and not self.watch:
            return  # loaded, and production does not look again
        with self._lock:
            files = self._files()
            signature = self._current_signature(files)
            if self._signature is not None and (signature == self._signature or not self.watch):
                return
            sources = _compile(self.root, files) if files and self.root is not None else []
            _v8_thread().submit(functools.partial(self._load, sources)).result()
            self._signature = signature

    def _load(self, sources: list[tuple[str, str, str]]) -> None:
        """On the V8 thread: a new context with ``sources`` replaces the current one (kept on failure)."""
        from py_mini_racer import MiniRacer
        from py_mini_racer import JSEvalException

        from .assets.bundler import wrap_module

        context = MiniRacer()
        try:
            context.set_hard_memory_limit(self.max_memory)
            context.eval(client_source().decode("utf-8"))
            context.eval(_PRELUDE % {"env": json.dumps(self.env)})
            for name, label, js in sources:
                try:
                    context.eval(wrap_module("shared", name, js), timeout_sec=self.timeout)
                except JSEvalException as exc:
                    raise SharedCodeError(f"{label} failed while loading on the server: {_first_line(exc)}") from None
            described = context.eval("JSON.stringify(__ss_describe(SS.shared, 0))")
            assert isinstance(described, str)  # JSON.stringify of an object
            tree = json.loads(described)
        except BaseException:
            context.close()
            raise
        old, self._context, self._tree = self._context, context, tree
        self._holder[:] = [context]
        if old is not None:
            old.close()  # no call can be using it: calls run on this thread too

    def close(self) -> None:
        """Free the V8 context (a later call loads the code again)."""
        with self._lock:
            _v8_thread().submit(self._close_context).result()
            self._signature = None

    def _close_context(self) -> None:
        context, self._context, self._holder[:] = self._context, None, []
        if context is not None:
            context.close()

    # ---- calling ----

    def call(self, path: tuple[str, ...], args: tuple) -> Any:
        """Run ``SS.shared.<path>(*args)`` and return its JSON result, waiting in this thread whatever it is.

        Raises JSError (SharedCodeTimeout), SharedCodeError, TypeError.
        """
        return self._submit(path, args).result()

    def call_async(self, path: tuple[str, ...], args: tuple) -> asyncio.Future:
        """The same as :meth:`call`, as an asyncio Future of the running loop: the loop stays free meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            pending = self._submit(path, args)
        except Exception as exc:  # bad arguments, code that does not load: raised by the await, like the rest
            failed = loop.create_future()
            failed.set_exception(exc)
            return failed
        return asyncio.wrap_future(pending, loop=loop)

    def _submit(self, path: tuple[str, ...], args: tuple) -> concurrent.futures.Future:
        try:
            encoded = json.dumps(list(args), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"ss.shared.{'.'.join(path)}: arguments must be JSON values ({exc})") from None
        self.ensure_loaded()
        return _v8_thread().submit(functools.partial(self._run, path, encoded))

    def _run(self, path: tuple[str, ...], encoded: str) -> Any:
        """On the V8 thread: one call, in whichever context is current when its turn comes."""
        from py_mini_racer import JSOOMException, JSTimeoutException

        if self._context is None:  # closed between the call and its turn
            raise SharedCodeError(f"ss.shared.{'.'.join(path)}: the shared code was closed before the call ran")
        try:
            raw = self._context.eval(f"__ss_call({json.dumps(list(path))}, {encoded})", timeout_sec=self.timeout)
        except JSTimeoutException:
            # V8 is told to stop the call, and stops it at its next interruptible point: inside a
            # long builtin (a big sort) that can be much later. Wait for it here, so the next call's
            # timeout counts its own run only; the context stays usable.
            self._wait_until_idle()
            raise SharedCodeTimeout("TimeoutError", f"ss.shared.{'.'.join(path)} ran longer than "
                                    f"{self.timeout}s (shared_code.timeout) and was stopped") from None
        except JSOOMException:
            raise JSError("RangeError", f"ss.shared.{'.'.join(path)} used more than "
                          f"{self.max_memory} bytes (shared_code.max_memory) and was stopped") from None
        answer = json.loads(raw)
        if "error" in answer:
            error = answer["error"]
            raise JSError(error["name"], error["message"], error["stack"])
        return answer["ok"]

    def _wait_until_idle(self) -> None:
        """On the V8 thread: return once the context has finished whatever it was stopping."""
        from py_mini_racer import JSEvalException

        try:
            self._context.eval("0")  # queued behind the stopped call, so it runs once that has ended
        except JSEvalException:
            pass  # the stop landed on this no-op instead: the stopped call has ended all the same

    def node(self, path: tuple[str, ...]) -> dict | None:
        """The description of ``SS.shared.<path>`` ({"t": "f"|"o"|"v", ...}), None when absent."""
        self.ensure_loaded()
        entry: dict | None = {"t": "o", "k": self._tree}
        for part in path:
            if entry is None or entry["t"] != "o":
                return None
            entry = entry["k"].get(part)
        return entry

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _resolve(self, (name,))

    def __dir__(self) -> list[str]:
        return sorted((self.node(()) or {}).get("k", {}))

    def __repr__(self) -> str:
        return f"<ss.shared: {', '.join(dir(self)) or 'nothing in app/shared'}>"


class SharedProxy:
    """``ss.shared.calculate`` (a namespace) or ``ss.shared.calculate.circumference`` (callable)."""

    __slots__ = ("_code", "_path")

    def __init__(self, code: SharedCode, path: tuple[str, ...]):
        self._code = code
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _resolve(self._code, self._path + (name,))

    def __call__(self, *args: Any) -> Any:
        """On an event loop's thread an asyncio Future of the result; elsewhere the result itself."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._code.call(self._path, args)
        return self._code.call_async(self._path, args)

    def __dir__(self) -> list[str]:
        entry = self._code.node(self._path)
        return sorted(entry["k"]) if entry and entry["t"] == "o" else []

    def __repr__(self) -> str:
        return f"<ss.shared.{'.'.join(self._path)}>"


def _resolve(code: SharedCode, path: tuple[str, ...]) -> Any:
    entry = code.node(path)
    dotted = ".".join(path)
    if entry is None:
        hint = f"app/shared/{path[0]}.js or .coffee" if len(path) == 1 else f"SS.shared.{'.'.join(path[:-1])}"
        raise AttributeError(f"ss.shared.{dotted} does not exist: export it from {hint} (exports.{path[-1]} = ...)")
    if entry["t"] == "v":
        return entry["v"]  # a plain exported value: its JSON copy, as the browser would see it sent
    return SharedProxy(code, path)


class _V8Thread:
    """The one thread that makes, calls and closes every V8 context, one job at a time, in order.

    It has no event loop, so mini-racer gives each context a loop thread of its
    own and ``eval`` with a timeout works here. Running every call here keeps
    the app's event loop free and serialises the calls of one context. One
    long-lived daemon thread (not a ThreadPoolExecutor, which shuts down before
    atexit handlers run) because mini-racer 0.14 crashes the process when a
    context that timed out is closed on another thread than the one that made
    it, at exit included.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="ss-v8", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            func, future = self.jobs.get()
            if not future.set_running_or_notify_cancel():
                continue  # its awaiter was cancelled before its turn
            try:
                future.set_result(func())
            except BaseException as exc:
                future.set_exception(exc)

    def submit(self, func: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        if threading.current_thread() is self.thread:  # (a finalizer run by GC on this thread)
            future.set_running_or_notify_cancel()
            try:
                future.set_result(func())
            except BaseException as exc:
                future.set_exception(exc)
        else:
            self.jobs.put((func, future))
        return future


_V8_THREAD: _V8Thread | None = None
_V8_LOCK = threading.Lock()


def _v8_thread() -> _V8Thread:
    global _V8_THREAD
    with _V8_LOCK:
        if _V8_THREAD is None:
            _V8_THREAD = _V8Thread()
        return _V8_THREAD


def _close_all(holder: list) -> None:
    # Waits (briefly) so that at interpreter exit every context is gone before teardown.
    for context in holder:
        with contextlib.suppress(Exception):
            _v8_thread().submit(context.close).result(5)
    holder.clear()


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line and not line.lstrip().startswith("at ")]
    return (errors or lines or ["unknown error"])[-1].strip()


def _compile(root: Path, files: list) -> list[tuple[str, str, str]]:
    """(module name, app-relative label, JS) for each file; CoffeeScript goes through the Node worker.

    Runs in a thread with its own event loop, so it works from sync code, from
    inside a running loop (an action) and from the console alike.
    """
    from .assets.errors import CompileError
    from .assets.sources import relative

    async def compile_all() -> list[tuple[str, str, str]]:
        from .assets.compilers import Compilers
        from .assets.node_worker import NodeWorker

        worker = NodeWorker()
        compilers = Compilers(worker, label=lambda p: relative(root, p))
        try:
            return [(m.name, relative(root, m.path), (await compilers.compile(m.path)).text) for m in files]
        finally:
            await worker.close()

    if all(m.path.suffix == ".js" for m in files):  # no Node needed
        return [(m.name, relative(root, m.path), m.path.read_text(encoding="utf-8")) for m in files]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ss-shared-compile") as pool:
        try:
            return pool.submit(asyncio.run, compile_all()).result()
        except CompileError as exc:
            raise SharedCodeError(str(exc)) from None


def for_app(app: Any) -> SharedCode:
    """The app's SharedCode, made on first use (``ss.shared``)."""
    shared = getattr(app, "_shared_code", None)
    if shared is None:
        from .presets import is_dev_like

        settings = app.config.shared_code
        shared = SharedCode(app.project.root if app.project is not None else None, app.env,
                            settings.timeout, settings.max_memory,
                            watch=is_dev_like(app.env))
        app._shared_code = shared
    return shared
