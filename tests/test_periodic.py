"""Background tasks stop when asked, even when one cancel() was swallowed on the way."""

import asyncio

from ss.periodic import Periodic, cancel_and_wait


def swallows_first_cancel():
    """Work that carries on after its first cancellation, as a loop around asyncio.wait_for does on
    Python 3.11 when the cancel arrives in the turn in which the awaited thing completes."""
    swallowed = []

    async def work():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(True)

    return work, swallowed


async def test_close_stops_a_periodic_whose_work_swallowed_the_cancel():
    work, swallowed = swallows_first_cancel()
    periodic = Periodic("test", 0.01, work)
    periodic.start()
    await asyncio.sleep(0.05)                       # in its work now
    await asyncio.wait_for(periodic.close(), 10)    # a single cancel() would leave this waiting forever
    assert swallowed == [True] and periodic._task is None


async def test_cancel_and_wait_outlasts_a_wait_for_that_returns_instead_of_raising():
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    rounds = []

    async def reader():
        while True:  # like a reader loop: wait_for(read(), timeout), handle, repeat
            rounds.append(await asyncio.wait_for(ready if not rounds else loop.create_future(), 30))

    task = asyncio.ensure_future(reader())
    await asyncio.sleep(0.01)
    ready.set_result("data")                        # what it waits for completes...
    stopping = asyncio.ensure_future(cancel_and_wait(task))   # ...in the turn the cancel comes
    await asyncio.wait_for(stopping, 10)
    assert task.done()
