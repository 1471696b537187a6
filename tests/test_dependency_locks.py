"""The locked requirement files agree with their inputs, carry hashes, and `make audit` names what to fix."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def pins(text: str) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in PIN.findall(text)}


def test_every_pin_of_the_inputs_is_in_its_lock_and_every_locked_package_has_hashes():
    for source, lock in [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt"),
                         ("requirements-tools.in", "requirements-tools.txt")]:
        wanted, locked = pins((ROOT / source).read_text()), pins((ROOT / lock).read_text())
        stale = {name: version for name, version in wanted.items() if locked.get(name) != version}
        assert not stale, f"{source} pins {stale} but {lock} does not: run bash scripts/lock-deps.sh"
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"
    runtime, dev = pins((ROOT / "requirements.txt").read_text()), pins((ROOT / "requirements-dev.txt").read_text())
    assert {name: dev.get(name) for name in runtime} == runtime  # tests run on the runtime's exact versions


def load_audit():
    spec = importlib.util.spec_from_file_location("ss_audit_script", ROOT / "scripts" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_found_vulnerability_fails_the_audit_naming_the_package_and_the_fix(monkeypatch, capsys):
    audit = load_audit()
    monkeypatch.setattr(audit, "run_pip_audit", lambda: {"dependencies": [
        {"name": "tornado", "version": "6.6.1", "vulns": [
            {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fix_versions": ["6.6.2"], "description": "..."}]},
        {"name": "redis", "version": "8.1.0", "vulns": []}]})
    monkeypatch.setattr(audit, "run_npm_audit", lambda: {"vulnerabilities": {"stylus": {
        "severity": "high", "range": "<0.65.0", "via": [{"url": "https://github.com/advisories/GHSA-xxxx"}],
        "fixAvailable": {"name": "stylus", "version": "0.65.0"}}}})
    assert audit.main() == 1
    out = capsys.readouterr().out
    assert "VULNERABLE: tornado==6.6.1 (PyPI): PYSEC-2099-1, CVE-2099-1; fixed in 6.6.2" in out
    assert "requirements.in" in out and "scripts/lock-deps.sh" in out
    assert "VULNERABLE: stylus <0.65.0 (npm, high): https://github.com/advisories/GHSA-xxxx; fixed by stylus@0.65.0" in out
    assert "redis" not in out


def test_an_audit_that_could_not_ask_the_service_is_not_a_pass(monkeypatch, capsys):
    audit = load_audit()
    monkeypatch.setattr(audit, "run_pip_audit", lambda: {"dependencies": [
        {"name": "tornado", "skip_reason": "Dependency not found on PyPI and could not be audited: tornado (6.6.1)"}]})
    monkeypatch.setattr(audit, "run_npm_audit", lambda: {"message": "405 Method Not Allowed", "error": {"summary": ""}})
    assert audit.main() == 2
    out = capsys.readouterr().out
    assert "NOT CHECKED (2)" in out and "tornado" in out and "405 Method Not Allowed" in out
    monkeypatch.setattr(audit, "run_pip_audit", lambda: {"dependencies": [{"name": "tornado", "version": "6.6.1",
                                                                           "vulns": []}]})
    monkeypatch.setattr(audit, "run_npm_audit", lambda: {"vulnerabilities": {}})
    assert audit.main() == 0 and "no known vulnerability" in capsys.readouterr().out
