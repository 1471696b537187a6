"""Issue: a generated app's own commands. Its Makefile ran `python` (Debian has only
python3, and not the virtualenv ss runs from); without pytest-asyncio its conftest failed
with a bare ImportError; the demo sign-in did not say that anyone can claim any name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")  # Debian's build-essential


def make(root: Path, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    # PATH without the virtualenv: the Makefile must find it by itself, as after `make demo`.
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON", "MAKEFLAGS", "MAKELEVEL")}
    clean["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return subprocess.run([MAKE, *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})})


def test_generated_app_make_commands_use_the_python_that_made_it(new_app):
    root = new_app("cmdapp")
    for target, command in (("start", "-m ss start"), ("assets", "-m ss assets"), ("test", "-m pytest tests")):
        dry = make(root, "-n", target)
        assert dry.returncode == 0, dry.stderr
        assert f"{sys.executable} {command}" in dry.stdout, dry.stdout
    ran = make(root, "test")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "passed" in ran.stdout


def test_copied_skeleton_finds_the_nearest_venv(skeleton_app, tmp_path):
    # An app whose generating interpreter is unknown (copied by hand) uses ../.venv when there is one.
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    dry = make(skeleton_app, "-n", "start")
    assert dry.returncode == 0, dry.stderr
    assert f"{tmp_path}/.venv/bin/python -m ss start" in dry.stdout or "../.venv/bin/python -m ss start" in dry.stdout, dry.stdout


def test_conftest_without_pytest_asyncio_says_what_to_install(skeleton_app, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # Makes `import pytest_asyncio` fail as it does where the package is not installed.
    (blocker / "pytest_asyncio.py").write_text("raise ImportError('No module named pytest_asyncio')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "tests", "-q"],
                         cwd=skeleton_app, capture_output=True, text=True, timeout=120, env=env)
    assert ran.returncode != 0
    out = ran.stdout + ran.stderr
    assert "cannot import name 'ss_app'" not in out
    assert "pip install pytest-asyncio" in out, out


def test_demo_sign_in_says_anyone_can_claim_any_name(skeleton_app):
    server = (skeleton_app / "app" / "server" / "app.py").read_text()
    view = (skeleton_app / "app" / "views" / "app.jade").read_text()
    assert "NOT AUTHENTICATION" in server
    assert "anyone can sign in as any name" in view.lower()
