"""ss/realtime/compat.py: a Tornado that changed stops ss at import with a message naming what changed."""

import collections
import types

import pytest
import tornado.websocket

from ss.realtime import compat


def test_the_installed_tornado_has_every_internal_ss_uses():
    compat.check()  # raises CompatError otherwise


def test_a_missing_internal_is_named_with_the_tested_versions(monkeypatch):
    class ChangedProtocol:  # a Tornado whose protocol class no longer has the internals
        def __init__(self):
            pass

    monkeypatch.setattr(tornado.websocket, "WebSocketProtocol13", ChangedProtocol)
    with pytest.raises(compat.CompatError) as failed:
        compat.check()
    message = str(failed.value)
    assert "WebSocketProtocol13._receive_frame_loop" in message
    assert "WebSocketProtocol13._accept_connection awaiting _receive_frame_loop" in message
    assert "tested with Tornado 6.6" in message and "pip install 'tornado>=6.6,<6.7'" in message


def test_the_pure_unmask_and_tornados_agree():
    from ss.protocol.frames import unmask as pure

    mask = b"\x01\x02\x03\x04"
    for size in (0, 1, 3, 4, 5, 125, 1000):
        data = bytes(range(256)) * 4
        assert pure(mask, data[:size]) == compat.unmask(mask, data[:size])


def test_the_lazy_deque_is_an_empty_deque_until_its_first_append_puts_a_real_one_in_place():
    owner = types.SimpleNamespace()
    owner.queue = lazy = compat.LazyDeque(owner, "queue")
    assert not lazy and len(lazy) == 0 and list(lazy) == []
    with pytest.raises(IndexError):
        lazy[0]
    with pytest.raises(IndexError):
        lazy.popleft()
    lazy.clear()
    lazy.append(1)
    assert type(owner.queue) is collections.deque and list(owner.queue) == [1]   # the real one, from now on
    owner.queue.append(2)
    assert owner.queue.popleft() == 1 and list(owner.queue) == [2]
