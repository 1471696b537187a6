"""The event loop ``python -m ss start`` serves on: the ``server.event_loop`` setting.

``"auto"`` (the default) serves on uvloop where it is installed (ss depends on it on
Linux and macOS; it has no Windows build) and on asyncio's own loop elsewhere.
``"uvloop"`` insists on uvloop; ``"asyncio"`` keeps asyncio's loop. uvloop runs the
loop's turn in C: a call costs the server about a third less CPU (bench/README.md).
Everything ss does works the same on both; the write batching of
ss/realtime/outbox.py watches its own sends where uvloop hides its ready callbacks.

Only the server process picks a loop: the console, ``ss.testing`` and an app's own
scripts keep whichever loop they run on.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine

__all__ = ["CHOICES", "loop_factory", "name", "run"]

CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop ``choice`` names; ValueError saying what to do when it cannot be had."""
    if choice not in CHOICES:
        raise ValueError(f'server.event_loop must be "auto", "uvloop" or "asyncio", not {choice!r}')
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "auto":
            return asyncio.new_event_loop
        raise ValueError('server.event_loop is "uvloop" but uvloop is not installed: pip install uvloop, '
                         'or set server.event_loop = "asyncio" (or "auto": uvloop where it is installed)') from None
    return uvloop.new_event_loop


def name(choice: str) -> str:
    """ "uvloop" or "asyncio": the loop ``choice`` gives on this machine (for the banner)."""
    return "asyncio" if loop_factory(choice) is asyncio.new_event_loop else "uvloop"


def run(main: Coroutine[Any, Any, Any], choice: str) -> Any:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
