"""What ss's HTTP handlers share: the headers every HTML page gets, and error answers without tracebacks."""

from __future__ import annotations

import tornado.httputil
import tornado.web


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}

# Where browsers send Content-Security-Policy violations (ss/web/csp.py logs them).
CSP_REPORT_PATH = "/_ss/csp-report"


def _join(*policies: str) -> str:
    return "; ".join(p.strip().rstrip(";").strip() for p in policies if p and p.strip())


def csp_headers(config) -> dict[str, str]:
    """The CSP headers of a page: security.content_security_policy enforced, and
    security.script_policy enforced with it or, by default, Report-Only. Both report
    violations, so they reach the server log and not only the browser console."""
    enforced = config.security.content_security_policy
    script = config.security.script_policy
    report = f"report-uri {CSP_REPORT_PATH}"
    headers = {}
    if config.security.enforce_script_policy:
        enforced, script = _join(enforced, script), ""
    if enforced:
        headers["Content-Security-Policy"] = _join(enforced, report)
    if script:
        headers["Content-Security-Policy-Report-Only"] = _join(script, report)
    return headers


def add_security_headers(handler: tornado.web.RequestHandler) -> None:
    """Headers every HTML response gets: nosniff, referrer policy, framing, and the CSP from config."""
    for name, value in SECURITY_HEADERS.items():
        handler.set_header(name, value)
    for name, value in csp_headers(handler.app.config).items():  # type: ignore[attr-defined]
        handler.set_header(name, value)


class BaseHandler(tornado.web.RequestHandler):
    """ss's HTTP handlers: know the app, answer errors without leaking tracebacks."""

    def initialize(self, app) -> None:
        self.app = app

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {tornado.httputil.responses.get(status_code, 'Error')}\n")
