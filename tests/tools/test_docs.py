"""The docs: the config reference matches ss/presets.py, and every link between docs resolves."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def test_the_config_reference_is_generated_from_the_presets():
    script = runpy.run_path(str(ROOT / "scripts" / "config_reference.py"))
    expected = script["render"]()
    assert (ROOT / "docs" / "config.md").read_text() == expected, \
        "docs/config.md is out of date: run `python scripts/config_reference.py`"
    from ss.presets import BASE

    for section in BASE:                 # every key is there, with a description
        assert f"## `{section}`" in expected
    assert "| `https.cert_name` | `\"site\"` | str |" in expected
    from ss.settings import SCHEMA, Key

    for key in SCHEMA.walk():                             # every key of the schema, with its type
        if isinstance(key, Key):
            assert f"| `{key.path}` | " in expected and f" | {key.type_name} | " in expected


def test_readme_and_docs_links_resolve():
    readme = (ROOT / "README.md").read_text()
    docs_section = readme.split("\n## Docs\n", 1)[1]
    linked = {ROOT / target for target in LINK.findall(docs_section)}
    assert linked == set((ROOT / "docs").glob("*.md"))   # every guide is linked, nothing dangles
    for page in (ROOT / "docs").glob("*.md"):
        for target in LINK.findall(page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def test_the_protocol_error_table_lists_every_code_with_its_status():
    import re
    from pathlib import Path

    from ss.errors import ErrorCode

    text = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", text, re.M))
    assert rows == {code.value: str(code.http_status) for code in ErrorCode}
