"""Fixtures for the asset pipeline tests: small apps written into tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from ss.assets.compilers import Compilers
from ss.assets.node_worker import NodeWorker

SAMPLE_APP = {
    "app/views/app.jade": '!!! 5\nhtml(lang:"en")\n  head\n    title Demo\n    != SocketStream\n  body\n    #main Hello\n',
    "app/client/app.coffee": 'exports.init = ->\n  document.getElementById("main").textContent = SS.shared.calc.double(21)\n',
    "app/client/people/customers.coffee": 'exports.draw = (x) -> "<li>#{x}</li>"\n',
    "app/shared/calc.coffee": "exports.double = (x) -> x * 2\nsecret = 1\n",
    "app/css/app.styl": '@import "vars"\nbody\n  color c\n',
    "app/css/vars.styl": "c = #123456\n",
    "app/views/people/customers/info.jade": "p.info\n  | ${name}\n",
    "lib/client/1.one.js": "window.ONE = 1;\n",
    "lib/client/10.ten.js": "window.TEN = 10;\n",
    "lib/client/2.two.min.js": "window.TWO=2;\n",
    "lib/css/reset.css": "html { margin: 0; }\n",
    "vendor/foo/lib/foo.js": "window.FOO = 1\n",
    "app/server/app.py": "import ss\n",
}


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; returns root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def sample_app(tmp_path: Path) -> Path:
    """A small app using every kind of asset."""
    return write_files(tmp_path / "app", SAMPLE_APP)


@pytest.fixture
async def worker():
    """A Node worker, closed after the test (installs the npm cache on first use)."""
    w = NodeWorker()
    yield w
    await w.close()


@pytest.fixture
async def compilers(worker, tmp_path):
    return Compilers(worker, label=lambda p: p.relative_to(tmp_path).as_posix() if p.is_relative_to(tmp_path) else str(p))


# The browser tests use the fixtures browser, new_app and ss_server from tests/conftest.py.
