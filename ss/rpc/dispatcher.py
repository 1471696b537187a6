"""Dispatch a call to a server action: lookup, auth check, argument binding, run, errors.

Actions may return a value, be ``async def``, or take a seed-style ``cb`` as
their last parameter. Whatever goes wrong becomes a :class:`CallError` with
one of the protocol's error codes (``ss.errors.ErrorCode``); every door maps it
to its reply through ``ss.errors``.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any, Callable

from .api_tree import Action, ApiTree
from ..errors import CallError
from ..store.base import STORE_ERRORS, OutageLog

__all__ = ["CallError", "Dispatcher"]

log = logging.getLogger("ss.rpc")

#: what most actions return: values that are never awaitable (the check for one costs a call otherwise)
_PLAIN_VALUES = frozenset({int, str, float, bool, type(None), list, dict, tuple})


class Dispatcher:
    """Runs actions from one API tree. ``tree`` may be swapped at any time (live reload)."""

    def __init__(self, tree: ApiTree, *, show_traceback: bool = False, store_description: str = "store",
                 outage: OutageLog | None = None):
        self.tree = tree
        self.show_traceback = show_traceback
        self.store_description = store_description
        self.outage = outage or OutageLog()

    def lookup(self, path: tuple[str, ...] | str) -> Action:
        """The action for a dotted path, or CallError ``private_action`` / ``unknown_action``."""
        name = path if isinstance(path, str) else ".".join(path)
        action = self.tree.actions.get(name)  # the tree holds public names only
        if action is not None:
            return action
        if any(part.startswith("_") for part in name.split(".")):
            raise CallError("private_action", f"{name!r} is private: names starting with _ cannot be called")
        raise CallError("unknown_action", f"no server action {name!r}: see SS.server (browser) or /api for the list")

    async def call(self, path: tuple[str, ...] | str, args: list[Any], session: Any = None, request: Any = None,
                   connection: Any = None) -> Any:
        """Run the action at ``path`` with ``args`` for ``session``; return its result.

        Raises CallError with codes unknown_action, private_action, unauthorized,
        bad_arguments, store_unavailable or action_failed.
        """
        done, value = self.run_now(path, args, session, request, connection)
        return value if done else await value

    def run_now(self, path: tuple[str, ...] | str, args: list[Any], session: Any = None, request: Any = None,
                connection: Any = None) -> tuple[bool, Any]:
        """Start the action at ``path`` now: ``(True, result)`` when it finished (a plain ``def`` that left
        the session unchanged: most calls, answered with no coroutine), else ``(False, awaitable)``, which
        gives the result once the action and the session's save are done.

        Raises (or the awaitable raises) CallError as :meth:`call` does.
        """
        action = self.lookup(path)
        if action.authenticate and getattr(session, "user_id", None) is None:
            raise CallError("unauthorized", f"{action.name} needs a signed-in user: authenticate first")
        given = len(args)
        if given < action.min_args or (action.max_args is not None and given > action.max_args):
            raise CallError("bad_arguments", action.arity_message(given))
        func = action.func
        if action.owner is not None:
            instance = action.owner()
            instance.session = session
            instance.request = request
            instance.connection = connection
            func = func.__get__(instance, action.owner)
        if action.takes_cb or action.in_thread or action.is_async:
            return False, self._finish(action, self._run(action, func, args), session)
        try:
            result = func(*args)  # plain def: no coroutine to create on the hot path
            if type(result) not in _PLAIN_VALUES and (asyncio.iscoroutine(result) or isinstance(result, asyncio.Future)):
                # e.g. `return ss.shared.x.f(...)`, which is a Future on the loop
                return False, self._finish(action, result, session)
            if session is not None and session.dirty:
                return False, self._finish(action, None, session, result)
            return True, result
        except CallError:
            raise
        except Exception as exc:
            raise self._failure(action, exc) from None

    async def _finish(self, action: Action, pending: Any, session: Any, result: Any = None) -> Any:
        """Await what the action left (``pending``, when not None: its result), then save the session."""
        try:
            if pending is not None:
                result = await pending
            if session is not None and session.dirty:
                await session.flush()
            return result
        except (CallError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise self._failure(action, exc) from None

    def _failure(self, action: Action, exc: Exception) -> CallError:
        """The CallError for what the action raised (called while handling it: the traceback is its own)."""
        if isinstance(exc, STORE_ERRORS):
            self.outage.report(self.store_description, exc)
            return CallError("store_unavailable", f"{action.name} needs the store ({self.store_description}), "
                                                  "which is not answering: try again shortly")
        log.error("%s failed: %s: %s", action.name, type(exc).__name__, exc, exc_info=True)
        if self.show_traceback:
            return CallError("action_failed", f"{action.name} raised {type(exc).__name__}: {exc}",
                             traceback.format_exc())
        return CallError("action_failed", f"{action.name} failed on the server; the error is in the server log")

    @staticmethod
    async def _run(action: Action, func: Callable[..., Any], args: list[Any]) -> Any:
        if action.takes_cb:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[Any] = loop.create_future()

            def cb(*values: Any) -> None:
                if not done.done():
                    done.set_result(values[0] if len(values) == 1 else (list(values) if values else None))

            returned = func(*args, cb)
            if asyncio.iscoroutine(returned):
                await returned
            return await done
        if action.in_thread:
            return await asyncio.to_thread(func, *args)
        result = func(*args)
        if action.is_async or asyncio.iscoroutine(result):
            result = await result
        return result
