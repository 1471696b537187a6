"""Finding Node and installing the pipeline's npm packages from the lockfile.

The packages (CoffeeScript, Stylus, esbuild, jQuery for `ss new`) are never
committed: `ss/assets/node/package-lock.json` pins them and they install, the
way `npm ci` does, into a cache folder named by the lockfile's hash
(``~/.cache/ss/node/<hash>/node_modules``). A new lockfile means a new folder,
so an upgrade never half-overwrites a working install.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import NodeWorkerError

PACKAGE_DIR = Path(__file__).with_name("node")
LOCKFILE = PACKAGE_DIR / "package-lock.json"
WORKER_JS = PACKAGE_DIR / "worker.js"


def cache_root() -> Path:
    """Where ss keeps downloaded tools: $SS_CACHE_DIR, else $XDG_CACHE_HOME/ss, else ~/.cache/ss."""
    if os.environ.get("SS_CACHE_DIR"):
        return Path(os.environ["SS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ss"


def lockfile_hash() -> str:
    """Short hash naming the install folder; changes whenever the lockfile does."""
    digest = hashlib.sha256(LOCKFILE.read_bytes())
    digest.update((PACKAGE_DIR / "package.json").read_bytes())
    return digest.hexdigest()[:16]


def node_command() -> list[str]:
    """The command that runs Node: the system's `node`, else the nodejs-bin wheel.

    Raises NodeWorkerError saying what to install when neither exists.
    """
    node = shutil.which("node") or shutil.which("nodejs")
    if node:
        return [node]
    if importlib.util.find_spec("nodejs") is not None:  # the nodejs-bin wheel
        return [sys.executable, "-m", "nodejs"]
    raise NodeWorkerError(
        'Node.js is needed to compile CoffeeScript and Stylus: install it (apt-get install nodejs npm) '
        'or run "pip install nodejs-bin"'
    )


def npm_command() -> list[str]:
    """The command that runs npm, matching node_command()."""
    npm = shutil.which("npm")
    if npm:
        return [npm]
    if importlib.util.find_spec("nodejs") is not None:
        return [sys.executable, "-m", "nodejs.npm"]
    raise NodeWorkerError("npm is needed to install the asset tools: install it (apt-get install npm) "
                          'or "pip install nodejs-bin"')


def ensure_node_modules(progress=None) -> Path:
    """Return the node_modules folder of the pinned packages, installing it on first use.

    Safe to call from several processes at once: a file lock serialises the
    install and the finished folder appears atomically (rename). ``progress``
    receives the two halves of the one progress line (start, then "done in
    N s"); by default they go to stderr.
    Raises NodeWorkerError when npm fails (its output is in the message).
    """
    base = cache_root() / "node"
    final = base / lockfile_hash()
    if (final / ".complete").exists():
        return final / "node_modules"
    base.mkdir(parents=True, exist_ok=True)
    say = progress or _stderr
    with open(base / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():  # another process finished while we waited
            return final / "node_modules"
        staging = base / f"{final.name}.tmp{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(PACKAGE_DIR / name, staging / name)
        started = time.monotonic()
        say(f"ss: installing asset tools (coffeescript, stylus, esbuild) from the lockfile into {final} ... ")
        # --ignore-scripts: nothing is fetched beyond the locked tarballs (esbuild's
        # binary comes from its locked platform package, not its postinstall script).
        cmd = npm_command() + ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
        result = subprocess.run(cmd, cwd=staging, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            say("failed\n")
            raise NodeWorkerError(f"npm ci failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        (staging / ".complete").write_text(str(time.time()))
        shutil.rmtree(final, ignore_errors=True)
        os.rename(staging, final)
        say(f"done in {time.monotonic() - started:.1f}s\n")
    return final / "node_modules"


def _stderr(message: str) -> None:
    # The start and the end of the install share one terminal line.
    sys.stderr.write(message)
    sys.stderr.flush()
