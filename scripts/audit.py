"""`make audit`: look up every locked package in the public vulnerability databases.

Python: pip-audit over requirements-dev.txt (the whole locked tree, runtime and test
tools, with hashes, nothing installed). npm: `npm audit --package-lock-only` over the
asset worker's ss/assets/node/package-lock.json. Both ask a service on the network
(PyPI's per-release JSON, or OSV with AUDIT_SERVICE=osv; the npm registry's advisories).

Exit status: 0 every package was checked and none has a known vulnerability;
1 a known vulnerability (each is named, with what to do); 2 some packages could not
be checked (the service did not answer): that is not a pass, and it says so.
Usage: python3 scripts/audit.py  (make audit installs pip-audit into .venv-tools first)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_LOCK = "requirements-dev.txt"
NPM_DIR = "ss/assets/node"
PIP_FIX = ("bump its pin in requirements.in or requirements-dev.in (a transitive package: add a pin for it "
           "there), run bash scripts/lock-deps.sh, then make venv and the tests")
NPM_FIX = (f"bump it in {NPM_DIR}/package.json (a transitive package: add an \"overrides\" entry), run "
           f"npm install --package-lock-only in {NPM_DIR}, then the asset tests")


def pip_report(data: dict) -> tuple[list[str], list[str]]:
    """(vulnerabilities, packages not checked) from pip-audit's JSON."""
    found, unchecked = [], []
    for dep in data.get("dependencies", []):
        if dep.get("skip_reason"):
            unchecked.append(f"{dep['name']}: {dep['skip_reason']}")
            continue
        for vuln in dep.get("vulns", []):
            ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            found.append(f"{dep['name']}=={dep['version']} (PyPI): {ids}; fixed in {fixed}. Fix: {PIP_FIX}")
    return found, unchecked


def npm_report(data: dict) -> tuple[list[str], list[str]]:
    """(vulnerabilities, what could not be checked) from `npm audit --json`."""
    if "error" in data or "vulnerabilities" not in data:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        why = data.get("message") or error.get("summary") or error.get("detail") or "no answer"
        return [], [f"{NPM_DIR}: npm audit could not ask the registry: {why}"]
    found = []
    for name, vuln in sorted(data["vulnerabilities"].items()):
        ids = [v.get("url") or v.get("title") for v in vuln.get("via", []) if isinstance(v, dict)]
        through = [v for v in vuln.get("via", []) if isinstance(v, str)]
        what = ", ".join(ids) if ids else "through " + ", ".join(through)
        fix = vuln.get("fixAvailable")
        fixed = f"fixed by {fix['name']}@{fix['version']}" if isinstance(fix, dict) else \
            ("a fix is available" if fix else "no fix available yet")
        found.append(f"{name} {vuln.get('range', '')} (npm, {vuln.get('severity')}): {what}; {fixed}. Fix: {NPM_FIX}")
    return found, []


def run_pip_audit() -> dict:
    tool = ROOT / ".venv-tools" / "bin" / "pip-audit"
    service = os.environ.get("AUDIT_SERVICE", "pypi")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        result = subprocess.run([str(tool), "-r", PIP_LOCK, "--require-hashes", "--disable-pip",
                                 "--vulnerability-service", service, "--progress-spinner", "off",
                                 "-f", "json", "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
        if not out.is_file():
            return {"dependencies": [{"name": PIP_LOCK, "skip_reason": f"pip-audit failed: {result.stderr.strip()}"}]}
        return json.loads(out.read_text())


def run_npm_audit() -> dict:
    result = subprocess.run(["npm", "audit", "--package-lock-only", "--json"], cwd=ROOT / NPM_DIR,
                            capture_output=True, text=True)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"error": {"summary": (result.stderr or result.stdout).strip()[:300]}}


def main() -> int:
    found, unchecked = [], []
    for report in (pip_report(run_pip_audit()), npm_report(run_npm_audit())):
        found += report[0]
        unchecked += report[1]
    for line in found:
        print(f"VULNERABLE: {line}")
    if unchecked:
        print(f"NOT CHECKED ({len(unchecked)}): the vulnerability service did not answer for these, "
              "so this is not a pass:")
        for line in unchecked:
            print(f"  {line}")
    if found:
        print(f"audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} in the locked packages")
        return 1
    if unchecked:
        return 2
    print("audit: every locked package checked, no known vulnerability")
    return 0


if __name__ == "__main__":
    sys.exit(main())
