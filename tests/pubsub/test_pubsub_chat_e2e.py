"""The skeleton's quick chat in Chromium: two browsers sign in and chat, on one or two instances."""

import uuid

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["one-embedded", "two-on-redis"])
def chat_servers(request, new_app, ss_server):
    """Two server URLs: the same embedded-store server twice, or two instances sharing Redis."""
    root = new_app("chat")
    if request.param == "one-embedded":
        server = ss_server(root)
        return server.url, server.url
    env = {"SS_REDIS_URL": request.getfixturevalue("redis_url")}
    (root / "config" / "app.py").write_text(
        f"config = {{'redis': {{'key_prefix': 'chat-e2e-{uuid.uuid4().hex[:8]}:'}}}}\n")
    return ss_server(root, env=env).url, ss_server(root, env=env).url


def open_page(browser, url):
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('status').className === 'connected'", timeout=20000)
    return page, errors


def sign_in(page, name):
    page.fill("#name", name)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#chat:not([hidden])", timeout=10000)
    assert page.inner_text("#who") == name


def open_chat(browser, url, name):
    page, errors = open_page(browser, url)
    sign_in(page, name)
    return page, errors


def session_named(page):
    """The skeleton's app.init names the session by its handle, a hash of the id (which page scripts never see)."""
    return page.evaluate("SS.server.app.init()")


def say(page, text):
    page.fill("#text", text)
    page.click("#chat button[type=submit]")


def wait_for_line(page, text):
    page.wait_for_function(
        "t => Array.from(document.querySelectorAll('#messages li')).some(li => li.textContent === t)",
        arg=text, timeout=10000)


def test_two_browsers_chat(browser, chat_servers):
    url_a, url_b = chat_servers
    alice, alice_errors = open_page(browser, url_a)
    before_sign_in = session_named(alice)
    sign_in(alice, "Alice")
    bob, bob_errors = open_chat(browser, url_b, "Bob")
    wait_for_line(alice, "Bob joined")
    alice.wait_for_function("document.getElementById('online').textContent.includes('Bob')", timeout=10000)

    say(alice, "Hi Bob <b>not bold</b>")
    for page in (alice, bob):
        wait_for_line(page, "Alice: Hi Bob <b>not bold</b>")  # text, never HTML
    assert bob.locator("#messages b").count() == 0
    say(bob, "Hello Alice")
    wait_for_line(alice, "Bob: Hello Alice")

    # the login rotated the session id; the browser fetched the new cookie, so a reload stays signed in
    session = session_named(alice)
    assert session != before_sign_in
    assert alice.evaluate("'session_id' in SS") is False
    alice.reload()
    alice.wait_for_selector("#chat:not([hidden])", timeout=20000)
    assert alice.inner_text("#who") == "Alice"
    assert session_named(alice) == session
    say(alice, "back again")
    wait_for_line(bob, "Alice: back again")

    bob.click("#sign-out")
    bob.wait_for_selector("#sign-in:not([hidden])", timeout=10000)
    wait_for_line(alice, "Bob left")
    assert alice_errors == [] and bob_errors == []
    alice.context.close()
    bob.context.close()


def test_messages_missed_during_a_restart_are_replayed(browser, new_app, ss_server, redis_url):
    """The browser reconnects after a server restart and gets, in order, what was broadcast meanwhile."""
    import asyncio
    import concurrent.futures

    from ss.app import App
    from tests.conftest import free_port

    root = new_app("chat")
    prefix = f"chat-recover-{uuid.uuid4().hex[:8]}:"  # the test Redis is shared: keys of its own
    (root / "config" / "app.py").write_text(f"config = {{'redis': {{'key_prefix': {prefix!r}}}}}\n")
    env = {"SS_REDIS_URL": redis_url}
    port = free_port()
    server = ss_server(root, env=env, port=port)
    page, errors = open_chat(browser, server.url, "Alice")
    say(page, "before the restart")
    wait_for_line(page, "Alice: before the restart")

    server.stop()
    page.wait_for_function("document.getElementById('status').className === 'offline'", timeout=10000)

    async def publish_while_down():
        console = App.load(root, "development", {"redis": {"enabled": True, "url": redis_url}})
        await console.store.connect()
        for i in range(3):
            await console.publish.broadcast("newMessage", {"from": "Server", "text": f"missed {i}"})
        await console.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop owns this thread
        pool.submit(asyncio.run, publish_while_down()).result(30)
    ss_server(root, env=env, port=port)
    page.wait_for_function("document.getElementById('status').className === 'connected'", timeout=30000)
    wait_for_line(page, "Server: missed 2")
    lines = page.eval_on_selector_all("#messages li", "items => items.map(li => li.textContent)")
    assert [line for line in lines if line.startswith(("Alice:", "Server:"))] == [
        "Alice: before the restart", "Server: missed 0", "Server: missed 1", "Server: missed 2"]
    assert not any("were missed" in line for line in lines)
    assert errors == []
    page.context.close()
