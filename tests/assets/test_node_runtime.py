"""Installing the pinned npm packages from the committed lockfile into the cache."""
from __future__ import annotations

import json
import threading

from ss.assets import node_runtime


def test_lockfile_pins_coffeescript_exactly():
    lock = json.loads(node_runtime.LOCKFILE.read_text())
    assert lock["packages"]["node_modules/coffeescript"]["version"] == "2.7.0"
    pinned = json.loads((node_runtime.PACKAGE_DIR / "package.json").read_text())["dependencies"]
    assert all(v[0].isdigit() for v in pinned.values()), pinned  # exact versions, no ranges


def test_fresh_install_from_lockfile_once_for_concurrent_callers(tmp_path, monkeypatch):
    monkeypatch.setenv("SS_CACHE_DIR", str(tmp_path))
    messages: list[str] = []
    results: list = []

    def install():
        results.append(node_runtime.ensure_node_modules(progress=messages.append))

    threads = [threading.Thread(target=install) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    modules = tmp_path / "node" / node_runtime.lockfile_hash() / "node_modules"
    assert results == [modules, modules]
    assert json.loads((modules / "coffeescript/package.json").read_text())["version"] == "2.7.0"
    assert (modules / "esbuild").is_dir() and (modules / "stylus").is_dir()
    # One install, one progress line: "ss: installing ... done in N s".
    assert len(messages) == 2 and messages[0].startswith("ss: installing asset tools") and messages[1].startswith("done in")
    assert "".join(messages).count("\n") == 1 and "".join(messages).endswith("\n")
    assert sorted(p.name for p in (tmp_path / "node").iterdir() if not p.name.endswith(".lock")) == [modules.parent.name]


def test_node_from_the_system_else_the_nodejs_bin_wheel(monkeypatch):
    import importlib.util
    import shutil
    import sys

    import pytest

    from ss.assets.errors import NodeWorkerError

    assert node_runtime.node_command()[0].endswith("node")  # this machine has a system node
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "nodejs" else None)
    assert node_runtime.node_command() == [sys.executable, "-m", "nodejs"]
    assert node_runtime.npm_command() == [sys.executable, "-m", "nodejs.npm"]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NodeWorkerError, match="nodejs-bin"):
        node_runtime.node_command()
