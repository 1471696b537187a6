"""Asset pipeline benchmark: prints cold pack, warm start, dev recompile and
save-to-browser latency figures for a generated app with some bulk added.

    .venv/bin/python bench/assets.py [--rounds 5] [--modules 40]

Everything runs on this machine: an app made by `python -m ss new`, a
`python -m ss start` server on a free loopback port and headless Chromium.
Figures are medians over ``--rounds``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ss.assets import AssetPipeline  # noqa: E402
from ss.assets.packer import pack  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CONNECTED = "window.SS && SS.socket && SS.socket.state === 'connected'"


def make_app(base: Path, modules: int) -> Path:
    """`ss new` plus ``modules`` CoffeeScript modules, Stylus partials and templates."""
    subprocess.run([sys.executable, "-m", "ss", "new", "benchapp"], cwd=base, check=True, capture_output=True)
    root = base / "benchapp"
    imports = []
    for i in range(modules):
        (root / "app/client/widgets").mkdir(parents=True, exist_ok=True)
        (root / f"app/client/widgets/w{i}.coffee").write_text(
            f"class Widget{i}\n  constructor: (@name, @size = {i}) ->\n  render: ->\n"
            f"    \"<div class='w{i}'>#{{@name}} #{{@size * 2}}</div>\"\n"
            f"exports.make = (name) -> new Widget{i}(name)\nexports.sum = (xs) -> xs.reduce ((a, b) -> a + b), 0\n"
        )
        if i % 4 == 0:
            (root / "app/css/parts").mkdir(parents=True, exist_ok=True)
            (root / f"app/css/parts/p{i}.styl").write_text(
                f".w{i}\n  padding {i}px\n  margin 0 auto\n  &:hover\n    color darken(#3366cc, {i % 50}%)\n")
            imports.append(f'@import "parts/p{i}"')
            (root / f"app/views/widgets/w{i}.jade").parent.mkdir(parents=True, exist_ok=True)
            (root / f"app/views/widgets/w{i}.jade").write_text(f"div.w{i}\n  h3 ${{title}}\n  p {{{{html body}}}}\n")
    styl = root / "app/css/app.styl"
    styl.write_text(styl.read_text() + "\n" + "\n".join(imports) + "\n")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def bench_pack(root: Path, rounds: int) -> tuple[float, float, float, str]:
    cold, cached, warm = [], [], []
    summary = ""
    for _ in range(rounds):
        for f in (root / "public/assets").glob("*"):
            f.unlink()
        started = time.perf_counter()
        result = await pack(root, {}, compile_cache=False)  # own Node worker: includes its start-up
        cold.append(time.perf_counter() - started)
        summary = str(result)
        for f in (root / "public/assets").glob("*"):
            f.unlink()
        started = time.perf_counter()
        await pack(root, {})  # compiled files from the disk cache: only esbuild needs Node
        cached.append(time.perf_counter() - started)
        started = time.perf_counter()
        pipeline = AssetPipeline(root, "production", {})
        await pipeline.start()  # pack is fresh: reused
        await pipeline.page()
        warm.append(time.perf_counter() - started)
        assert pipeline.pack_result.reused
        await pipeline.close()
    return statistics.median(cold), statistics.median(cached), statistics.median(warm), summary


async def bench_recompile(root: Path, rounds: int) -> dict[str, float]:
    pipeline = AssetPipeline(root, "development", {})
    await pipeline.page()  # everything compiled and cached
    figures = {}
    cases = {
        "coffee module": ("app/client/widgets/w1.coffee", "app/client/widgets/w1.coffee"),
        "stylus (app.styl + imports)": ("app/css/parts/p0.styl", "app.css"),
        "jade template": ("app/views/widgets/w0.jade", "templates.js"),
    }
    for label, (rel, url) in cases.items():
        path = root / rel
        original = path.read_text()
        times = []
        for i in range(rounds):
            path.write_text(original + f"\n# {i}\n" if rel.endswith(".coffee") else original + "\n" * (i + 1))
            pipeline.builder.invalidate([path])
            started = time.perf_counter()
            asset = await pipeline.asset(url)
            times.append(time.perf_counter() - started)
            assert asset is not None
        path.write_text(original)
        figures[label] = statistics.median(times)
    await pipeline.page()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await pipeline.page()
        await pipeline.asset("app/client/app.coffee")
        times.append(time.perf_counter() - started)
    figures["page() + asset(), nothing changed"] = statistics.median(times)
    await pipeline.close()
    return figures


def bench_browser(root: Path, rounds: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = open(root / "bench-server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "ss", "start", "--port", str(port)], cwd=root,
                              env={**os.environ, "SS_ENV": "development"}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "robots.txt", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        css_times, js_times = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('status').textContent === 'Connected'")
            styl = root / "app/css/app.styl"
            base = styl.read_text()
            # One untimed save of each kind first: steady-state editing, not the first JIT pass.
            styl.write_text(base + "\nbody\n  background-color rgb(0, 2, 3)\n")
            page.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(0, 2, 3)'", timeout=10000)
            for i in range(rounds):
                started = time.perf_counter()
                styl.write_text(base + f"\nbody\n  background-color rgb({i + 1}, 2, 3)\n")
                page.wait_for_function(f"getComputedStyle(document.body).backgroundColor === 'rgb({i + 1}, 2, 3)'",
                                       polling="raf", timeout=10000)
                css_times.append(time.perf_counter() - started)
            client = root / "app/client/app.coffee"
            base = client.read_text()
            with page.expect_event("load", timeout=10000):
                client.write_text(base + "\nexports.version = -> -1\n")
            page.wait_for_function(CONNECTED)
            for i in range(rounds):
                started = time.perf_counter()
                with page.expect_event("load", timeout=10000):
                    client.write_text(base + f"\nexports.version = -> {i}\n")
                page.wait_for_function(f"window.SS && SS.client.app && SS.client.app.version && SS.client.app.version() === {i}",
                                       polling="raf", timeout=10000)
                js_times.append(time.perf_counter() - started)
                page.wait_for_function(CONNECTED)  # the next save's reload message needs the new socket
            browser.close()
        return {"save .styl -> new style in browser (no reload)": statistics.median(css_times),
                "save .coffee -> page reloaded with new code": statistics.median(js_times)}
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modules", type=int, default=40)
    parser.add_argument("--json", metavar="PATH", help="also write the figures (milliseconds) as JSON to PATH")
    args = parser.parse_args()
    figures: dict[str, float] = {}

    def show(label: str, seconds: float) -> None:
        figures[label] = round(seconds * 1000, 2)
        print(f"  {label:60} {ms(seconds)}")

    with tempfile.TemporaryDirectory() as tmp:
        root = make_app(Path(tmp), args.modules)
        files = sum(1 for p in (root / "app").rglob("*") if p.is_file())
        print(f"app: `ss new` + {args.modules} CoffeeScript modules ({files} files under app/), medians of {args.rounds}")
        cold, cached, warm, summary = asyncio.run(bench_pack(root, args.rounds))
        show("cold pack (python -m ss assets, Node worker start included)", cold)
        show("pack again, sources unchanged (compile cache on disk)", cached)
        show("warm production start (pack up to date, reused)", warm)
        print("  " + summary.replace("\n", "\n  "))
        for label, value in asyncio.run(bench_recompile(root, args.rounds * 4)).items():
            show(f"dev recompile, {label}", value)
        for label, value in bench_browser(root, args.rounds).items():
            show(label, value)
    if args.json:
        Path(args.json).write_text(json.dumps({"unit": "ms", "rounds": args.rounds, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
