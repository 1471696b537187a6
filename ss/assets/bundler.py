"""Turning compiled pieces into what the browser loads: module wrappers,
error scripts, bundles and the HTML tags that replace ``!= SocketStream``."""
from __future__ import annotations

import hashlib
import json
from html import escape as html_escape

from .errors import CompileError
from .jade import ASSET_TAGS_MARKER, HTML_SOCKETSTREAM

CLIENT_JS_URL = "/_ss/client.js"


def client_js() -> bytes:
    """The browser client's source, built from its modules (ss/client_js): for the pack and digests."""
    from ..client_js import client_source

    return client_source()


def wrap_module(tree: str, name: str, code: str) -> str:
    """Emit one app/client or app/shared file as an SS.define call.

    The function scope keeps the file's private names private; ``exports`` is
    the fresh object SS.define mounts at SS.<tree>.<name> (``module.exports = x``
    replaces it, CommonJS style).
    """
    return f"SS.define({json.dumps(tree)}, {json.dumps(name)}, function (exports, module) {{\n{code.rstrip()}\n}});\n"


def error_js(error: CompileError) -> str:
    """What a broken JS asset becomes in development: show the overlay, log to the console."""
    data = json.dumps(error.to_dict()).replace("</", "<\\/")
    return (
        f"(function (e) {{ if (window.console) console.error('ss: ' + e.file + ':' + e.line + ':' + e.column + ' ' + e.message);"
        f" if (window.SS && SS.dev) SS.dev.showError(e); }})({data});\n"
    )


def error_css(error: CompileError) -> str:
    """A broken stylesheet in development: keep the page usable, say what broke at the top."""
    text = str(error).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ")
    return (f'body::before {{ content: "{text}"; display: block; white-space: pre-wrap; background: #fee; '
            'color: #900; font: 13px monospace; padding: 8px; }\n')


def join_js(pieces: list[str]) -> str:
    """Concatenate scripts safely: the ``;`` line stops a file without a trailing
    semicolon (or ending in a // comment) from gluing onto the next."""
    return "".join(p.rstrip() + "\n;\n" for p in pieces if p.strip())


def content_hash(data: str | bytes, length: int = 10) -> str:
    """Short sha256 of the content; used in URLs and file names."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:length]


def script_tag(src: str) -> str:
    """``<script src=...></script>`` with the URL escaped."""
    return f'<script src="{html_escape(src)}"></script>'


def css_tag(href: str) -> str:
    """The one stylesheet link the live reload swaps (``data-ss-css`` marks it)."""
    return f'<link rel="stylesheet" data-ss-css href="{html_escape(href)}">'


def insert_tags(layout_html: str, tags: str) -> str:
    """Put the asset tags where the layout says (``!= SocketStream`` / ``<SocketStream>``).

    A layout without the marker gets them at the end of <head> (or the start of
    the document), so a forgotten helper still gives a working page.
    """
    if ASSET_TAGS_MARKER in layout_html:
        return layout_html.replace(ASSET_TAGS_MARKER, tags, 1)
    if HTML_SOCKETSTREAM.search(layout_html):
        return HTML_SOCKETSTREAM.sub(lambda _m: tags, layout_html, count=1)
    lower = layout_html.lower()
    at = lower.find("</head>")
    if at < 0:
        return tags + layout_html
    return layout_html[:at] + tags + layout_html[at:]


DEFAULT_LAYOUT = (
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<SocketStream>\n</head>\n<body>\n</body>\n</html>\n"
)
