"""The event loop ``python -m ss start`` serves on: the ``server.event_loop`` setting.

``"asyncio"`` (the default) is asyncio's own loop. ``"uvloop"`` runs the loop's turn in
C (uvloop is a dependency of ss on Linux and macOS; it has no Windows build): a
sequential call costs the server about a fifth less CPU, and a burst of broadcasts
on the embedded store goes out faster; but on the same bench a burst through Redis,
and one over the HTTP transport, went out a quarter to a third slower than on
asyncio's loop (bench/README.md). An app that mostly answers calls gains from it;
one that fans out through Redis keeps the default.
Everything ss does works the same on both; the write batching of
ss/realtime/outbox.py watches its own sends where uvloop hides its ready callbacks.

Only the server process picks a loop: the console, ``ss.testing`` and an app's own
scripts keep whichever loop they run on.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine

__all__ = ["loop_factory", "run"]


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop ``choice`` names; ValueError saying what to do when it cannot be had."""
    if choice == "asyncio":
        return asyncio.new_event_loop
    if choice != "uvloop":
        raise ValueError(f'server.event_loop must be "asyncio" or "uvloop", not {choice!r}')
    try:
        import uvloop
    except ImportError:
        raise ValueError('server.event_loop is "uvloop" but uvloop is not installed: pip install uvloop, '
                         'or set server.event_loop = "asyncio"') from None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, Any], choice: str) -> Any:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    if choice == "asyncio":
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
