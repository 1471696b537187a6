"""``config/db.py``: the app's own start-up code, to open database connections.

The file runs once per process when the app starts, after the config files are
merged (so ``ss.config`` holds the environment's settings) and the store is
connected, before the server actions are loaded. Its top-level names are then
``ss.db.<name>``::

    # config/db.py
    import ss
    from motor.motor_asyncio import AsyncIOMotorClient

    M = AsyncIOMotorClient(ss.config.db.mongo.url)[ss.config.db.mongo.database]

    async def on_start():        # optional: awaited once the file has run
        await M.command("ping")

    async def on_stop():         # optional: awaited at shutdown
        M.client.close()

    # app/server/people.py:  await ss.db.M.people.find_one(...)

Anything raised stops the start: ``python -m ss start`` prints the traceback
(the frames of config/db.py) and exits with status 1.
"""

from __future__ import annotations

import inspect
import logging
import sys
import traceback
from pathlib import Path
from typing import Any
from .errors import StartupError

__all__ = ["DbFile", "DbFileError"]

log = logging.getLogger("ss")


class DbFileError(StartupError):
    """config/db.py failed; ``str()`` is the message with the traceback of the file's own frames."""


class DbFile:
    """The app's config/db.py: run by ``start()``, its names read as attributes (``ss.db.M``)."""

    def __init__(self, root: Path | None):
        self.path = root / "config" / "db.py" if root is not None else None
        self.namespace: dict[str, Any] = {}
        self.started = False

    @property
    def present(self) -> bool:
        """True when the app has a config/db.py."""
        return self.path is not None and self.path.is_file()

    async def start(self) -> None:
        """Run the file and await its ``on_start``. Raises DbFileError with the traceback."""
        if not self.present:
            return
        assert self.path is not None
        lib_server = self.path.parent.parent / "lib" / "server"
        if lib_server.is_dir() and str(lib_server) not in sys.path:
            sys.path.insert(0, str(lib_server))  # the README's place for the app's own helpers
        namespace: dict[str, Any] = {"__file__": str(self.path), "__name__": "ss_config_db"}
        try:
            exec(compile(self.path.read_text(encoding="utf-8"), str(self.path), "exec"), namespace)
            self.namespace = namespace
            hook = namespace.get("on_start")
            if callable(hook):
                result = hook()
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            raise DbFileError(self._describe(exc)) from exc
        self.started = True

    async def stop(self) -> None:
        """Await the file's ``on_stop`` (errors are logged: shutdown goes on)."""
        if not self.started:
            return
        self.started = False
        hook = self.namespace.get("on_stop")
        if not callable(hook):
            return
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("on_stop in %s failed", self.path)

    def _describe(self, exc: BaseException) -> str:
        frames: list[traceback.FrameSummary] = traceback.extract_tb(exc.__traceback__)
        # Start at the first frame in config/db.py: ss's own frames say nothing to the app's author.
        for index, frame in enumerate(frames):
            if frame.filename == str(self.path):
                frames = frames[index:]
                break
        if isinstance(exc, SyntaxError):
            text = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + \
                "".join(traceback.format_exception_only(type(exc), exc))
        return f"{self.path} failed, so the app did not start:\n{text.rstrip()}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.namespace[name]
        except KeyError:
            where = "config/db.py defines no such name" if self.present else "the app has no config/db.py"
            raise AttributeError(f"ss.db.{name}: {where}") from None

    def __dir__(self) -> list[str]:
        return sorted(k for k in self.namespace if not k.startswith("__"))
