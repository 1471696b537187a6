"""SS.tmpl: jQuery templates syntax compiled to JavaScript, run in Node."""
from __future__ import annotations

import json
import subprocess

import pytest

from ss.assets import node_runtime
from ss.assets.errors import CompileError
from ss.assets.templates import compile_template, runtime_js, script_tag


def render(templates: dict[str, str], call: str, data) -> str:
    """Define the templates in Node with the real runtime and return SS.tmpl[call](data)."""
    js = "var window = globalThis;\n" + runtime_js() + "\n"
    js += "".join(compile_template(tid, html, f"{tid}.html") for tid, html in templates.items())
    js += f"process.stdout.write(JSON.stringify(SS.tmpl[{json.dumps(call)}]({json.dumps(data)})));"
    out = subprocess.run(node_runtime.node_command() + ["-e", js], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_values_are_escaped():
    assert render({"t": "<p>${name}</p>"}, "t", {"name": "<b>Tom & 'Jerry'</b>"}) == \
        "<p>&lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;</p>"


def test_html_tag_is_raw_and_missing_values_are_empty():
    assert render({"t": "{{html body}}|${missing}|{{= n}}"}, "t", {"body": "<br>", "n": 0}) == "<br>||0"


def test_if_else_and_each():
    tpl = "{{if admin}}A{{else count > 1}}many{{else}}one{{/if}}:{{each items}}[${$index}=${$value}]{{/each}}" \
          "{{each(i, p) people}}<${p.name}>{{/each}}"
    data = {"admin": False, "count": 3, "items": ["x", "y"], "people": [{"name": "a"}]}
    assert render({"t": tpl}, "t", data) == "many:[0=x][1=y]<a>"


def test_nested_template_and_function_values():
    templates = {"outer": "<ul>{{each rows}}{{tmpl($value) \"#row\"}}{{/each}}</ul>", "row": "<li>${label}</li>"}
    assert render(templates, "outer", {"rows": [{"label": "1"}, {"label": "<2>"}]}) == "<ul><li>1</li><li>&lt;2&gt;</li></ul>"


@pytest.mark.parametrize("source,message,line", [
    ("a\n{{if x}}b", "never closed", 2),
    ("{{/each}}", "without a matching", 1),
    ("x\ny\n{{wrap}}", "unsupported", 3),
    ("${ }", "empty", 1),
])
def test_template_errors_have_lines(source, message, line):
    with pytest.raises(CompileError, match=message) as info:
        compile_template("t", source, "views/t.html")
    assert info.value.file == "views/t.html" and info.value.line == line


def test_script_tag_keeps_html_for_jquery_tmpl():
    assert script_tag("a-b", "<p>${x}</p><script></script>") == \
        '<script type="text/x-jquery-tmpl" id="a-b"><p>${x}</p><script><\\/script></script>'
