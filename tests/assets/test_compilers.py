"""Each compiler: good input compiles, bad input raises CompileError with its location."""
from __future__ import annotations

import pytest

from ss.assets.compilers import CSS, HTML, JS, kind_of
from ss.assets.errors import CompileError

from .conftest import write_files


async def test_coffee_compiles_bare(compilers, tmp_path):
    path = write_files(tmp_path, {"a.coffee": "square = (x) -> x * x\nexports.square = square\n"}) / "a.coffee"
    out = await compilers.compile(path)
    assert out.kind == JS
    assert "(function" not in out.text.split("\n")[0]  # bare: no top-level wrapper
    assert "var square;" in out.text and "exports.square = square;" in out.text


async def test_coffee_error_has_location(compilers, tmp_path):
    path = write_files(tmp_path, {"bad.coffee": "a = 1\nb = ->\n  c(\n"}) / "bad.coffee"
    with pytest.raises(CompileError) as info:
        await compilers.compile(path)
    err = info.value
    assert err.file == "bad.coffee" and err.line >= 3 and err.message


async def test_js_and_css_pass_through(compilers, tmp_path):
    write_files(tmp_path, {"a.js": "var a = `x${1}`;", "a.css": "p { color: red }"})
    assert (await compilers.compile(tmp_path / "a.js")).text == "var a = `x${1}`;"
    css = await compilers.compile(tmp_path / "a.css")
    assert css.kind == CSS and css.text == "p { color: red }"


async def test_stylus_with_nested_import(compilers, tmp_path):
    write_files(tmp_path, {
        "css/app.styl": '@import "parts/colors"\nbody\n  color main\n',
        "css/parts/colors.styl": "main = #abcdef\n",
    })
    out = await compilers.compile(tmp_path / "css/app.styl")
    assert out.kind == CSS and "color: #abcdef" in out.text
    assert any(d.name == "colors.styl" for d in out.deps)


async def test_stylus_error_has_location(compilers, tmp_path):
    path = write_files(tmp_path, {"app.styl": "body\n  color red\n  width foo(\n"}) / "app.styl"
    with pytest.raises(CompileError) as info:
        await compilers.compile(path)
    assert info.value.file == "app.styl" and info.value.line >= 3
    assert "expected \")\"" in info.value.message


async def test_stylus_missing_import_names_the_import(compilers, tmp_path):
    path = write_files(tmp_path, {"app.styl": '@import "nope"\n'}) / "app.styl"
    with pytest.raises(CompileError) as info:
        await compilers.compile(path)
    assert info.value.line == 1 and "nope" in info.value.message


@pytest.mark.parametrize("name,source", [
    ("a.scss", "$c: #111;\n.a { .b { color: $c; } }\n"),
    ("a.sass", "$c: #111\n.a\n  .b\n    color: $c\n"),
])
async def test_sass_both_syntaxes(compilers, tmp_path, name, source):
    out = await compilers.compile(write_files(tmp_path, {name: source}) / name)
    assert ".a .b {" in out.text and "color: #111" in out.text


async def test_sass_error_has_location(compilers, tmp_path):
    path = write_files(tmp_path, {"a.scss": ".a {\n  color: $nope;\n}\n"}) / "a.scss"
    with pytest.raises(CompileError) as info:
        await compilers.compile(path)
    assert (info.value.file, info.value.line, info.value.column) == ("a.scss", 2, 10)
    assert "Undefined variable" in info.value.message


async def test_jade_and_html(compilers, tmp_path):
    write_files(tmp_path, {"v.jade": 'ul\n  li(class:"x") ${name}\n', "v.html": "<p>${x}</p>", "w.pug": "p hi"})
    assert (await compilers.compile(tmp_path / "v.jade")).text == '<ul><li class="x">${name}</li></ul>'
    out = await compilers.compile(tmp_path / "v.html")
    assert out.kind == HTML and out.text == "<p>${x}</p>"
    assert (await compilers.compile(tmp_path / "w.pug")).text == "<p>hi</p>"


async def test_jade_error_has_line(compilers, tmp_path):
    path = write_files(tmp_path, {"v.jade": "div\n  p\n    span\n\t  bad\n"}) / "v.jade"
    with pytest.raises(CompileError) as info:
        await compilers.compile(path)
    assert info.value.file == "v.jade" and info.value.line == 4


async def test_unknown_extension(compilers, tmp_path):
    path = write_files(tmp_path, {"a.txt": "x"}) / "a.txt"
    assert kind_of(path) is None
    with pytest.raises(CompileError, match="no compiler"):
        await compilers.compile(path)


async def test_stylus_glob_and_index_imports(compilers, tmp_path):
    write_files(tmp_path, {
        "css/app.styl": '@import "parts/*"\n@import "theme"\n',
        "css/parts/a.styl": ".a\n  color red\n",
        "css/parts/b.styl": ".b\n  color blue\n",
        "css/theme/index.styl": ".theme\n  margin 0\n",
    })
    out = await compilers.compile(tmp_path / "css/app.styl")
    assert out.text.index(".a {") < out.text.index(".b {") < out.text.index(".theme {")
    assert {d.name for d in out.deps} >= {"a.styl", "b.styl", "index.styl"}
