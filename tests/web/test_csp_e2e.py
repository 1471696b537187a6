"""Issue: the default CSP broke a SocketStream app whose view has form(onsubmit="return false")
(SocketRacer could not sign in: the handler was blocked, the form submitted, the page reloaded,
and only the console said why). In Chromium, under the default policy: the inline handler
runs, and the violation is visible: overlay and server log in development, the report
endpoint's log line in production. jQuery .tmpl() needs no eval."""

from __future__ import annotations



from tests import waiting

VIEW = '''!!! 5
html(lang:"en")
  head
    title CSP
    != SocketStream
  body
    form#sign-in(onsubmit="return false")
      input#name(type="text", value="racer")
      button#go(type="submit") Sign in
    p#out
    ul#list
'''

CLIENT = '''exports.init = ->
  document.getElementById('sign-in').addEventListener 'submit', ->
    SS.server.app.square 5, (r) -> document.getElementById('out').textContent = "signed in #{r}"
'''

SERVER = "import ss\n\nclass Actions(ss.Actions):\n    def square(self, n):\n        return n * n\n"


def csp_app(new_app):
    root = new_app("racer")
    (root / "app" / "views" / "app.jade").write_text(VIEW)
    (root / "app" / "client" / "app.coffee").write_text(CLIENT)
    (root / "app" / "server" / "app.py").write_text(SERVER)
    return root


def wait_until(page, expression: str, timeout: float = 20) -> None:
    # Polled from here: page.wait_for_function evaluates its predicate with eval(), which
    # an enforced script policy (rightly) refuses; page.evaluate goes around the page's CSP.
    waiting.wait_until(lambda: page.evaluate(expression), timeout, what=f"true in the page: {expression}")


def sign_in_without_reload(page, url: str) -> None:
    page.goto(url)
    wait_until(page, "!!(window.SS && SS.socket && SS.socket.state === 'connected')")
    page.evaluate("window.__stillHere = true")
    page.click("#go")
    wait_until(page, "document.getElementById('out').textContent === 'signed in 25'", 10)
    assert page.evaluate("window.__stillHere === true")  # the form did not submit: no reload


def wait_for_log(server, text: str, timeout: float = 10) -> str:
    return waiting.wait_until(lambda: text in server.output() and server.output(), timeout, interval=0.1,
                              what=lambda: f"{text!r} in the server log:\n{server.output()[-3000:]}")


def test_default_csp_breaks_a_real_socketstream_app_in_development(new_app, ss_server, browser):
    root = csp_app(new_app)
    server = ss_server(root)
    page = browser.new_page()
    try:
        sign_in_without_reload(page, server.url + "/")
        notice = page.wait_for_selector("#ss-dev-csp", timeout=10000).inner_text()
        assert "script-src-attr" in notice and "security.enforce_script_policy" in notice
        assert "inline" in notice
        out = wait_for_log(server, "CSP (report only, nothing was blocked)")
        assert "script-src-attr" in out and "security.enforce_script_policy" in out
    finally:
        page.close()


def test_default_csp_breaks_a_real_socketstream_app_in_production(new_app, ss_server, browser):
    root = csp_app(new_app)
    server = ss_server(root, env={"SS_ENV": "production"})
    page = browser.new_page()
    try:
        sign_in_without_reload(page, server.url + "/")
        assert page.query_selector("#ss-dev-csp") is None  # no overlay in production
        out = wait_for_log(server, "CSP (report only, nothing was blocked)")
        assert "script-src-attr" in out
    finally:
        page.close()


def test_enforced_script_policy_blocks_inline_handlers_but_not_jquery_templates(new_app, ss_server, browser):
    root = csp_app(new_app)
    (root / "config" / "app.py").write_text('config = {"security": {"enforce_script_policy": True}}\n')
    server = ss_server(root)
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        wait_until(page, "!!(window.SS && SS.socket && SS.socket.state === 'connected')")
        # jQuery templates render through the build-time compiled SS.tmpl functions: no eval needed
        html = page.evaluate("$('#chat-message').tmpl({from: 'a', text: '<b>'}).appendTo('#list'); "
                             "document.getElementById('list').innerHTML")
        assert "<strong>a:</strong>" in html and "&lt;b&gt;" in html
        notice = page.query_selector("#ss-dev-csp")
        assert notice is None or "eval" not in notice.inner_text()
        page.click("#go")  # the inline handler is blocked now, and the overlay says so
        page.wait_for_load_state()
        out = wait_for_log(server, "CSP blocked")
        assert "security.enforce_script_policy = False" in out and "eval" not in out.split("CSP blocked", 1)[1]
    finally:
        page.close()
