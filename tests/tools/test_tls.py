"""HTTPS: certificates (own, chained, generated), the redirect listener, the canonical domain, HSTS."""

from __future__ import annotations

import ssl
import stat

import pytest
import tornado.httpclient

from ss.testing import running_app
from ss.web.tls import CertificateError, generate_self_signed, load_certificate, ssl_context

ACTIONS = {"app/server/app.py": """
    import ss

    class Actions(ss.Actions):
        def square(self, number):
            return number * number
"""}


def test_a_self_signed_pair_is_generated_once_and_kept_out_of_git(make_app):
    root = make_app(ACTIONS)
    first = load_certificate(root, "site")
    assert first.self_signed and first.subject == "localhost"
    folder = root / "config" / "ssl_certs" / "self_signed"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    pem = first.cert.read_bytes()
    again = load_certificate(root, "site")
    assert again.cert.read_bytes() == pem          # reused, not regenerated: browser exceptions stick
    assert "self-signed" in again.describe(root) and "never commit" in again.describe(root)
    assert isinstance(ssl_context(again, root), ssl.SSLContext)


def test_the_apps_own_certificate_and_chain_win(make_app):
    root = make_app(ACTIONS)
    certs = root / "config" / "ssl_certs"
    generate_self_signed(certs / "shop.key.pem", certs / "shop.cert.pem", host="www.example.com")
    generate_self_signed(certs / "ca.key.pem", certs / "shop.ca.pem", host="Example Intermediate CA")
    cert = load_certificate(root, "shop")
    assert not cert.self_signed and cert.subject == "www.example.com"
    assert cert.ca == certs / "shop.ca.pem"
    assert "config/ssl_certs/shop.cert.pem + chain config/ssl_certs/shop.ca.pem" in cert.describe(root)
    ssl_context(cert, root)
    assert not (certs / "self_signed").exists()


def test_half_a_pair_and_a_foreign_key_are_refused_with_what_to_do(make_app):
    root = make_app(ACTIONS)
    certs = root / "config" / "ssl_certs"
    generate_self_signed(certs / "site.key.pem", certs / "other.cert.pem")
    with pytest.raises(CertificateError, match=r"config/ssl_certs/site.cert.pem is missing"):
        load_certificate(root, "site")
    generate_self_signed(certs / "spare.key.pem", certs / "site.cert.pem")  # a cert whose key is another
    with pytest.raises(CertificateError, match="belongs to the .cert.pem"):
        ssl_context(load_certificate(root, "site"), root)
    (certs / "site.cert.pem").write_text("not a certificate")
    with pytest.raises(CertificateError, match="is not a PEM certificate"):
        load_certificate(root, "site")


async def fetch(url: str, **kwargs) -> tornado.httpclient.HTTPResponse:
    client = tornado.httpclient.AsyncHTTPClient()
    return await client.fetch(url, raise_error=False, follow_redirects=False, validate_cert=False, **kwargs)


async def test_https_serves_the_app_and_plain_http_redirects(make_app):
    root = make_app(ACTIONS)
    overrides = {"https": {"enabled": True, "port": 0, "domain": "localhost"}}
    async with running_app(root, overrides=overrides) as running:
        server = running.server
        https, http = server.port, server.redirect_port
        assert http is not None and http != https
        page = await fetch(f"https://localhost:{https}/api/app/square.json?9")
        assert page.code == 200 and page.body == b"81"
        assert "Strict-Transport-Security" not in page.headers   # never HSTS in development/test
        # Plain HTTP: the page goes to https (302 outside production), the HTTP API still answers.
        moved = await fetch(f"http://127.0.0.1:{http}/chat?room=1")
        assert moved.code == 302 and moved.headers["Location"] == f"https://localhost:{https}/chat?room=1"
        api = await fetch(f"http://127.0.0.1:{http}/api/app/square.json?5")
        assert api.code == 200 and api.body == b"25"
        # Another host name on the TLS port goes to the certificate's domain.
        stray = await fetch(f"https://127.0.0.1:{https}/api/app/square.json?2")
        assert stray.code == 302 and stray.headers["Location"] == f"https://localhost:{https}/api/app/square.json?2"


async def test_production_sends_hsts_and_https_only_apis_leave_http(make_app):
    root = make_app(ACTIONS)
    overrides = {"https": {"enabled": True, "port": 0}, "api": {"https_only": True}}
    async with running_app(root, env="production", overrides=overrides) as running:
        https, http = running.server.port, running.server.redirect_port
        answer = await fetch(f"https://127.0.0.1:{https}/api/app/square.json?4")
        assert answer.code == 200 and answer.body == b"16"
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        api = await fetch(f"http://127.0.0.1:{http}/api/app/square.json?4")
        assert api.code == 301 and api.headers["Location"] == f"https://127.0.0.1:{https}/api/app/square.json?4"


async def test_without_redirect_http_only_the_tls_port_listens(make_app):
    root = make_app(ACTIONS)
    async with running_app(root, overrides={"https": {"enabled": True, "port": 0, "redirect_http": False}}) as running:
        assert running.server.redirect_port is None
        answer = await fetch(f"https://127.0.0.1:{running.server.port}/api/app/square.json?3")
        assert answer.body == b"9"


async def test_the_test_tools_speak_https_and_wss_to_a_tls_app(make_app):
    root = make_app(ACTIONS)
    async with running_app(root, overrides={"https": {"enabled": True, "port": 0, "redirect_http": False}}) as running:
        assert running.url.startswith("https://") and running.socket_url.startswith("wss://")
        assert (await running.fetch("/api/app/square.json?5")).body == b"25"
        async with running.client() as client:
            assert await client.call("app.square", 11) == 121
