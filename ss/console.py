"""``python -m ss console``: an interactive Python console inside the app.

``ss`` is loaded as in server code (``ss.config``, ``ss.server``, ``ss.publish``,
``ss.R``, ``ss.users``, ``ss.shared``, ``ss.db``), and nothing needs an
``await``::

    >>> ss.server.app.square(25)
    625
    >>> ss.publish.broadcast("newMessage", {"from": "console", "text": "hi"})

How: the app runs on an event loop in a background thread, and every line
typed runs on that loop. An expression whose value is awaitable (an action
call, a coroutine) is awaited before it is shown; ``await`` also works at the
top level. With Redis configured, publishing from here reaches the browsers of
a running server; with the embedded store it reaches only this process.
History is kept in ``~/.ss_console_history``; Tab completes names.
"""

from __future__ import annotations

import ast
import asyncio
import code
import concurrent.futures
import inspect
import sys
import threading
import traceback
import types
from pathlib import Path
from typing import Any

__all__ = ["AppConsole", "run_console"]

HISTORY_FILE = Path("~/.ss_console_history")
HISTORY_LENGTH = 2000


class LoopThread:
    """An asyncio loop running in a daemon thread; ``run(coro)`` waits for a result from any other thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ss-console-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop and wait for its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class AppConsole(code.InteractiveConsole):
    """An InteractiveConsole whose code runs on ``loop`` and whose awaitable results are awaited."""

    def __init__(self, namespace: dict, loop: asyncio.AbstractEventLoop):
        super().__init__(namespace, filename="<ss console>")
        self.loop = loop
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # `await x` typed as is
        self._task: asyncio.Future | None = None

    def runcode(self, compiled: types.CodeType) -> None:
        """Run one compiled input on the app's loop and wait for it; errors are printed, not raised."""
        done: concurrent.futures.Future = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self._start, compiled, done)
        try:
            done.result()
        except KeyboardInterrupt:
            if self._task is not None:
                self.loop.call_soon_threadsafe(self._task.cancel)
            self.write("\nKeyboardInterrupt\n")
        except SystemExit:
            raise
        except BaseException as exc:
            self._show(exc)

    def _start(self, compiled: types.CodeType, done: concurrent.futures.Future) -> None:
        """On the loop: run the code; show each expression's value once awaited."""
        pending: list = []

        def displayhook(value: Any) -> None:
            if inspect.isawaitable(value):
                pending.append(value)  # shown once awaited, below
            elif value is not None:
                sys.__displayhook__(value)

        sys.displayhook = displayhook
        try:
            result = types.FunctionType(compiled, self.locals)()
        except BaseException as exc:
            sys.displayhook = sys.__displayhook__
            done.set_exception(exc)
            return

        async def finish() -> None:
            try:
                if inspect.iscoroutine(result):  # the line used a top-level await
                    await result
                for awaitable in pending:
                    value = await awaitable
                    if value is not None:
                        sys.__displayhook__(value)
            finally:
                sys.displayhook = sys.__displayhook__

        self._task = asyncio.ensure_future(finish())

        def copy(task: asyncio.Future) -> None:
            if task.cancelled():
                done.set_exception(KeyboardInterrupt())
            elif task.exception() is not None:
                done.set_exception(task.exception())
            else:
                done.set_result(None)

        self._task.add_done_callback(copy)

    def _show(self, exc: BaseException) -> None:
        # Leave out the console's own frames: only the user's line and the code it ran matter.
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename != __file__ and "/concurrent/futures/" not in f.filename
                  and "/asyncio/" not in f.filename]
        text = "".join(traceback.format_list(frames))
        self.write(("Traceback (most recent call last):\n" + text if text else "")
                   + "".join(traceback.format_exception_only(type(exc), exc)))


def _setup_readline(namespace: dict) -> None:
    """Tab completion over the console's names (with ss's runtime attributes) and a history file."""
    try:
        import readline
        import rlcompleter
    except ImportError:  # no readline on this platform: the console still works
        return

    import ss

    class Completer(rlcompleter.Completer):
        def attr_matches(self, text: str) -> list[str]:
            matches = super().attr_matches(text)
            if text.startswith("ss.") and text.count(".") == 1:
                prefix = text[3:]
                matches += [f"ss.{name}" for name in ss._RUNTIME_ATTRIBUTES
                            if name.startswith(prefix) and f"ss.{name}" not in matches]
            return matches

    readline.set_completer(Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")
    history = HISTORY_FILE.expanduser()
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)

    import atexit

    def save() -> None:
        try:
            readline.write_history_file(history)
        except OSError:
            pass

    atexit.register(save)


def banner(app: Any) -> str:
    """What the console prints first: the app, its store, and whether publishing reaches servers."""
    store = app.store.description
    reach = ("publish reaches browsers of servers using this Redis" if getattr(app.store, "shared", False)
             else "publish reaches only this console: configure Redis to reach a running server")
    return (f"ss console  env: {app.env}  app: {app.project.root if app.project else '-'}\n"
            f"  store: {store} ({reach})\n"
            f"  ss.server.app.square(25) runs an action: results are awaited for you. Ctrl-D to leave.")


def run_console(app: Any) -> int:
    """Start ``app`` (store, config/db.py, actions; no server) and read-eval-print until EOF."""
    import ss

    runner = LoopThread()
    try:
        runner.run(app.start())
    except BaseException:
        runner.run(app.close())
        runner.stop()
        raise
    namespace = {"__name__": "__console__", "__doc__": None, "ss": ss, "app": app, "asyncio": asyncio}
    console = AppConsole(namespace, runner.loop)
    if sys.stdin.isatty():
        _setup_readline(namespace)
    try:
        console.interact(banner=banner(app), exitmsg="")
    finally:
        try:
            runner.run(app.close(), timeout=15)
        finally:
            runner.stop()
    return 0
