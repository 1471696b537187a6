"""The asset pipeline seen from headless Chromium, in a generated app.

Development: a saved stylesheet changes the computed style without a reload,
a saved client file reloads the page with the new behaviour, a broken
app.coffee shows the overlay until it is fixed. Production: the packed files
are served with long-lived cache headers, the page works from them alone, and
they weigh at least 40% less than the unminified input.
"""
from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.e2e
CONNECTED = "window.SS && SS.socket && SS.socket.state === 'connected'"


def fetch(url: str, headers: dict | None = None) -> tuple[bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        info = {k.lower(): v for k, v in response.headers.items()}
    return body, info  # wire bytes: gzip when the server chose it


def test_development_live_reload(new_app, ss_server, browser):
    root = new_app("liveapp")
    server = ss_server(root)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'Connected'")

    # Templates work both ways: SS.tmpl (escaped) and the jQuery templates plugin.
    html = page.evaluate("SS.tmpl['chat-message']({from: '<b>', text: 'hi & bye'})")
    assert html == "<li><strong>&lt;b&gt;:</strong> hi &amp; bye</li>"
    jq = page.evaluate("$('#chat-message').tmpl({from: 'Tom', text: '<i>x</i>'}).text()")
    assert jq == "Tom: <i>x</i>"

    # A saved stylesheet: new computed style, same page (no reload).
    page.evaluate("window.notReloaded = true")
    styl = root / "app/css/app.styl"
    styl.write_text(styl.read_text() + "\nbody\n  background-color rgb(1, 2, 3)\n")
    page.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'", timeout=10000)
    assert page.evaluate("window.notReloaded") is True

    # A saved client file: the page reloads and runs the new code.
    client = root / "app/client/app.coffee"
    with page.expect_event("load", timeout=10000):
        client.write_text(client.read_text() + "\nexports.answer = -> 6 * 7\n")
    page.wait_for_function("window.SS && SS.client.app && SS.client.app.answer", timeout=10000)
    assert page.evaluate("SS.client.app.answer()") == 42
    assert page.evaluate("window.notReloaded") is None
    page.wait_for_function("document.getElementById('status').textContent === 'Connected'")

    # A broken app.coffee: the overlay names the file; fixing it removes the overlay.
    good = client.read_text()
    client.write_text(good + "\nbroken = (\n")
    overlay = page.wait_for_selector("#ss-dev-overlay", timeout=10000)
    assert "app/client/app.coffee:" in overlay.inner_text()
    with page.expect_event("load", timeout=10000):
        client.write_text(good)
    page.wait_for_function("window.SS && SS.client.app && SS.client.app.answer", timeout=10000)
    assert page.query_selector("#ss-dev-overlay") is None
    page.wait_for_function(CONNECTED)  # live-reload messages reach only connected pages

    # A broken stylesheet: overlay on save, still there after a reload (CSP allows no
    # inline script, so it comes from a script file), gone once fixed.
    good_styl = styl.read_text()
    styl.write_text(good_styl + "\nbody\n  color foo(\n")
    page.wait_for_selector("#ss-dev-overlay", timeout=10000)
    page.reload()
    assert "app/css/app.styl:" in page.wait_for_selector("#ss-dev-overlay", timeout=10000).inner_text()
    page.wait_for_function(CONNECTED)
    styl.write_text(good_styl)
    page.wait_for_selector("#ss-dev-overlay", state="detached", timeout=10000)
    assert errors == []


def test_production_pack(new_app, ss_server, browser):
    root = new_app("prodapp")
    # Unminified input, as development serves it (the baseline the pack must beat).
    dev = ss_server(root)
    dev_html = fetch(dev.url + "/")[0].decode()
    dev_urls = [u for u in re.findall(r'(?:src|href)="(/_ss/assets/[^"]+)"', dev_html) if "/dev.js" not in u]
    dev_sizes = {u: len(fetch(dev.url + u)[0]) for u in dev_urls + ["/_ss/client.js"]}
    unminified = sum(dev_sizes.values())
    unminified_app_js = sum(n for u, n in dev_sizes.items()
                            if re.search(r"/(app/(client|shared)/.*|templates\.js|client\.js)$", u))
    lib_js = sum(n for u, n in dev_sizes.items() if "/lib/client/" in u)  # *.min.js: packed as they are
    dev.stop()

    env = {"SS_ENV": "production"}
    packed = subprocess.run([sys.executable, "-m", "ss", "assets"], cwd=root, capture_output=True, text=True,
                            timeout=120, env={**os.environ, **env})
    assert packed.returncode == 0, packed.stderr + packed.stdout
    assert "packed in" in packed.stdout
    server = ss_server(root, env=env)

    html, headers = fetch(server.url + "/")
    html = html.decode()
    assert headers.get("etag")
    urls = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    # one script (client + lib + app) and one stylesheet
    assert len(urls) == 2 and "/_ss/assets/" not in html and "/_ss/client.js" not in html
    wire = 0
    for url in urls:
        body, info = fetch(server.url + url, {"Accept-Encoding": "gzip"})
        assert info["cache-control"] == "public, max-age=31536000, immutable"
        wire += len(body)
        text = gzip.decompress(body) if info.get("content-encoding") == "gzip" else body
        assert text == (root / "public" / url.lstrip("/")).read_bytes()
    assert wire <= 0.6 * unminified, (wire, unminified)

    app_js = next(u for u in urls if "/app-" in u and u.endswith(".js"))
    minified = len((root / "public" / app_js.lstrip("/")).read_bytes())
    assert minified - lib_js <= 0.6 * unminified_app_js, (minified, lib_js, unminified_app_js)  # minified alone, before gzip

    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'Connected'")
    assert page.evaluate("SS.tmpl['chat-message']({from: 'a', text: 'b'})") == "<li><strong>a:</strong> b</li>"
    assert page.evaluate("SS.shared.calculate && typeof SS.shared.calculate.circumference") == "function"
    assert not [u for u in requested if "/_ss/assets/" in u or u.endswith((".coffee", ".styl"))]
