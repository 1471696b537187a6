"""SS.presence in Chromium: two `ss start` instances on one Redis, three signed-in pages spread over both.

Each page tracks itself in "room1" with metadata and sees the others join, an
update (status "typing") and leave: a closed page at once, the page of a
SIGKILLed instance within presence.timeout (+ a refresh interval).
"""

import uuid

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT, REFRESH, SLACK = 3.0, 0.25, 5.0   # the dead instance's user must leave within TIMEOUT + REFRESH (+ a loaded machine)

SERVER = '''
import ss

class Actions(ss.Actions):
    async def enter(self, uid, meta):
        await self.session.set_user_id(uid)
        await self.session.channel.subscribe("room1")
        await self.connection.track("room1", meta)
        return self.connection.id

    async def status(self, status):
        await self.connection.update("room1", {"name": self.session.user_id, "status": status})
        return True
'''

PAGE = "<!DOCTYPE html><html><head><SocketStream></head><body><ul id='who'></ul></body></html>"

# What an app's "who is here, who is typing" panel would do: follow the events, render from list().
WATCH = """() => {
    window.seen = [];
    const room = SS.presence("room1");
    ["join", "leave", "update"].forEach(name => room.on(name, (uid, metas) =>
        window.seen.push([name, uid, metas.map(m => m.status)])));
}"""


@pytest.fixture
def room_app(make_app, redis_url):
    root = make_app({"app/server/app.py": SERVER, "app/views/app.html": PAGE})
    config = {"redis": {"enabled": True, "url": redis_url, "key_prefix": f"presence-e2e-{uuid.uuid4().hex[:8]}:"},
              "presence": {"timeout": TIMEOUT, "refresh_interval": REFRESH}}
    (root / "config" / "app.py").write_text(f"config = {config!r}\n")
    return root


@pytest.fixture
def instances():
    from pubsub_helpers import ServerProcess

    started = []

    def start(root):
        server = ServerProcess(root, {"SS_ENV": "development"}).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def open_page(browser, url):
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_function("SS.socket && SS.socket.state === 'connected'", timeout=20000)
    return page, errors


def enter(page, uid, watch_first=False):
    if watch_first:   # asked before subscribing: refused, then asked again at the channel's first change
        page.evaluate(WATCH)
    page.evaluate("([uid, meta]) => SS.server.app.enter(uid, meta)", [uid, {"name": uid, "status": "idle"}])
    if not watch_first:
        page.evaluate(WATCH)


def users(page):
    return page.evaluate("Object.keys(SS.presence('room1').list()).sort()")


def wait_users(page, expected, timeout=10000):
    page.wait_for_function("expected => JSON.stringify(Object.keys(SS.presence('room1').list()).sort()) "
                           "=== JSON.stringify(expected)", arg=sorted(expected), timeout=timeout)


def wait_seen(page, event, timeout=10000):
    page.wait_for_function("e => window.seen.some(s => JSON.stringify(s) === JSON.stringify(e))", arg=event,
                           timeout=timeout)


def test_three_pages_on_two_instances_see_join_update_and_leave(browser, room_app, instances):
    a, b = instances(room_app), instances(room_app)
    ann, ann_errors = open_page(browser, a.url)
    bob, bob_errors = open_page(browser, b.url)
    cat, cat_errors = open_page(browser, a.url)
    enter(ann, "ann")
    enter(bob, "bob")
    enter(cat, "cat", watch_first=True)
    everyone = ["ann", "bob", "cat"]
    for page in (ann, bob, cat):
        wait_users(page, everyone)
    # every page saw every other user join (by a diff, or by the state it asked for)
    for page, others in ((ann, ["bob", "cat"]), (bob, ["ann", "cat"]), (cat, ["ann", "bob"])):
        for other in others:
            wait_seen(page, ["join", other, ["idle"]])
    listed = ann.evaluate("SS.presence('room1').list()")
    assert listed["bob"][0]["name"] == "bob" and listed["bob"][0]["connection_id"].count(".") == 1

    bob.evaluate("SS.server.app.status('typing')")
    for page in (ann, cat):
        wait_seen(page, ["update", "bob", ["typing"]])
        assert page.evaluate("SS.presence('room1').list().bob.map(m => m.status)") == ["typing"]

    cat.context.close()                         # a closed page leaves at once
    for page in (ann, bob):
        wait_seen(page, ["leave", "cat", ["idle"]])
        wait_users(page, ["ann", "bob"])

    b.kill()                                    # SIGKILL: nobody tells Redis; bob's entry runs out
    wait_seen(ann, ["leave", "bob", ["typing"]], timeout=int((TIMEOUT + REFRESH + SLACK) * 1000))
    assert users(ann) == ["ann"]
    assert ann_errors == [] and bob_errors == [] and cat_errors == []
    ann.context.close()
    bob.context.close()
