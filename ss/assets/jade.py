"""Jade/Pug views: a pre-pass for 2011 Jade syntax, then pypugjs to HTML.

SocketStream 0.1 apps were written for Jade 0.x, which pypugjs no longer reads:
``!!! 5`` for the doctype, ``html(lang:"en")`` with colons in attribute lists,
``script``/``style`` tags whose indented body is raw text without a trailing
dot, and ``!= SocketStream`` for the asset tags. ``prepass`` rewrites these
into modern Pug, line by line, leaving everything else as written.
"""
from __future__ import annotations

import re

import pypugjs.parser
from pypugjs.ext.html import Compiler

from .errors import CompileError

# What `!= SocketStream` (or <SocketStream> in HTML) becomes until the pipeline
# swaps in the real tags; an HTML comment survives any renderer untouched.
ASSET_TAGS_MARKER = "<!--ss:asset-tags-->"

_DOCTYPE = re.compile(r"^(\s*)!!!\s*(\S*)\s*$")
_SOCKETSTREAM = re.compile(r"^(\s*)!?=\s*SocketStream\s*$")
# A tag (or bare .class / #id) at the start of a line, or after "tag: " block expansion.
_TAG_OPEN = re.compile(r"(?:^\s*|:\s+)(?:[A-Za-z][\w\-:]*)?(?:[.#][\w\-]+)*\(")
_RAW_TEXT_TAG = re.compile(r"^(\s*)(script|style)\b([^\s.]*)(\(.*\))?\s*$")
_KEY_CHARS = re.compile(r"[\w\-:@.\[\]]+")
# A line ending in "." after a tag (``script.``, ``p(class="x").``): a block of raw text follows.
_TEXT_BLOCK_START = re.compile(r"^\s*[\w\-#.:]*(\(.*\))?\.\s*$")
HTML_SOCKETSTREAM = re.compile(r"<SocketStream\s*/?>", re.IGNORECASE)


def prepass(source: str) -> str:
    """Rewrite old Jade constructs into Pug that pypugjs understands."""
    lines = source.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    raw_indent: int | None = None  # inside a text block: lines indented deeper than this stay verbatim
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if raw_indent is not None:
            if not line.strip() or indent > raw_indent:
                out.append(line)
                continue
            raw_indent = None
        if m := _DOCTYPE.match(line):
            kind = m.group(2)
            line = f"{m.group(1)}doctype {'html' if kind in ('', '5') else kind}"
        elif m := _SOCKETSTREAM.match(line):
            line = f"{m.group(1)}| {ASSET_TAGS_MARKER}"
        else:
            line = _fix_attribute_colons(line)
            if _RAW_TEXT_TAG.match(line) and _has_children(lines, index, indent):
                line = line.rstrip() + "."
            if line.rstrip().endswith(".") and _TEXT_BLOCK_START.match(line):
                raw_indent = indent
        out.append(line)
    return "\n".join(out)



def _has_children(lines: list[str], index: int, indent: int) -> bool:
    for following in lines[index + 1:]:
        if following.strip():
            return len(following) - len(following.lstrip()) > indent
    return False


def _fix_attribute_colons(line: str) -> str:
    """``a(href: "/x", class:"y")`` -> ``a(href= "/x", class="y")``; ``xlink:href=`` stays."""
    result = []
    pos = 0
    for match in _TAG_OPEN.finditer(line):
        if match.start() < pos:
            continue
        start = match.end()  # just after "("
        end = _matching_paren(line, start)
        if end is None:
            break
        result.append(line[pos:start])
        result.append(_rewrite_attrs(line[start:end]))
        pos = end
    result.append(line[pos:])
    return "".join(result)


def _matching_paren(line: str, start: int) -> int | None:
    depth, quote, i = 1, "", start
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _rewrite_attrs(attrs: str) -> str:
    out, i, expect_key, quote, depth = [], 0, True, "", 0
    while i < len(attrs):
        ch = attrs[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(attrs):
                out.append(attrs[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
                expect_key = depth == 0
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif ch in "([{":
            depth += 1
            out.append(ch)
        elif ch in ")]}":
            depth -= 1
            out.append(ch)
        elif depth == 0 and ch == ",":
            expect_key = True
            out.append(ch)
        elif depth == 0 and expect_key and (m := _KEY_CHARS.match(attrs, i)):
            key = m.group(0)
            rest = attrs[m.end():].lstrip()
            if key.endswith(":") and not rest.startswith("="):
                key = key[:-1] + "="
            out.append(key)
            i = m.end()
            expect_key = False
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def render(source: str, filename: str) -> str:
    """Render Jade/Pug source to HTML. Raises CompileError with the line found."""
    parser = pypugjs.parser.Parser(prepass(source))
    try:
        block = parser.parse()
        return Compiler(block, pretty=False).compile().strip()
    except Exception as exc:  # pypugjs raises bare Exception / TypeError for syntax errors
        line = getattr(parser.lexer, "lineno", 0) or 0
        raise CompileError(filename, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc), line, 0) from exc
