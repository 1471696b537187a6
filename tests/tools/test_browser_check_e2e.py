"""browser_check.strict in Chromium: an old browser's user agent gets the static notice, a current one the app."""

from __future__ import annotations

IE9 = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"


def test_old_user_agents_get_the_notice_and_current_ones_the_app(skeleton_app, ss_server, browser):
    (skeleton_app / "config" / "environments" / "development.py").write_text(
        "config = {'log': {'level': 1}, 'browser_check': {'strict': True}}\n")
    server = ss_server(skeleton_app)

    old = browser.new_context(user_agent=IE9)
    page = old.new_page()
    page.goto(server.url + "/")
    assert page.inner_text("h1") == "Your browser cannot run this app"
    assert page.evaluate("typeof window.SS") == "undefined"           # none of the app was served
    api = old.request.get(server.url + "/api/app/square.json?25")     # the HTTP API is not checked
    assert api.ok and api.json() == 625
    old.close()

    current = browser.new_context()
    page = current.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
    assert page.evaluate("SS.server.app.square(25)") == 625
    current.close()
