"""The server process dies under a browser with calls pending and queued; every call completes exactly once."""

import signal
import uuid

import pytest

from tests.conftest import ServerProcess

FAULT_ACTIONS = """
import asyncio, ss

class Actions(ss.Actions):
    async def work(self, key, token, seconds):
        await asyncio.sleep(seconds)
        await ss.R.hincrby(key, token, 1)     # the effect happens when the action completes
        return token

    async def runs(self, key):
        return {k.decode(): int(v) for k, v in (await ss.R.hgetall(key)).items()}

    def join(self, room):
        self.session.channel.subscribe(room)
        return True

    async def ping_room(self, room):
        await ss.publish.channel(room, "roomEvent", room)
        return True
"""


@pytest.mark.parametrize("kill_signal", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "crash"])
def test_calls_survive_a_server_restart(new_app, browser, redis_url, kill_signal):
    root = new_app()
    (root / "app" / "server" / "fault.py").write_text(FAULT_ACTIONS)
    # Keys and pub/sub channels of its own: the test Redis is shared with other test sessions, whose
    # run of this same test publishes to a 'lobby' channel too.
    with open(root / "config" / "app.py", "a") as config:
        config.write(f"config.setdefault('redis', {{}})['key_prefix'] = 'fault-{uuid.uuid4().hex[:8]}:'\n")
    env = {"SS_REDIS_URL": redis_url}
    server = ServerProcess(root, env).start()
    key = f"fault-runs-{uuid.uuid4().hex}"
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_function("SS.socket.state === 'connected'", timeout=15000)
        page.evaluate("""(key) => {
            window.key = key; window.done = {}; window.roomEvents = [];
            SS.events.on('roomEvent', (room) => window.roomEvents.push(room));
            window.track = (token, seconds) => SS.server.fault.work(key, token, seconds)
                .then(r => { window.done[token] = (window.done[token] || 0) + 1; });
            return SS.server.fault.join('lobby');
        }""", key)
        page.evaluate("['p1', 'p2', 'p3'].forEach(t => track(t, 1.5))")   # pending when the server goes
        page.wait_for_timeout(300)
        server.stop(kill_signal)
        page.wait_for_function("SS.socket.state !== 'connected'", timeout=15000)
        page.evaluate("['q1', 'q2', 'q3'].forEach(t => track(t, 0))")      # queued while it is down
        page.wait_for_timeout(500)
        server = ServerProcess(root, env, port=server.port).start()
        page.wait_for_function("Object.keys(window.done).length === 6", timeout=30000)
        assert page.evaluate("window.done") == {t: 1 for t in ["p1", "p2", "p3", "q1", "q2", "q3"]}
        runs = page.evaluate("SS.server.fault.runs(window.key)")
        assert runs == {t: 1 for t in ["p1", "p2", "p3", "q1", "q2", "q3"]}   # each ran exactly once
        page.evaluate("SS.server.fault.ping_room('lobby')")
        page.wait_for_function("window.roomEvents.length === 1", timeout=10000)  # re-subscribed by itself
    finally:
        page.close()
        server.stop()
