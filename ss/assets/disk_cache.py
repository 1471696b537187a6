"""Compiled CoffeeScript and Stylus kept on disk between runs.

A development restart (or a pack of unchanged sources) then needs no Node
process at all: outputs are looked up by a hash of everything they depend on
(the source, for Stylus every file of its folder tree and its path, and the
tool versions from the lockfile). Entries live under the ss cache folder,
one small JSON file each; errors are never stored, so their messages are
always fresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from . import node_runtime
from .compilers import Compiled

log = logging.getLogger("ss.assets")

#: extensions whose compiles need the Node worker: the ones worth keeping
CACHED_EXTENSIONS = {".coffee", ".styl"}
# Bump when the stored shape or the compile options change.
FORMAT = 1
_MAX_AGE = 30 * 86400  # entries unused this long are removed by prune()


class DiskCache:
    """Content-addressed store of Compiled results (``folder`` is created on first write)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or node_runtime.cache_root() / "compiled"
        self._salt = f"{FORMAT}:{node_runtime.lockfile_hash()}".encode()

    def key(self, path: Path, source: bytes, imports: Sequence[Path] = ()) -> str:
        """The entry name for ``path`` with ``source``; ``imports`` are the files it may read."""
        digest = hashlib.sha256(self._salt)
        digest.update(path.suffix.lower().encode() + b"\0" + source)
        if imports:
            # Import resolution depends on where the file is, so the path counts too.
            digest.update(b"\0" + str(path).encode())
            for other in sorted(imports):
                try:
                    digest.update(b"\0" + str(other).encode() + b"\0" + hashlib.sha256(other.read_bytes()).digest())
                except OSError:
                    digest.update(b"\0" + str(other).encode() + b"\0missing")
        return digest.hexdigest()

    def get(self, key: str) -> Compiled | None:
        """The stored result, or None."""
        entry = self.folder / key[:2] / key
        try:
            data = json.loads(entry.read_bytes())
            os.utime(entry)  # keeps it young for prune()
        except (OSError, ValueError):
            return None
        return Compiled(data["text"], data["kind"], [Path(d) for d in data.get("deps", [])])

    def put(self, key: str, compiled: Compiled) -> None:
        """Store a result; a failure to write only costs a recompile later."""
        entry = self.folder / key[:2] / key
        data = json.dumps({"text": compiled.text, "kind": compiled.kind, "deps": [str(d) for d in compiled.deps]})
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f".{key}.{os.getpid()}")
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, entry)
        except OSError as exc:
            log.debug("compile cache not written: %s", exc)

    def prune(self, max_age: float = _MAX_AGE) -> int:
        """Remove entries unused for ``max_age`` seconds; returns how many went."""
        cutoff, removed = time.time() - max_age, 0
        if not self.folder.is_dir():
            return 0
        for sub in self.folder.iterdir():
            for entry in sub.iterdir() if sub.is_dir() else ():
                try:
                    if entry.stat().st_mtime < cutoff:
                        entry.unlink()
                        removed += 1
                except OSError:
                    pass
        return removed
