"""The replay table of retried calls is bounded by bytes, reply size, tabs per session and age."""

import asyncio

import pytest

from ss.rpc.recent_calls import ENTRY_OVERHEAD, RecentCalls


def done(value: bytes) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


async def test_a_repeat_finds_the_first_reply():
    table = RecentCalls()
    table.remember(("s", "t"), 1, done(b"reply"))
    assert table.get(("s", "t"), 1).result() == b"reply"
    assert table.get(("s", "t"), 2) is None and table.get(("s", "other"), 1) is None


async def test_fresh_tab_ids_and_big_replies_cannot_grow_memory_past_the_budget():
    # The reported attack: many connections x many calls returning ~65 KB, with fresh tab ids.
    table = RecentCalls(max_bytes=256 << 10, max_reply=16 << 10)
    for tab in range(10):
        for call in range(256):
            table.remember((f"session{tab}", f"tab{tab}"), call, done(b"x" * 65_000))
    assert table.bytes == 0                           # big replies are not kept at all
    for tab in range(100):
        for call in range(256):
            table.remember((f"session{tab}", f"tab{tab}"), call, done(b"y" * 4000))
    assert 0 < table.bytes <= 256 << 10               # small ones up to the budget, oldest tabs forgotten
    assert table.get(("session99", "tab99"), 255) is not None
    assert table.get(("session0", "tab0"), 255) is None


async def test_a_session_keeps_a_bounded_number_of_tabs():
    table = RecentCalls(tabs_per_session=3)
    for tab in range(10):
        table.remember(("s", f"tab{tab}"), 1, done(b"r"))
    assert len(table) == 3
    assert table.get(("s", "tab9"), 1) is not None and table.get(("s", "tab0"), 1) is None


async def test_running_calls_are_kept_and_only_the_latest_answers():
    table = RecentCalls(per_tab=4)
    running = asyncio.get_running_loop().create_future()
    table.remember(("s", "t"), "running", running)
    for call in range(10):
        table.remember(("s", "t"), call, done(b"r"))
    assert table.get(("s", "t"), "running") is running          # unanswered: what a reconnect asks for
    assert [c for c in range(10) if table.get(("s", "t"), c)] == [6, 7, 8, 9]
    assert table.bytes == 4 * (1 + ENTRY_OVERHEAD)
    table.answered(("s", "t"), "running", b"late reply")
    assert table.get(("s", "t"), "running") is running


async def test_a_reply_counted_when_the_call_ends_and_dropped_when_too_big():
    table = RecentCalls(max_reply=10)
    small, big = (asyncio.get_running_loop().create_future() for _ in range(2))
    table.remember(("s", "t"), 1, small)
    table.remember(("s", "t"), 2, big)
    table.answered(("s", "t"), 1, b"ok")
    table.answered(("s", "t"), 2, b"x" * 11)
    assert table.get(("s", "t"), 1) is small and table.get(("s", "t"), 2) is None
    assert table.bytes == 2 + ENTRY_OVERHEAD


async def test_tabs_are_forgotten_after_ttl(monkeypatch):
    import ss.rpc.recent_calls as module

    now = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    table = RecentCalls(ttl=60)
    table.remember(("s", "old"), 1, done(b"r"))
    now[0] += 61
    table.remember(("s", "new"), 1, done(b"r"))
    assert table.get(("s", "old"), 1) is None and table.get(("s", "new"), 1) is not None
    assert table.bytes == 1 + ENTRY_OVERHEAD


@pytest.mark.parametrize("size", [100, 20_000])
async def test_over_a_socket_small_replies_replay_and_big_ones_run_again(make_app, size):
    from ss.testing import running_app

    root = make_app({"app/server/app.py": """
import ss
RUNS = []
class Actions(ss.Actions):
    def payload(self, size):
        RUNS.append(size)
        return "x" * size
    def runs(self):
        return len(RUNS)
"""})
    async with running_app(root, "test") as app:
        from ss.testing import Client

        url = app.socket_url + "?tab=sametab"
        first = await Client(url).connect()
        assert len(await first.call("app.payload", size)) == size      # call id 1
        await first.close()
        # The tab reconnects (same cookie, same tab id) and re-sends call 1, as the browser does.
        second = await Client(url, first.cookie).connect()
        second._next_id = 0
        assert len(await second.call("app.payload", size)) == size     # call id 1 again
        second._next_id = 100
        runs = await second.call("app.runs")
        await second.close()
        assert runs == (1 if size <= 16 << 10 else 2)                  # replayed when small, run again when big


async def test_a_reply_given_at_once_is_kept_as_its_bytes():
    # A call that finished while it was being started is remembered by its reply, with no future.
    table = RecentCalls(max_reply=10, per_tab=2)
    table.remember(("s", "t"), 1, b"reply")
    assert table.get(("s", "t"), 1) == b"reply"
    assert table.bytes == len(b"reply") + ENTRY_OVERHEAD
    table.remember(("s", "t"), 2, b"x" * 11)          # too big to keep: a retry runs it again
    assert table.get(("s", "t"), 2) is None
    table.remember(("s", "t"), 3, b"r3")
    table.remember(("s", "t"), 4, done(b"r4"))
    assert table.get(("s", "t"), 1) is None           # only the latest two answered ones stay
    assert table.get(("s", "t"), 3) == b"r3" and table.get(("s", "t"), 4).result() == b"r4"
