"""``POST /_ss/csp-report``: Content-Security-Policy violations, logged where developers look.

Browsers send one report per violation of either policy (ss/web/base.py). Each is
logged once with what was blocked (or, Report-Only, would have been), on which page,
and the setting that decides it. Reports come from anyone's browser, so a body is
at most MAX_REPORT_BYTES, at most ``security.csp_reports_per_minute`` are logged per
minute (the rest are counted and the count logged), and the logged text is cut
short and stripped of control characters.
"""

from __future__ import annotations

import json
import logging
import re
import time

import tornado.web

from .base import BaseHandler

log = logging.getLogger("ss.csp")

MAX_REPORT_BYTES = 16 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ReportBudget:
    """How many reports may still be logged this minute; one per process, shared by requests."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = max(0, int(per_minute))
        self.clock = clock
        self._window = clock()
        self._used = 0
        self.dropped = 0

    def take(self) -> bool:
        now = self.clock()
        if now - self._window >= 60:
            if self.dropped:
                log.warning("%d more CSP violation reports in the last minute were not logged "
                            "(security.csp_reports_per_minute = %d)", self.dropped, self.per_minute)
            self._window, self._used, self.dropped = now, 0, 0
        if self._used < self.per_minute:
            self._used += 1
            return True
        self.dropped += 1
        return False


def _clean(value, limit: int = 200) -> str:
    text = _CONTROL.sub(" ", str(value if value is not None else "")).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _reports(body: bytes) -> list[dict]:
    """The violation reports in a body: report-uri's {"csp-report": {...}} or a Reporting API list."""
    data = json.loads(body)
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    if isinstance(data, list):
        found: list[dict] = []
        for item in data:
            report = item.get("body") if isinstance(item, dict) else None
            if isinstance(report, dict):  # Reporting API names the same fields in camelCase
                found.append({"effective-directive": report.get("effectiveDirective"), "blocked-uri": report.get("blockedURL"),
                              "document-uri": report.get("documentURL"), "source-file": report.get("sourceFile"),
                              "line-number": report.get("lineNumber"), "disposition": report.get("disposition")})
        return found
    return []


def describe(report: dict) -> str:
    """One log line: what was (or would be) blocked, where, and the setting to change."""
    directive = _clean(report.get("effective-directive") or report.get("violated-directive") or "?", 60)
    blocked = _clean(report.get("blocked-uri") or "?")
    what = {"inline": "an inline script or event handler (onclick=, onsubmit=, <script> without src)",
            "eval": "eval() or new Function()"}.get(blocked, blocked)
    where = _clean(report.get("source-file") or report.get("document-uri") or "?")
    if report.get("line-number"):
        where += f":{_clean(report.get('line-number'), 12)}"
    if report.get("disposition") == "report":
        return (f"CSP (report only, nothing was blocked): {what} at {where} breaks {directive} of "
                "security.script_policy; it would be blocked with security.enforce_script_policy = True. "
                "Move it into app/client (addEventListener instead of on...=) or allow it in security.script_policy")
    return (f"CSP blocked {what} at {where} ({directive}): allow it in security.script_policy or "
            "security.content_security_policy, or set security.enforce_script_policy = False to only report it")


@tornado.web.stream_request_body
class CspReportHandler(BaseHandler):
    """Logs the violation reports browsers send; always answers without a body."""

    def initialize(self, app, budget: ReportBudget | None = None) -> None:  # a default keeps BaseHandler's signature
        super().initialize(app)
        assert budget is not None  # the route always passes one (ss.web.application)
        self.budget = budget
        self._chunks: list[bytes] = []
        self._size = 0

    def prepare(self) -> None:
        # Streaming, so an oversized body is refused before it is read into memory.
        if self.request.method == "POST":
            try:
                declared = int(self.request.headers.get("Content-Length", "0"))
            except ValueError:
                declared = 0
            if declared > MAX_REPORT_BYTES:
                raise tornado.web.HTTPError(413)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_REPORT_BYTES:
            self._chunks.append(chunk)

    def post(self) -> None:
        if self._size > MAX_REPORT_BYTES:
            raise tornado.web.HTTPError(413)
        try:
            reports = _reports(b"".join(self._chunks))
        except (ValueError, AttributeError):
            raise tornado.web.HTTPError(400) from None
        for report in reports:
            if not self.budget.take():
                self.set_status(429)
                break
            log.warning("%s", describe(report))
        else:
            self.set_status(204)
        self.finish()
