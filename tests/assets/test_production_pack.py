"""Issue: the production pack left the ss client out (a fourth, unhashed, unminified
script request) and static routes answered HEAD with 405."""
from __future__ import annotations

import gzip
import re

from ss.assets.bundler import client_js
from ss.assets.packer import pack
from ss.testing import running_app


async def test_production_pack_leaves_the_ss_client_out(sample_app, worker):
    result = await pack(sample_app, {}, worker=worker)
    html = (sample_app / "public" / "index.html").read_text()
    srcs = re.findall(r'<script src="([^"]+)"', html)
    assert srcs == [result.files["js"].url], srcs  # one script request: client + lib + app
    assert re.fullmatch(r"/assets/app-[0-9a-f]{10}\.js", srcs[0])
    bundle = result.files["js"].path.read_bytes()
    text = bundle.decode()
    # the client first, then lib (in file name order), then the app modules
    assert text.index("SS.client.app.init() failed") < text.index("window.ONE") < text.index('SS.define("shared","calc"')
    client = client_js().decode()
    assert "ss browser client: one WebSocket" in client and "ss browser client: one WebSocket" not in text  # comments gone
    assert len(bundle) < len(client)  # minified (the client alone is bigger than the whole pack)
    assert gzip.decompress((result.files["js"].path.parent / (result.files["js"].path.name + ".gz")).read_bytes()) == bundle


async def test_head_on_static_and_asset_routes_answers_405(sample_app, worker):
    await pack(sample_app, {}, worker=worker)
    (sample_app / "public" / "robots.txt").write_text("User-agent: *\n")
    (sample_app / "app" / "server" / "app.py").write_text("import ss\n\nclass Actions(ss.Actions):\n    pass\n")
    js_url = re.findall(r'<script src="(/assets/[^"]+)"', (sample_app / "public" / "index.html").read_text())[-1]
    async with running_app(sample_app, "production", {"redis": {"enabled": False}}) as app:
        for path in ("/_ss/client.js", js_url, "/robots.txt"):
            got = await app.fetch(path)
            head = await app.fetch(path, method="HEAD")
            assert got.code == 200, path
            assert head.code == 200, (path, head.code)
            assert head.body == b"", path
            assert head.headers["Content-Type"] == got.headers["Content-Type"], path
        packed = await app.fetch(js_url, headers={"Accept-Encoding": "gzip"}, decompress_response=False)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "immutable" in packed.headers["Cache-Control"]
    async with running_app(sample_app, "development", {"redis": {"enabled": False}}, assets=True) as app:
        page = (await app.fetch("/")).body.decode()
        dev_js = re.search(r'src="(/_ss/assets/[0-9a-f]{10}/dev\.js)"', page).group(1)
        head = await app.fetch(dev_js, method="HEAD")
        assert head.code == 200 and head.body == b"" and head.headers["Content-Type"].startswith("application/javascript")
        assert (await app.fetch("/_ss/assets/nope.js", method="HEAD")).code == 404
