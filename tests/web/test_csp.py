"""Issue: the default Content-Security-Policy broke a real SocketStream app (an inline
``onsubmit="return false"`` was blocked and only the console said why). The default now
enforces the protections that matter (frame-ancestors, object-src, base-uri, form-action),
sends the script policy Report-Only (no 'unsafe-eval': templates are compiled at build
time), enforced by one setting, and violations reach a size- and rate-limited report endpoint."""

from __future__ import annotations

import json
import logging

import pytest

from ss.testing import running_app

FILES = {
    "app/server/app.py": "import ss\n\nclass Actions(ss.Actions):\n    def square(self, n):\n        return n * n\n",
    "app/views/app.html": "<!DOCTYPE html><html><head><SocketStream></head><body>"
                          "<form onsubmit=\"return false\"><button>go</button></form></body></html>",
}

REPORT = {"csp-report": {"document-uri": "http://127.0.0.1/", "violated-directive": "script-src-attr",
                         "effective-directive": "script-src-attr", "blocked-uri": "inline",
                         "disposition": "report", "source-file": "http://127.0.0.1/", "line-number": 1,
                         "original-policy": "script-src 'self'"}}


def directives(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            found[name] = value
    return found


@pytest.fixture
def app_root(make_app):
    return make_app(FILES)


async def test_default_csp_breaks_a_real_socketstream_app(app_root):
    async with running_app(app_root, "test", {"redis": {"enabled": False}}, assets=True) as app:
        page = await app.fetch("/")
    assert page.code == 200
    enforced = directives(page.headers["Content-Security-Policy"])
    # what matters stays enforced...
    assert enforced["frame-ancestors"] == "'self'" and enforced["object-src"] == "'none'"
    assert enforced["base-uri"] == "'self'"
    # ...and the script policy, which old apps' inline handlers break, is reported instead
    assert "script-src" not in enforced and "default-src" not in enforced
    report_only = directives(page.headers["Content-Security-Policy-Report-Only"])
    assert report_only["script-src"] == "'self'"  # no 'unsafe-eval', no 'unsafe-inline'
    assert report_only["report-uri"] == "/_ss/csp-report"


async def test_one_setting_enforces_the_script_policy(app_root):
    overrides = {"redis": {"enabled": False}, "security": {"enforce_script_policy": True}}
    async with running_app(app_root, "test", overrides, assets=True) as app:
        page = await app.fetch("/")
    enforced = directives(page.headers["Content-Security-Policy"])
    assert enforced["script-src"] == "'self'" and enforced["frame-ancestors"] == "'self'"
    assert "Content-Security-Policy-Report-Only" not in page.headers


async def test_csp_report_is_logged_with_the_setting_to_change(app_root, caplog):
    async with running_app(app_root, "production", {"redis": {"enabled": False}}) as app:
        with caplog.at_level(logging.WARNING, logger="ss.csp"):
            answer = await app.fetch("/_ss/csp-report", method="POST", body=json.dumps(REPORT),
                                     headers={"Content-Type": "application/csp-report"})
    assert answer.code == 204
    text = caplog.text
    assert "script-src-attr" in text and "inline" in text
    assert "security.enforce_script_policy" in text


async def test_csp_reports_are_size_and_rate_limited(app_root, caplog):
    overrides = {"redis": {"enabled": False}, "security": {"csp_reports_per_minute": 3}}
    async with running_app(app_root, "production", overrides) as app:
        big = await app.fetch("/_ss/csp-report", method="POST", body=b"x" * (64 * 1024),
                              headers={"Content-Type": "application/csp-report"})
        assert big.code == 413
        with caplog.at_level(logging.WARNING, logger="ss.csp"):
            for _ in range(10):
                answer = await app.fetch("/_ss/csp-report", method="POST", body=json.dumps(REPORT),
                                         headers={"Content-Type": "application/csp-report"})
                assert answer.code in (204, 429)
    logged = [r for r in caplog.records if "script-src-attr" in r.getMessage()]
    assert len(logged) == 3
