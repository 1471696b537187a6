"""HTTPS end to end: Chromium loads the app over TLS and calls an action over wss; plain http and
other host names are redirected; the session cookie is Secure."""

from __future__ import annotations


def test_https_page_wss_calls_and_redirects_in_chromium(skeleton_app, ss_process, tls_browser, ports):
    http, https = ports
    (skeleton_app / "config" / "environments" / "development.py").write_text(
        f"config = {{'log': {{'level': 1}}, 'https': {{'enabled': True, 'port': {https}, 'domain': 'localhost'}}}}\n")
    server = ss_process(skeleton_app, ["start", "--port", str(http)])
    server.wait_for(f"https://localhost:{https}/robots.txt")
    assert f"url: https://localhost:{https}/" in server.output()
    assert "self-signed certificate for localhost" in server.output()
    assert f"http://localhost:{http}/ redirects to https" in server.output()

    context = tls_browser.new_context()
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"https://localhost:{https}/")
    page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
    assert page.evaluate("SS.server.app.square(25)") == 625
    assert sockets and all(url.startswith(f"wss://localhost:{https}/_ss/socket") for url in sockets)
    cookie = next(c for c in context.cookies() if c["name"] == "ss_session")
    assert cookie["secure"] and cookie["httpOnly"]

    page.goto(f"http://localhost:{http}/?from=http")                 # plain http -> https
    assert page.url == f"https://localhost:{https}/?from=http"
    page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
    assert page.evaluate("SS.server.app.square(12)") == 144

    page.goto(f"https://127.0.0.1:{https}/")                         # wrong host -> https.domain
    assert page.url == f"https://localhost:{https}/"
    page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
    context.close()
