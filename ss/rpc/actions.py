"""The base class for server actions in ``app/server/**.py``.

Each call gets a fresh instance with ``self.session`` (the caller's session),
``self.request`` (what is known of the transport) and ``self.connection`` (the
calling browser tab's connection; None over the HTTP API) set before the
method runs.
"""

from __future__ import annotations

from typing import Any, Callable


class Actions:
    """Subclass as ``class Actions(ss.Actions)``; public methods become callable actions."""

    session: Any = None      # the caller's ss.sessions.session.Session
    request: Any = None      # ss.rpc.request.RequestInfo: transport, remote_ip, headers, secure
    connection: Any = None   # the calling ss.realtime.connection.Connection (None over the HTTP API)


def in_thread(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a blocking (synchronous) action to run in a worker thread instead of on the event loop.

    Plain ``def`` actions run on the event loop, which is fastest for quick work;
    use ``async def`` for I/O, or this decorator for blocking calls (file I/O,
    a synchronous database driver) so other connections are not held up.
    """
    func.__dict__["__ss_in_thread__"] = True  # read back with getattr (ss.rpc.api_tree)
    return func

