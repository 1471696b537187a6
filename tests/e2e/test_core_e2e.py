"""The Quick Example, as a user would try it: new app, real server process, Chromium."""

import json
import urllib.request
import uuid

import pytest

from tests.waiting import wait_until


def wait_for_js(page, expression: str, timeout: float = 30) -> None:
    """Poll ``expression`` with page.evaluate (a DevTools evaluation, outside the page's CSP).

    Playwright's wait_for_function compiles a string predicate inside the page when it has
    to poll, which the script policy reports as an eval: that would look like one of ss's own.
    """
    wait_until(lambda: page.evaluate(expression), timeout, what=expression)


@pytest.fixture(params=["embedded", "redis"])
def store_env(request):
    if request.param == "embedded":
        return {}
    return {"SS_REDIS_URL": request.getfixturevalue("redis_url")}


def test_generated_app_in_chromium(new_app, ss_server, browser, store_env):
    root = new_app()
    if store_env:  # keys and channels of its own on the test Redis, which other test sessions share
        with open(root / "config" / "app.py", "a") as config:
            config.write(f"config.setdefault('redis', {{}})['key_prefix'] = 'core-{uuid.uuid4().hex[:8]}:'\n")
    server = ss_server(root, env=store_env)
    assert ("store: redis://" in server.output()) == bool(store_env)
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server.url + "/")
    assert "frame-ancestors 'self'" in page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "default-src 'self'" in page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy-report-only'))")
    wait_for_js(page, "document.getElementById('status').className === 'connected'")
    # SS.client.app.init ran: it asked the server for the session message.
    wait_for_js(page, "document.getElementById('message').textContent.includes('was created at')")
    assert page.evaluate("SS.server.app.square(25)") == 625
    assert page.evaluate("new Promise(r => SS.server.app.square(12, r))") == 144
    assert page.evaluate("$('#chat-message').tmpl({from: 'a', text: 'b'}).text()") == "a: b"  # jQuery tmpl under the CSP
    # The session id stays in its HttpOnly cookie; app.init names the session by its handle (a hash of it).
    assert page.evaluate("'session_id' in SS") is False
    session = page.evaluate("SS.server.app.init()")
    assert session in page.inner_text("#message")

    page.reload()
    wait_for_js(page, "SS.socket.state === 'connected'")
    assert page.evaluate("SS.server.app.init()") == session   # same session after a refresh

    other = browser.new_context().new_page()                  # another browser: another session
    other.goto(server.url + "/")
    wait_for_js(other, "SS.socket.state === 'connected'")
    assert other.evaluate("SS.server.app.init()") != session

    with urllib.request.urlopen(server.url + "/api/app/square.json?25") as response:
        assert json.load(response) == 625
    assert errors == []
    context.close()
    other.context.close()


def test_server_errors_reach_the_browser_console_in_development(new_app, ss_server, browser):
    root = new_app()
    (root / "app" / "server" / "broken.py").write_text(
        "import ss\n\nclass Actions(ss.Actions):\n    def fail(self):\n        raise ValueError('no such widget')\n")
    server = ss_server(root)
    page = browser.new_page()
    logs = []
    page.on("console", lambda m: logs.append(m.text))
    page.goto(server.url + "/")
    page.wait_for_function("SS.socket.state === 'connected'", timeout=15000)
    error = page.evaluate("SS.server.broken.fail().then(() => null, e => ({code: e.code, message: e.message, "
                          "traceback: e.traceback}))")
    assert error["code"] == "action_failed" and "no such widget" in error["message"]
    assert "raise ValueError" in error["traceback"]
    assert any("Traceback" in line for line in logs)
    page.close()
