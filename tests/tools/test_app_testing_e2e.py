"""App testing: a freshly generated app's own tests pass with `make test`, and they really test."""

from __future__ import annotations

import subprocess
import sys


def make_test(root) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "test", f"PYTHON={sys.executable}"], cwd=root, capture_output=True,
                          text=True, timeout=240)


def test_the_skeletons_tests_pass_in_a_new_app_and_catch_a_broken_action(new_app):
    root = new_app("shop")
    assert (root / "tests" / "test_app.py").is_file() and (root / "config" / "http.py").is_file()
    result = make_test(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout

    actions = root / "app" / "server" / "app.py"
    actions.write_text(actions.read_text().replace("return number * number", "return number + number"))
    result = make_test(root)
    assert result.returncode != 0
    assert "2 failed, 4 passed" in result.stdout and "assert 50 == 625" in result.stdout
