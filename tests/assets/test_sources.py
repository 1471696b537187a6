"""Which files make up the assets, and their order."""
from __future__ import annotations

import pytest

from ss.assets import sources
from ss.assets.compilers import CSS, JS
from ss.assets.errors import CompileError

from .conftest import write_files


def names(paths):
    return [p.name for p in paths]


def test_lib_numeric_prefix_order(tmp_path):
    write_files(tmp_path, {f"lib/client/{n}": "" for n in
                           ["10.x.js", "2.jquery-ui.js", "1.jquery.js", "helpers.js", "3.b.coffee", "notes.txt", ".hidden.js"]})
    assert names(sources.lib_files(tmp_path, JS)) == ["1.jquery.js", "2.jquery-ui.js", "3.b.coffee", "10.x.js", "helpers.js"]


def test_lib_css_order(tmp_path):
    write_files(tmp_path, {"lib/css/2.theme.css": "", "lib/css/1.reset.css": "", "lib/css/11.late.styl": ""})
    assert names(sources.lib_files(tmp_path, CSS)) == ["1.reset.css", "2.theme.css", "11.late.styl"]


def test_min_files_are_recognised():
    assert sources.is_minified(sources.Path("1.jquery.min.js"))
    assert not sources.is_minified(sources.Path("admin.js"))


def test_vendor_libraries(tmp_path):
    write_files(tmp_path, {"vendor/zed/lib/zed.js": "", "vendor/abc/lib/abc.coffee": "", "vendor/abc/lib/other.js": "",
                           "vendor/empty/README": ""})
    assert [p.relative_to(tmp_path).as_posix() for p in sources.vendor_files(tmp_path)] == [
        "vendor/abc/lib/abc.coffee", "vendor/zed/lib/zed.js"]


def test_modules_named_by_path(tmp_path):
    write_files(tmp_path, {"app/client/app.coffee": "", "app/client/people/customers.js": "",
                           "app/client/people/admins/list.coffee": "", "app/client/readme.md": ""})
    mods = sources.modules(tmp_path, "client")
    assert [(m.tree, m.name) for m in mods] == [("client", "app"), ("client", "people/admins/list"),
                                                ("client", "people/customers")]


def test_file_and_folder_with_one_name_clash(tmp_path):
    write_files(tmp_path, {"app/client/foo.coffee": "", "app/client/foo/bar.coffee": ""})
    with pytest.raises(CompileError, match="clash") as info:
        sources.modules(tmp_path, "client")
    assert info.value.file == "app/client/foo.coffee"


def test_two_files_for_one_module_clash(tmp_path):
    write_files(tmp_path, {"app/shared/calc.js": "", "app/shared/calc.coffee": ""})
    with pytest.raises(CompileError, match="both define SS.shared.calc"):
        sources.modules(tmp_path, "shared")


@pytest.mark.parametrize("path,expected", [
    ("people/customers/info.jade", "people-customers-info"),
    ("message.html", "message"),
    ("a/b.pug", "a-b"),
])
def test_template_ids(path, expected):
    assert sources.template_id(path) == expected


def test_templates_exclude_the_layout(tmp_path):
    write_files(tmp_path, {"app/views/app.jade": "", "app/views/chat/message.jade": "", "app/views/x.html": "",
                           "app/views/notes.txt": ""})
    assert [t.id for t in sources.templates(tmp_path)] == ["chat-message", "x"]
    assert sources.layout(tmp_path).name == "app.jade"


def test_duplicate_template_ids(tmp_path):
    write_files(tmp_path, {"app/views/a/b.jade": "", "app/views/a-b.html": ""})
    with pytest.raises(CompileError, match="template id 'a-b'"):
        sources.templates(tmp_path)


def test_css_entries(tmp_path):
    write_files(tmp_path, {"app/css/app.styl": "", "app/css/vars.styl": ""})
    assert names(sources.css_entries(tmp_path)) == ["app.styl"]
    (tmp_path / "app/css/app.styl").unlink()
    write_files(tmp_path, {"app/css/_partial.scss": "", "app/css/main.scss": ""})
    assert names(sources.css_entries(tmp_path)) == ["main.scss", "vars.styl"]
