"""ss's log levels 0-4, mapped onto Python logging under the "ss" logger.

0 nothing, 1 errors and warnings, 2 + start-up and info, 3 + every call and
reply (development), 4 + debug detail (pub/sub, assets, sessions).

``log.format`` picks the line format: ``"text"`` (the default, for people) or
``"json"``: one JSON object per line for a log pipeline, with ``time`` (ISO 8601,
UTC), ``level``, ``logger``, ``message``, ``pid``, the fields a record carries
(calls: ``action``, ``duration_ms``, ``code``, ``connection``; never a session
id) and ``exc`` (the traceback) when there is one. In JSON mode Tornado's and
asyncio's own records go through the same formatter, so every line parses.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import orjson

CALLS = 15  # between DEBUG and INFO: incoming calls and outgoing replies
logging.addLevelName(CALLS, "CALL")

_LEVELS = {0: logging.CRITICAL + 10, 1: logging.WARNING, 2: logging.INFO, 3: CALLS, 4: logging.DEBUG}


def python_level(level: int) -> int:
    return _LEVELS[max(0, min(4, int(level)))]


FORMATS = ("text", "json")

#: record attributes a JSON line carries when set (``extra=`` of a log call); nothing else is copied
FIELDS = ("action", "duration_ms", "code", "connection", "transport", "remote_ip", "worker", "status")


def json_line(level: str, logger: str, message: str, **fields) -> str:
    """One JSON log line, for what ss prints outside logging (the start-up banner) in JSON mode."""
    now = time.time()
    record = {"time": _iso(now), "level": level, "logger": logger, "message": message, "pid": os.getpid()}
    record.update(fields)
    return orjson.dumps(record, default=str).decode()


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """``log.format = "json"``: one JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": _iso(record.created), "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage(), "pid": record.process}
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


TEXT_FORMATTER = ("%(asctime)s %(levelname).1s %(name)s: %(message)s", "%H:%M:%S")


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known log.format, else ValueError saying which ones are."""
    if fmt not in FORMATS:
        raise ValueError(f"log.format must be \"text\" or \"json\", not {fmt!r}")
    return fmt


def configure(level: int, stream=None, fmt: str = "text") -> None:
    """Send ss's logs to stderr at ss level ``level`` (0-4), as ``fmt`` lines ("text" or "json")."""
    check_format(fmt)
    logger = logging.getLogger("ss")
    logger.setLevel(python_level(level))
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(*TEXT_FORMATTER)
    handler = next((h for h in logger.handlers if getattr(h, "_ss", False)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._ss = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    elif stream is not None and isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    handler.setFormatter(formatter)
    logger.propagate = False
    for name in ("tornado", "asyncio", "watchdog"):  # watchdog: the development file watcher's thread
        other = logging.getLogger(name)
        if fmt == "json":  # their records too, so every line parses
            if handler not in other.handlers:
                other.addHandler(handler)
            other.propagate = False
        elif handler in other.handlers:
            other.removeHandler(handler)
            other.propagate = True
    # Tornado logs each request at INFO; keep those for level 4 only.
    logging.getLogger("tornado.access").setLevel(logging.INFO if level >= 4 else logging.WARNING)
