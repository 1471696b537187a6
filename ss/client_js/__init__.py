"""The browser client, served as ``/_ss/client.js``, built from the modules in ``modules/``.

Each module file holds top-level function declarations only (``main.js`` last wires them
into the ``SS`` global), so the build is a plain concatenation, in ``MODULES`` order,
inside one function: nothing leaks into the page but ``SS``. There is no build tool and
no generated file: the source is joined when asked for, and joined again only when a
module file changed (cheap enough to ask on every request in development).

The unit tests (tests/client_js/) load the module files one by one under Node.
"""

from __future__ import annotations

import threading
from pathlib import Path

__all__ = ["MODULES", "MODULES_DIR", "client_source"]

MODULES_DIR = Path(__file__).with_name("modules")

# Dependencies first is not required (function declarations are hoisted), but main.js runs
# code at load, so it must come after everything it calls.
MODULES = (
    "log",
    "emitter",
    "define",
    "escape",
    "reconnect",
    "transport",
    "httptransport",
    "fallback",
    "heartbeat",
    "calls",
    "clientcalls",
    "events",
    "presence",
    "session",
    "devhooks",
    "connection",
    "main",
)

_HEADER = """\
/* ss browser client: one WebSocket, SS.server calls, events, client/shared API trees.
 * Built from ss/client_js/modules/*.js; the wire protocol is in docs/protocol.md. */
(function (global) {
"use strict";
"""
_FOOTER = "})(typeof window !== \"undefined\" ? window : this);\n"

_lock = threading.Lock()
_cache: tuple[tuple, bytes] | None = None


def _stamp(paths: list[Path]) -> tuple:
    return tuple((st.st_mtime_ns, st.st_size) for st in (p.stat() for p in paths))


def client_source() -> bytes:
    """The whole client as one script (UTF-8)."""
    global _cache
    paths = [MODULES_DIR / f"{name}.js" for name in MODULES]
    stamp = _stamp(paths)
    with _lock:
        if _cache is not None and _cache[0] == stamp:
            return _cache[1]
        parts = [_HEADER]
        for name, path in zip(MODULES, paths):
            parts.append(f"\n/* ---- {name}.js ---- */\n")
            parts.append(path.read_text(encoding="utf-8"))
        parts.append(_FOOTER)
        body = "".join(parts).encode("utf-8")
        _cache = (stamp, body)
        return body
