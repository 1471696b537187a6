"""Watching app folders with watchdog and handing batches of changes to asyncio.

An editor save is often several events (write, chmod, rename of a temp file);
they are gathered until the folder has been quiet for ``debounce`` seconds (a
few milliseconds once a close-after-write or rename says the save is complete)
and delivered as one list of paths, in order, to an async callback on the
loop that started the watcher.
"""
from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Awaitable, Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger("ss.assets")

# watchdog's recursive inotify warns when `mkdir -p a/b` races its own sub-watch
# set-up; the watch still works, so keep the warning out of the developer's terminal.
warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning, module=r"watchdog\.")

_IGNORED_PARTS = {"__pycache__", "node_modules", ".git"}
_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".pyc")


def ignored(path: Path) -> bool:
    """Editor droppings and caches that never affect the app."""
    name = path.name
    return (
        name.startswith(".")  # hidden files, emacs' .#locks, vim's .swp
        or name.endswith(_IGNORED_SUFFIXES)
        or name.isdigit()  # vim's write test file "4913"
        or any(part in _IGNORED_PARTS for part in path.parts)
    )


# Events after which the writer is done with the file: no need to wait out the debounce.
_FINAL_EVENTS = ("closed", "moved", "deleted")
# How long to wait for stragglers after such an event (the rest of a multi-file save).
_AFTER_FINAL = 0.003


class _Handler(FileSystemEventHandler):
    def __init__(self, push: Callable[[Path, bool], None], created_dir: Callable[[Path], None] | None = None) -> None:
        self._push = push
        self._created_dir = created_dir

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self._created_dir is not None:  # the handler on a missing folder's parent
            if event.is_directory and event.event_type in ("created", "moved"):
                raw = getattr(event, "dest_path", "") or event.src_path
                self._created_dir(Path(raw if isinstance(raw, str) else raw.decode()))
            return
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # a folder's mtime changed; the file events say what
        final = event.event_type in _FINAL_EVENTS
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if not ignored(path):
                    self._push(path, final)


class Watcher:
    """Watches ``folders`` (those that exist) and awaits ``callback(paths)`` per batch."""

    def __init__(self, folders: list[Path], callback: Callable[[list[Path]], Awaitable[None]], debounce: float = 0.015) -> None:
        self.folders = folders
        self.callback = callback
        self.debounce = debounce
        self._observer: BaseObserver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Path, bool]] | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start watching; must be called from the event loop that gets the callbacks."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._observer = Observer()
        self._handler = _Handler(self._push)
        self._watching: set[Path] = set()
        parents: set[Path] = set()
        for folder in self.folders:
            if folder.is_dir():
                self._watch(folder)
            elif folder.parent.is_dir():
                parents.add(folder.parent)
        # A folder created later (vendor/, say) is watched from then on, no restart needed.
        for parent in parents:
            self._observer.schedule(_Handler(self._push, self._folder_created), str(parent), recursive=False)
        self._observer.daemon = True
        self._observer.start()
        self._task = asyncio.create_task(self._run())

    def _watch(self, folder: Path) -> None:
        if folder not in self._watching:
            self._watching.add(folder)
            assert self._observer is not None  # set by start()
            self._observer.schedule(self._handler, str(folder), recursive=True)

    def _folder_created(self, path: Path) -> None:  # watchdog's thread
        if path in self.folders and path not in self._watching:
            self._watch(path)
            for file in sorted(p for p in path.rglob("*") if p.is_file()):  # files that arrived with it
                self._push(file, False)

    def _push(self, path: Path, final: bool) -> None:  # watchdog's thread
        loop = self._loop
        if loop and not loop.is_closed():
            assert self._queue is not None  # set by start(), with the loop
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, (path, final))
            except RuntimeError:  # loop closed between the check and the call
                pass

    async def _run(self) -> None:
        assert self._queue is not None  # set by start(), which runs this task
        while True:
            batch = [await self._queue.get()]
            while True:
                # A close-after-write (or rename) says the save is complete: wait only
                # for stragglers. A bare "modified" may be a write still in progress.
                wait = _AFTER_FINAL if batch[-1][1] else self.debounce
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), wait))
                except asyncio.TimeoutError:
                    break
            paths = list(dict.fromkeys(path for path, _final in batch))
            try:
                await self.callback(paths)
            except Exception:  # keep watching whatever one batch did
                log.exception("handling file changes failed")

    def stop(self) -> None:
        """Stop the observer thread and the batching task."""
        if self._observer:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None
        if self._task:
            self._task.cancel()
            self._task = None
