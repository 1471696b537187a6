"""AssetPipeline in development: page(), asset(), caching and compile errors."""
from __future__ import annotations

import re

import pytest

from ss.assets import AssetPipeline

from .conftest import write_files


@pytest.fixture
async def pipeline(sample_app):
    p = AssetPipeline(sample_app, "development", {})
    yield p
    await p.close()


def srcs(html: str) -> list[str]:
    """Script URLs without their content-hash segment."""
    return [re.sub(r"^/_ss/assets/[0-9a-f]{10}/", "/_ss/assets/", u) for u in re.findall(r'<script src="([^"]+)"', html)]


async def test_page_has_tags_in_order(pipeline):
    html = await pipeline.page()
    assert html.startswith('<!DOCTYPE html><html lang="en"><head><title>Demo</title><script src="/_ss/client.js"></script>')
    assert srcs(html) == [
        "/_ss/client.js",
        "/_ss/assets/dev.js",
        "/_ss/assets/lib/client/1.one.js",
        "/_ss/assets/lib/client/2.two.min.js",
        "/_ss/assets/lib/client/10.ten.js",
        "/_ss/assets/vendor/foo/lib/foo.js",
        "/_ss/assets/app/shared/calc.coffee",
        "/_ss/assets/app/client/app.coffee",
        "/_ss/assets/app/client/people/customers.coffee",
        "/_ss/assets/templates.js",
    ]
    assert '<script type="text/x-jquery-tmpl" id="people-customers-info"><p class="info">${name}</p></script>' in html
    link = re.search(r'<link rel="stylesheet" data-ss-css href="(/_ss/assets/[0-9a-f]{10}/app\.css)">', html)
    assert link and html.index(link.group(0)) > html.index('id="people-customers-info"')
    assert "SocketStream" not in html


async def test_every_tag_in_the_page_is_served(pipeline):
    html = await pipeline.page()
    urls = re.findall(r'(?:src|href)="/_ss/assets/([^"]+)"', html)
    for url in urls:
        asset = await pipeline.asset(url)
        assert asset is not None, url
        # The URL names the content's hash: cacheable for good.
        assert asset.cache_control == "public, max-age=31536000, immutable" and asset.etag
        assert asset.etag.startswith(url.split("/", 1)[0])


async def test_module_is_wrapped(pipeline):
    asset = await pipeline.asset("app/shared/calc.coffee")
    assert asset.content_type.startswith("application/javascript")
    body = asset.body.decode()
    assert body.startswith('SS.define("shared", "calc", function (exports, module) {\n')
    assert body.rstrip().endswith("});")
    assert "var secret;" in body  # private names stay inside the function scope


async def test_css_bundle_is_lib_then_app(pipeline):
    css = (await pipeline.asset("app.css")).body.decode()
    assert css.index("margin: 0") < css.index("color: #123456")


@pytest.mark.parametrize("path", ["../app/server/app.py", "app/server/app.py", "app/client/../server/app.py",
                                  "/etc/passwd", "app%2f..%2f", "app/client/app.coffee/..", "config/app.py", ""])
async def test_refuses_anything_not_an_asset(pipeline, path):
    assert await pipeline.asset(path) is None


async def test_cached_until_a_file_changes(pipeline, sample_app):
    await pipeline.page()
    compiles = pipeline.builder.compiles
    await pipeline.page()
    await pipeline.asset("app/client/app.coffee")
    assert pipeline.builder.compiles == compiles  # nothing recompiled
    (sample_app / "app/client/app.coffee").write_text("exports.init = -> 42\n")
    body = (await pipeline.asset("app/client/app.coffee")).body.decode()
    assert "return 42;" in body
    assert pipeline.builder.compiles == compiles + 1


async def test_new_lib_file_is_picked_up_without_restart(pipeline, sample_app):
    await pipeline.page()
    write_files(sample_app, {"lib/client/3.three.js": "window.THREE = 3;"})
    assert "/_ss/assets/lib/client/3.three.js" in srcs(await pipeline.page())


