"""The skeleton's quick chat in Chromium: two browsers sign in and chat, on one or two instances."""

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
        f"config = {{'redis': {{'key_prefix': 'chat-e2e-{id(root)}:'}}}}\n")
    return ss_server(root, env=env).url, ss_server(root, env=env).url


def open_chat(browser, url, name):
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('status').className === 'connected'", timeout=20000)
    page.fill("#name", name)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#chat:not([hidden])", timeout=10000)
    assert page.inner_text("#who") == name
    return page, errors


def say(page, text):
    page.fill("#text", text)
    page.click("#chat button[type=submit]")


def wait_for_line(page, text):
    page.wait_for_function(
        "t => Array.from(document.querySelectorAll('#messages li')).some(li => li.textContent === t)",
        arg=text, timeout=10000)


def test_two_browsers_chat(browser, chat_servers):
    url_a, url_b = chat_servers
    alice, alice_errors = open_chat(browser, url_a, "Alice")
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
    session_id = alice.evaluate("SS.session_id")
    alice.reload()
    alice.wait_for_selector("#chat:not([hidden])", timeout=20000)
    assert alice.inner_text("#who") == "Alice"
    assert alice.evaluate("SS.session_id") == session_id
    say(alice, "back again")
    wait_for_line(bob, "Alice: back again")

    bob.click("#sign-out")
    bob.wait_for_selector("#sign-in:not([hidden])", timeout=10000)
    wait_for_line(alice, "Bob left")
    assert alice_errors == [] and bob_errors == []
    alice.context.close()
    bob.context.close()
