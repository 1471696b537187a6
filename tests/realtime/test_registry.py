"""Connections (the registry) on its own: counts per address, the index by session, ids."""

from __future__ import annotations

import itertools
import asyncio
from types import SimpleNamespace

from ss.realtime.registry import Connections


class FakeConnection:
    """What the registry reads of a connection: id, session id, client address, transport (hashed by identity)."""

    ids = itertools.count(1)

    def __init__(self, session_id: str, ip: str | None):
        self.id = f"test.{next(self.ids):x}"
        self.session = SimpleNamespace(id=session_id)
        self.request = SimpleNamespace(remote_ip=ip)
        self.transport = SimpleNamespace(name="websocket")
        self.close_reason = None


def conn(session_id: str = "s1", ip: str | None = "10.0.0.1") -> FakeConnection:
    return FakeConnection(session_id, ip)


def test_counts_per_address_go_up_and_down():
    registry = Connections()
    a, b, c = conn(ip="10.0.0.1"), conn(ip="10.0.0.1"), conn(ip="10.0.0.2")
    for connection in (a, b, c):
        registry.add(connection)
    assert registry.per_ip == {"10.0.0.1": 2, "10.0.0.2": 1}
    assert registry.count_from("10.0.0.1") == 2 and registry.count_from("10.0.0.9") == 0
    assert len(registry) == 3 and registry and a in registry

    assert registry.remove(a)
    assert registry.per_ip == {"10.0.0.1": 1, "10.0.0.2": 1}
    assert registry.remove(b) and registry.remove(c)
    assert registry.per_ip == {}                       # no address left behind at zero
    assert len(registry) == 0 and not registry and a not in registry


def test_removing_twice_or_never_added_is_refused_and_counts_nothing():
    registry = Connections()
    a, stranger = conn(), conn()
    registry.add(a)
    registry.add(conn())
    assert registry.remove(a) is True
    assert registry.remove(a) is False                # closed twice
    assert registry.remove(stranger) is False         # never opened
    assert registry.per_ip == {"10.0.0.1": 1}


def test_an_unknown_address_is_counted_under_one_name():
    registry = Connections()
    a, b = conn(ip=None), conn(ip="")
    registry.add(a)
    registry.add(b)
    assert registry.count_from(None) == 2
    registry.remove(a)
    registry.remove(b)
    assert registry.per_ip == {}


def test_per_ip_is_a_copy():
    registry = Connections()
    registry.add(conn())
    registry.per_ip.clear()
    assert registry.count_from("10.0.0.1") == 1


def test_connections_are_found_by_session_id():
    registry = Connections()
    tab1, tab2, other = conn("s1"), conn("s1"), conn("s2")
    for connection in (tab1, tab2, other):
        registry.add(connection)
    assert set(registry.of_session("s1")) == {tab1, tab2}
    assert registry.of_session("s2") == [other]
    assert registry.of_session("nobody") == []
    registry.of_session("s1").clear()                 # a copy
    registry.remove(tab1)
    assert registry.of_session("s1") == [tab2]
    registry.remove(tab2)
    assert registry.of_session("s1") == []
    assert "s1" not in registry._by_session           # no empty index entries left behind


def test_session_renamed_moves_the_connection_to_the_new_id():
    registry = Connections()
    caller, other_tab = conn("old"), conn("old")
    registry.add(caller)
    registry.add(other_tab)
    caller.session.id = "new"                          # signed in: the session got a new id
    registry.session_renamed(caller, "old")
    assert registry.of_session("new") == [caller]
    assert registry.of_session("old") == [other_tab]
    registry.remove(caller)                            # removed under its new id
    assert registry.of_session("new") == [] and registry.of_session("old") == [other_tab]


def test_session_renamed_ignores_a_connection_that_is_not_registered():
    registry = Connections()
    gone = conn("new")
    registry.session_renamed(gone, "old")
    assert registry.of_session("new") == [] and len(registry) == 0


def test_iterating_gives_a_snapshot():
    registry = Connections()
    a, b = conn(), conn()
    registry.add(a)
    registry.add(b)
    for connection in registry:
        registry.remove(connection)                   # removing while iterating is safe
    assert len(registry) == 0


def test_ids_are_unique_within_and_across_instances():
    first, second = Connections(), Connections()
    ids = [first.new_id() for _ in range(1000)] + [second.new_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    prefix_1, prefix_2 = {i.split(".")[0] for i in ids[:1000]}, {i.split(".")[0] for i in ids[1000:]}
    assert len(prefix_1) == len(prefix_2) == 1 and prefix_1 != prefix_2


def test_finds_an_open_connection_by_its_id_and_forgets_it_when_it_goes():
    registry = Connections()
    a, b = conn(), conn()
    registry.add(a)
    registry.add(b)
    assert registry.get(a.id) is a and registry.get(b.id) is b
    assert registry.get("test.nope") is None
    assert registry.remove(a)
    assert registry.get(a.id) is None and a not in registry and b in registry
    assert not registry.remove(a)                       # twice: nothing happens
    ids = {registry.new_id() for _ in range(3)}
    assert len(ids) == 3 and all(i.startswith(registry.instance + ".") for i in ids)
    assert "." not in registry.instance                 # ss.protocol.bus.instance_of splits at the first "."


async def test_the_handshake_gate_lets_a_few_through_per_loop_turn_in_order():
    from ss.realtime.registry import HandshakeGate

    gate = HandshakeGate(per_turn=4)
    order: list[int] = []
    waits = [gate.admit() for _ in range(10)]
    assert [w is None for w in waits] == [True] * 4 + [False] * 6   # a storm's first few go on at once
    for number, wait in enumerate(waits):
        if wait is not None:
            wait.add_done_callback(lambda _, n=number: order.append(n))
    turns = 0
    while len(order) < 6:
        await asyncio.sleep(0)
        turns += 1
        assert len(order) <= 4 * turns                              # never more than per_turn a turn
    assert order == list(range(4, 10)) and turns >= 2                # first come, first served
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert gate.admit() is None                                     # quiet again: no waiting at all