async def test_broken_coffee_serves_an_overlay_script(pipeline, sample_app):
    write_files(sample_app, {"app/client/app.coffee": "exports.init = ->\n  x = (\n"})
    html = await pipeline.page()  # still renders
    body = (await pipeline.asset("app/client/app.coffee")).body.decode()
    assert "SS.dev.showError(e)" in body and '"file": "app/client/app.coffee"' in body
    assert "/app/client/app.coffee\"" in html


async def test_broken_stylesheet_shows_overlay_from_the_page(pipeline, sample_app):
    write_files(sample_app, {"app/css/app.styl": "body\n  color foo(\n"})
    html = await pipeline.page()
    assert "<script>" not in html  # no inline script: the page's CSP would block it
    assert re.search(r'<script src="/_ss/assets/[0-9a-f]{10}/errors\.js"></script>', html)
    body = (await pipeline.asset("errors.js")).body.decode()
    assert "SS.dev.showError(e)" in body and '"file": "app/css/app.styl"' in body


async def test_file_folder_clash_is_a_clear_error(pipeline, sample_app):
    write_files(sample_app, {"app/client/people.coffee": "exports.x = 1\n"})
    await pipeline.page()
    body = (await pipeline.asset("errors.js")).body.decode()
    assert "clash" in body and "SS.client.people" in body


async def test_html_layout_marker(tmp_path):
    root = write_files(tmp_path, {"app/views/app.html": "<html><head><SocketStream></head><body></body></html>",
                                  "app/client/app.js": "exports.init = function () {};"})
    p = AssetPipeline(root, "development", {})
    try:
        html = await p.page()
    finally:
        await p.close()
    assert "<SocketStream>" not in html and re.search(r'<script src="/_ss/assets/[0-9a-f]{10}/app/client/app.js"', html)


async def test_broken_layout_still_serves_a_page_with_the_error(pipeline, sample_app):
    write_files(sample_app, {"app/views/app.jade": "html\n  head\n\t  != SocketStream\n"})
    html = await pipeline.page()
    assert '<script src="/_ss/client.js"></script>' in html and "/errors.js\"" in html
    assert '"file": "app/views/app.jade"' in (await pipeline.asset("errors.js")).body.decode()


async def test_an_old_hash_gets_current_content_uncached(pipeline, sample_app):
    html = await pipeline.page()
    old_url = re.search(r'src="/_ss/assets/([0-9a-f]{10}/app/client/app\.coffee)"', html).group(1)
    (sample_app / "app/client/app.coffee").write_text("exports.init = -> 'v2'\n")
    asset = await pipeline.asset(old_url)
    assert "'v2'" in asset.body.decode() and asset.cache_control == "no-cache"
    assert (await pipeline.asset("app/client/app.coffee")).cache_control == "no-cache"


async def test_start_compiles_in_the_background_and_warms_node(sample_app):
    p = AssetPipeline(sample_app, "development", {})
    try:
        await p.start()  # returns before compiling: the server can listen at once
        await p._warming
        assert p.worker.pid is not None  # Node is up for the first save, even if every file came from disk
        compiles = p.builder.compiles
        await p.page()
        assert p.builder.compiles == compiles  # the page found everything built
    finally:
        await p.close()


async def test_page_carries_a_version_that_changes_with_any_asset(pipeline, sample_app):
    html = await pipeline.page()
    version = await pipeline.version()
    assert f'<meta name="ss-assets" content="{version}">' in html
    assert await pipeline.version() == version  # stable while nothing changes
    (sample_app / "app/css/vars.styl").write_text("c = #010203\n")
    assert await pipeline.version() != version
    assert f'content="{await pipeline.version()}"' in await pipeline.page()


async def test_no_version_in_production(sample_app):
    p = AssetPipeline(sample_app, "production", {})
    try:
        assert await p.version() is None
    finally:
        await p.close()
