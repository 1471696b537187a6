"""Server calls to the browser: ``await connection.call("app.confirm", "Sure?")`` runs ``SS.client.app.confirm``.

The server sends ``client_call`` with an id; the tab answers ``client_reply`` with that id
(``docs/protocol.md``). A connection keeps the futures of its unanswered calls in
``Connection.client_calls``, a dict made on the first call and dropped when the last answer
comes, so an idle connection pays one empty slot. Every way a call can end without a result
(the browser's error, the timeout, the connection closing) resolves its future with a
:class:`~ss.protocol.ClientReply` carrying an error code; the one awaiting turns it into a
:class:`~ss.errors.ClientCallError` naming the method, so the messages are written in one place.

:class:`ClusterConnections` is ``ss.connections``: any connection by id, on this instance or
(through the instance bus) on another one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import orjson

from .. import protocol
from ..protocol import bus
from ..errors import ClientCallArgumentError, ClientCallError

__all__ = ["ClusterConnections", "call", "answer", "fail_all", "check_method"]

log = logging.getLogger("ss.client_calls")

#: default bound on the client calls waiting for one connection's answers
MAX_PENDING = 100
DEFAULT_TIMEOUT = 10.0


def check_method(method: Any) -> None:
    """Raise ValueError unless ``method`` is a dotted path under ``SS.client`` (no empty or ``_`` names)."""
    if not isinstance(method, str) or "." not in method or len(method) > protocol.MAX_METHOD_LENGTH:
        raise ValueError(f"a call to the browser needs a dotted SS.client path such as 'app.confirm', not {method!r}")
    for part in method.split("."):
        if not part or part.startswith("_"):
            raise ValueError(f"SS.client.{method} cannot be called: names are not empty and do not start with _")


async def call(connection: Any, method: str, args: tuple[Any, ...] | list[Any], timeout: float) -> Any:
    """Run ``SS.client.<method>(*args)`` in ``connection``'s tab; its result, once it answers.

    Raises :class:`ClientCallError` (see its codes), :class:`ClientCallArgumentError` for an
    argument JSON cannot carry and ValueError for a method outside ``SS.client``.
    """
    check_method(method)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if connection.closed:
        raise _error(connection, method, "connection_gone", "", timeout)
    calls = connection.app.cluster_connections
    pending = connection.client_calls
    if pending is not None and len(pending) >= calls.max_pending:
        raise ClientCallError("too_many_calls", f"{calls.max_pending} calls to the browser are already waiting on "
                              f"connection {connection.id}: await their answers before starting more",
                              method, connection.id)
    call_id = calls.next_id()
    try:
        payload = protocol.encode_client_call(call_id, method, args)
    except TypeError as exc:
        raise _argument_error(method, exc) from None
    loop = asyncio.get_running_loop()
    future: asyncio.Future[protocol.ClientReply] = loop.create_future()
    if pending is None:
        pending = connection.client_calls = {}
    pending[call_id] = future
    timer = loop.call_later(timeout, _settle, future, protocol.ClientReply(call_id, None, ("timeout", "")))
    connection.send(payload)
    try:
        reply = await future
    finally:
        timer.cancel()
        pending.pop(call_id, None)
        if not pending and connection.client_calls is pending:
            connection.client_calls = None
    if reply.error is None:
        return reply.result
    code, message = reply.error
    raise _error(connection, method, code, message, timeout)


def answer(connection: Any, reply: protocol.ClientReply) -> None:
    """The browser answered: hand the reply to the call waiting for it (ignored when none waits)."""
    pending = connection.client_calls
    future = pending.get(reply.id) if pending is not None else None
    if future is None or future.done():
        log.debug("connection %s answered client call %s, but no client call of that id waits (answered already "
                  "or timed out): ignored", connection.id, reply.id)
        return
    future.set_result(reply)


def fail_all(connection: Any) -> None:
    """The connection closed: every call still waiting ends with ``connection_gone``."""
    pending = connection.client_calls
    if pending:
        for call_id, future in list(pending.items()):
            _settle(future, protocol.ClientReply(call_id, None, ("connection_gone", "")))


def _settle(future: asyncio.Future, outcome: Any) -> None:
    if not future.done():
        future.set_result(outcome)


def _error(connection: Any, method: str, code: str, browser_message: str, timeout: float) -> ClientCallError:
    return ClientCallError(code, _message(connection.id, method, code, browser_message, timeout), method, connection.id)


def _message(connection_id: str, method: str, code: str, browser_message: str, timeout: float) -> str:
    """What went wrong, naming the method, and what to do: the one place these messages are written."""
    where = f"SS.client.{method}"
    if code == "client_error":
        return f"{where} failed in the browser: {browser_message}"
    if code == "no_such_function":
        return (f"{where} is not a function in the browser ({browser_message}): define it in app/client, "
                "or catch ss.ClientCallError")
    if code == "bad_result":
        return f"{where} gave a result that cannot be sent as JSON ({browser_message}): return JSON values"
    if code == "timeout":
        return (f"{where} did not answer within {timeout:g} s on connection {connection_id}: the tab may be busy "
                "or waiting for its user; raise the timeout, or catch ss.ClientCallError to carry on without it")
    return (f"connection {connection_id} closed before {where} answered: the tab was closed or reloaded; "
            "catch ss.ClientCallError to carry on without it")


def _argument_error(method: str, exc: TypeError) -> ClientCallArgumentError:
    return ClientCallArgumentError(f"SS.client.{method}: an argument cannot be sent as JSON ({exc}): pass "
                                   "dicts, lists, strings, numbers, booleans or None")


class ClusterConnections:
    """``ss.connections``: connections by id, whichever instance holds them.

    ``get(id)`` is the Connection when it is on this instance; ``call(id, method, *args)``
    runs ``SS.client.<method>`` in that tab, here or on another instance. Between instances
    the request goes to the holding instance's bus topic (``ss/realtime/instance_bus.py``)
    as ``client_call`` with a request id and this instance's name; that instance runs
    :func:`call` on its connection and sends ``client_call_done`` back. The caller keeps its
    own timer, so a dead instance (nobody to answer) ends in ``timeout``.
    """

    def __init__(self, app: Any, max_pending: int = MAX_PENDING):
        self.app = app
        self.max_pending = max_pending   # client calls waiting per connection
        self._ids = itertools.count(1)
        # calls this instance asked other instances to make, by request id (made when one waits)
        self._asked: dict[int, asyncio.Future[dict]] | None = None
        app.instance_bus.on(_ASK, self._call_for_another_instance)
        app.instance_bus.on(_DONE, self._answer_from_another_instance)

    def next_id(self) -> int:
        """A client call id, unique in this process (so unique on each of its connections)."""
        return next(self._ids)

    @property
    def waiting(self) -> int:
        """Calls sent to other instances and not answered yet."""
        return len(self._asked) if self._asked is not None else 0

    def get(self, connection_id: str) -> Any:
        """The open connection of this id on this instance, or None."""
        return self.app.connections.get(connection_id)

    async def call(self, connection_id: str, method: str, *args: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Run ``SS.client.<method>(*args)`` in the tab of ``connection_id``; its result.

        Raises :class:`ClientCallError` (``connection_gone`` at once for an id this instance gave
        and no longer holds, or that the holding instance does not know; ``timeout`` when no
        instance answers), :class:`ClientCallArgumentError` and ValueError as
        :meth:`Connection.call` does.
        """
        connection = self.get(connection_id)
        if connection is not None:  # here: no bus
            return await call(connection, method, args, timeout)
        check_method(method)
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        instance_bus = self.app.instance_bus
        if (not bus.valid_connection_id(connection_id) or instance_bus.is_local(connection_id)
                or not self.app.store.shared):  # with the embedded store, there is no other instance
            raise _gone(connection_id, method)
        try:
            # as it goes to the browser (sets become lists), and refused here if JSON cannot carry it
            json_args = orjson.loads(protocol.encode_client_call(0, method, args))["args"]
        except TypeError as exc:
            raise _argument_error(method, exc) from None
        request = self.next_id()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict] = loop.create_future()
        asked = self._asked
        if asked is None:
            asked = self._asked = {}
        asked[request] = future
        timer = loop.call_later(timeout, _settle, future, {"code": "timeout"})
        try:
            sent = instance_bus.send(instance_bus.instance_of(connection_id), _ASK, reply_to=instance_bus.instance,
                                     request=request, connection=connection_id, method=method, args=json_args,
                                     timeout=timeout)
            if sent is not None:
                await sent
            answer = await future
        finally:
            timer.cancel()
            asked.pop(request, None)
            if not asked and self._asked is asked:
                self._asked = None
        if "code" not in answer:
            return answer.get("result")
        code = answer["code"] if answer["code"] in _CODES else "client_error"
        message = answer.get("message") or _message(connection_id, method, code, "", timeout)
        raise ClientCallError(code, message, method, connection_id)

    async def _call_for_another_instance(self, request: dict) -> None:
        """Another instance asks for a call in a tab of this one: make it, send the outcome back."""
        connection_id: Any = request.get("connection")
        method: Any = request.get("method")
        connection = self.get(connection_id) if isinstance(connection_id, str) else None
        answer: dict[str, Any]
        if connection is None:
            gone = _gone(str(connection_id), str(method))
            answer = {"code": "connection_gone", "message": gone.message}
        else:
            try:
                answer = {"result": await call(connection, method, request.get("args") or [],
                                               float(request.get("timeout") or DEFAULT_TIMEOUT))}
            except ClientCallError as exc:
                answer = {"code": str(exc.code), "message": exc.message}
            except (ValueError, TypeError) as exc:  # the caller checks these first: a caller of another version
                answer = {"code": "client_error", "message": f"the call was refused: {exc}"}
        sent = self.app.instance_bus.send(request["reply_to"], _DONE, request=request["request"], **answer)
        if sent is not None:
            await sent

    async def _answer_from_another_instance(self, answer: dict) -> None:
        future = self._asked.get(answer.get("request")) if self._asked is not None else None  # type: ignore[arg-type]
        if future is None or future.done():
            log.debug("an answer from another instance to client call request %s, which no longer waits (timed out): "
                      "ignored", answer.get("request"))
            return
        future.set_result(answer)


_ASK = "client_call"        # instance bus ops
_DONE = "client_call_done"
_CODES = frozenset({"no_such_function", "client_error", "bad_result", "timeout", "connection_gone", "too_many_calls"})


def _gone(connection_id: str, method: str) -> ClientCallError:
    return ClientCallError("connection_gone", f"no open connection {connection_id!r} for SS.client.{method}: the tab "
                           "was closed or reloaded (a reload opens a new connection with a new id)",
                           method, connection_id)
