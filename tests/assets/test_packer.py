"""Production packs: names, minification, gzip, index.html, state file, old packs removed."""
from __future__ import annotations

import gzip
import json
import re

import pytest

from ss.assets import AssetPipeline, PackError
from ss.assets.packer import ensure_pack, is_fresh, pack, state_file

from .conftest import write_files

BIG_CLIENT = "\n".join(
    f"helper{i} = (someArgument, anotherArgument) ->\n  someArgument * anotherArgument + {i}\n" for i in range(50)
) + "\nexports.total = -> helper1(2, 3) + helper2(3, 4)\n"
BIG_CSS = "\n".join(f".block-{i}\n  margin 0 auto\n  padding {i}px\n  color c\n" for i in range(60))


@pytest.fixture
def big_app(sample_app):
    return write_files(sample_app, {"app/client/big.coffee": BIG_CLIENT, "app/css/app.styl": '@import "vars"\n' + BIG_CSS,
                                    "lib/client/3.plain.js": "function addNumbers(firstNumber, secondNumber) {\n"
                                                             "  return firstNumber + secondNumber;\n}\n"})


async def test_pack_writes_hashed_minified_bundles(big_app, worker):
    result = await pack(big_app, {}, worker=worker)
    assets = big_app / "public" / "assets"
    names = sorted(p.name for p in assets.iterdir() if not p.name.startswith("."))
    assert len([n for n in names if re.fullmatch(r"app-[0-9a-f]{10}\.(js|css)", n)]) == 2
    for f in result.files.values():
        data = f.path.read_bytes()
        assert gzip.decompress((f.path.parent / (f.path.name + ".gz")).read_bytes()) == data
        assert f.bytes < f.source_bytes, f
    js = result.files["js"]
    assert js.bytes <= 0.6 * js.source_bytes  # the client and CoffeeScript output shrink by more than 40%
    app = js.path.read_text()
    assert "window.TWO=2;" in app  # .min files kept as they are
    assert app.index("ONE") < app.index("TWO") < app.index("TEN") < app.index("FOO") < app.index("SS.define(")
    assert 'SS.define("shared","calc"' in app and 'SS.tmpl["people-customers-info"]' in app


async def test_min_css_is_kept_as_it_is(big_app, worker):
    write_files(big_app, {"lib/css/0.theme.min.css": "/* keep me */ .theme{color:red}"})
    result = await pack(big_app, {}, worker=worker)
    css = result.files["css"].path.read_text()
    assert css.startswith("/* keep me */ .theme{color:red}\n")  # rcssmin would have dropped the comment
    assert "html{margin:0}" in css  # reset.css minified


async def test_index_html_references_the_pack(big_app, worker):
    result = await pack(big_app, {}, worker=worker)
    html = (big_app / "public" / "index.html").read_text()
    srcs = re.findall(r'<script src="([^"]+)"', html)
    assert srcs == [result.files["js"].url]
    assert f'<link rel="stylesheet" data-ss-css href="{result.files["css"].url}">' in html
    assert 'id="people-customers-info"' in html and "/_ss/assets/" not in html


async def test_state_file_and_freshness(big_app, worker):
    await pack(big_app, {}, worker=worker)
    state = json.loads(state_file(big_app).read_text())
    assert set(state["files"]) == {"js", "css"}
    assert not any(p.name.startswith(".") for p in (big_app / "public").rglob("*"))  # nothing private in public/
    assert is_fresh(big_app)
    (big_app / "public/index.html").write_text("edited by hand")
    assert not is_fresh(big_app)
    await pack(big_app, {}, worker=worker)
    assert is_fresh(big_app)
    reused = await ensure_pack(big_app, {}, worker=worker)
    assert reused.reused
    (big_app / "app/client/app.coffee").write_text("exports.init = -> 'changed'\n")
    assert not is_fresh(big_app)
    again = await ensure_pack(big_app, {}, worker=worker)
    assert not again.reused and "changed" in again.files["js"].path.read_text()


async def test_old_packs_are_removed(big_app, worker):
    first = await pack(big_app, {}, worker=worker)
    (big_app / "app/css/vars.styl").write_text("c = #654321\n")
    second = await pack(big_app, {}, worker=worker)
    old_css = first.files["css"].path
    assert not old_css.exists() and not (old_css.parent / (old_css.name + ".gz")).exists()
    assert second.files["css"].path.exists()
    assert first.files["js"].path == second.files["js"].path  # unchanged bundle keeps its name


async def test_compile_errors_stop_the_pack(big_app, worker):
    write_files(big_app, {"app/client/app.coffee": "exports.init = ->\n  x = (\n"})
    with pytest.raises(PackError) as info:
        await pack(big_app, {}, worker=worker)
    assert info.value.errors[0].file == "app/client/app.coffee"
    assert not (big_app / "public" / "index.html").exists()


async def test_production_pipeline_packs_on_start(big_app):
    pipeline = AssetPipeline(big_app, "production", {})
    try:
        await pipeline.start()
        html = await pipeline.page()
        assert await pipeline.asset("app/client/app.coffee") is None
    finally:
        await pipeline.close()
    assert html == (big_app / "public" / "index.html").read_text()
    assert "/assets/app-" in html
