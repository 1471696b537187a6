"""publish.socket, exclude= and users.disconnect in Chromium, with pages spread over two instances on one Redis."""

import uuid

import pytest

pytestmark = pytest.mark.e2e

TARGETS = '''
import ss

class Actions(ss.Actions):
    def join(self, name):
        self.session.channel.subscribe(name)
        return self.connection.id

    async def sign_in(self, uid):
        await self.session.set_user_id(uid)
        return uid

    async def to_socket(self, connection_id, event, data):
        await ss.publish.socket(connection_id, event, data)

    async def to_room_but_me(self, name, event, data):
        await ss.publish.channel(name, event, data, exclude=self.connection)

    async def kick(self, uid, reason):
        await ss.users.disconnect(uid, reason=reason)
'''

# Every event a page gets, and SS.events "disconnect" (the reason of a kick), in arrival order.
LISTEN = """() => {
  window.got = [];
  for (const name of ["direct", "said"]) SS.events.on(name, (data) => window.got.push([name, data]));
  SS.events.on("disconnect", (reason) => window.got.push(["kicked", reason]));
}"""


@pytest.fixture
def two_instances(new_app, ss_server, redis_url):
    root = new_app("targets")
    (root / "app" / "server" / "targets.py").write_text(TARGETS)
    (root / "config" / "app.py").write_text(
        f"config = {{'redis': {{'key_prefix': 'targets-e2e-{uuid.uuid4().hex[:8]}:'}}}}\n")
    env = {"SS_REDIS_URL": redis_url}
    return ss_server(root, env=env).url, ss_server(root, env=env).url


def open_page(browser, url):
    page = browser.new_context().new_page()
    page.goto(url + "/")
    page.wait_for_function("window.SS && SS.socket.state === 'connected'", timeout=20000)
    page.evaluate(LISTEN)
    return page


def got(page):
    return page.evaluate("window.got")


def wait_got(page, entry):
    page.wait_for_function("e => window.got.some(g => JSON.stringify(g) === JSON.stringify(e))", arg=entry,
                           timeout=10000)


def test_one_tab_everyone_but_the_sender_and_kicking_a_user_across_instances(browser, two_instances):
    url_a, url_b = two_instances
    pages = [open_page(browser, url) for url in (url_a, url_b, url_a, url_b)]
    ids = [page.evaluate("SS.server.targets.join('room1')") for page in pages]
    assert ids == [page.evaluate("SS.connection_id") for page in pages]
    assert len({i.split(".")[0] for i in ids}) == 2          # two instances really hold them

    # one tab, on the other instance
    pages[0].evaluate("id => SS.server.targets.to_socket(id, 'direct', 'only you')", ids[3])
    wait_got(pages[3], ["direct", "only you"])

    # everyone in the room but the sender, wherever they are
    pages[1].evaluate("SS.server.targets.to_room_but_me('room1', 'said', 'hi all')")
    for page in (pages[0], pages[2], pages[3]):
        wait_got(page, ["said", "hi all"])
    pages[1].wait_for_timeout(500)
    assert got(pages[1]) == []
    assert got(pages[0]) == got(pages[2]) == [["said", "hi all"]]   # the direct message went to one tab only

    # kick: one user, two browsers, two instances
    for page in (pages[2], pages[3]):
        page.evaluate("SS.server.targets.sign_in('mallory')")
    pages[0].evaluate("SS.server.targets.kick('mallory', 'banned for spam')")
    for page in (pages[2], pages[3]):
        wait_got(page, ["kicked", "banned for spam"])
        page.wait_for_function("SS.socket.state === 'disconnected'", timeout=10000)
    pages[0].wait_for_timeout(3000)                           # and they stay out
    for page in (pages[2], pages[3]):
        assert page.evaluate("SS.socket.state") == "disconnected"
    assert pages[0].evaluate("SS.socket.state") == pages[1].evaluate("SS.socket.state") == "connected"

    # SS.reconnect() is the way back (the app decides whether to let them in)
    pages[3].evaluate("SS.reconnect()")
    pages[3].wait_for_function("SS.socket.state === 'connected'", timeout=10000)
    assert pages[3].evaluate("SS.server.targets.join('room1')") != ids[3]   # a new connection
    for page in pages:
        page.context.close()
