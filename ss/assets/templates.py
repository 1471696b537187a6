"""Views as client-side templates.

Each view is emitted twice, like the seed plus one: as
``<script type="text/x-jquery-tmpl" id="...">`` for ``$("#id").tmpl(data)``,
and as a JavaScript function ``SS.tmpl["id"](data)`` compiled here, at build
time, from the jQuery templates syntax (``${x}`` escaped, ``{{html x}}`` raw,
``{{if}}/{{else}}/{{/if}}``, ``{{each(i, v) list}}``, ``{{tmpl(d) "#id"}}``,
``{{! comment}}``). Compiling on the server means syntax errors surface with a
line number before the browser sees them and the page needs no ``eval``.
The small runtime the functions call is ss/client_js/templates.js.
"""
from __future__ import annotations

import json
import re
from html import escape as html_escape
from pathlib import Path

from .errors import CompileError

RUNTIME_JS = Path(__file__).resolve().parent.parent / "client_js" / "templates.js"

_TOKEN = re.compile(r"\$\{((?:[^}]|\}(?!\}))*?)\}|\{\{(/?)(\w+|=|!)((?:[^}]|\}(?!\}))*)\}\}")
_PAREN_ARGS = re.compile(r"^\s*\(([^)]*)\)\s*(.*)$", re.S)


def script_tag(template_id: str, html: str) -> str:
    """The ``text/x-jquery-tmpl`` script element jQuery templates reads."""
    # A literal </script> inside would end the element early.
    body = html.replace("</script", "<\\/script")
    return f'<script type="text/x-jquery-tmpl" id="{html_escape(template_id)}">{body}</script>'


def _js(text: str) -> str:
    # ensure_ascii also escapes U+2028/2029, which older JS parsers treat as newlines
    return json.dumps(text).replace("</", "<\\/")


def _value(expr: str) -> str:
    return f"$rt.value(function () {{ return ({expr.strip()}); }}, $data)"


def compile_template(template_id: str, html: str, file: str = "") -> str:
    """JavaScript that defines ``SS.tmpl[template_id]``. Raises CompileError on bad tags."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    pos = 0

    def line_of(offset: int) -> int:
        return html.count("\n", 0, offset) + 1

    def fail(message: str, offset: int) -> CompileError:
        return CompileError(file or template_id, message, line_of(offset), offset - html.rfind("\n", 0, offset))

    for m in _TOKEN.finditer(html):
        if m.start() > pos:
            out.append(f"$o += {_js(html[pos:m.start()])};")
        pos = m.end()
        if m.group(1) is not None:
            if not m.group(1).strip():
                raise fail("empty ${} expression", m.start())
            out.append(f"$o += $rt.escape({_value(m.group(1))});")
            continue
        closing, tag, rest = m.group(2), m.group(3), m.group(4)
        if tag == "!":
            continue
        if closing:
            if not stack or stack[-1][0] != tag:
                raise fail(f"{{{{/{tag}}}}} without a matching {{{{{tag}}}}}", m.start())
            stack.pop()
            out.append("});" if tag == "each" else "}")
            continue
        if tag == "=":
            out.append(f"$o += $rt.escape({_value(rest)});")
        elif tag == "html":
            out.append(f"$o += $rt.text({_value(rest)});")
        elif tag == "if":
            if not rest.strip():
                raise fail("{{if}} needs a condition", m.start())
            stack.append(("if", m.start()))
            out.append(f"if ({_value(rest)}) {{")
        elif tag == "else":
            if not stack or stack[-1][0] != "if":
                raise fail("{{else}} outside {{if}}", m.start())
            out.append(f"}} else if ({_value(rest)}) {{" if rest.strip() else "} else {")
        elif tag == "each":
            names, expr = "$index, $value", rest
            if pm := _PAREN_ARGS.match(rest):
                names, expr = pm.group(1).strip() or names, pm.group(2)
                if len(names.split(",")) == 1:
                    names += ", $value"
            if not expr.strip():
                raise fail("{{each}} needs a list", m.start())
            stack.append(("each", m.start()))
            out.append(f"$rt.each({_value(expr)}, function ({names}) {{")
        elif tag == "tmpl":
            data, name = "$data", rest
            if pm := _PAREN_ARGS.match(rest):
                data, name = (pm.group(1).strip() and _value(pm.group(1))) or "$data", pm.group(2)
            target = name.strip() or '""'
            out.append(f"$o += $rt.sub({target}, {data});")
        else:
            raise fail(f"unsupported template tag {{{{{tag}}}}}", m.start())
    if stack:
        tag, offset = stack[-1]
        raise fail(f"{{{{{tag}}}}} is never closed", offset)
    if pos < len(html):
        out.append(f"$o += {_js(html[pos:])};")
    body = "\n    ".join(out)
    return (
        f"SS.tmpl[{_js(template_id)}] = function (data) {{\n"
        f"  var $data = data == null ? {{}} : data, $rt = SS.tmpl._runtime, $o = \"\";\n"
        f"  with ($data) {{\n    {body}\n  }}\n  return $o;\n}};\n"
    )


def runtime_js() -> str:
    """The SS.tmpl runtime (escape, each, nested templates)."""
    return RUNTIME_JS.read_text(encoding="utf-8")
