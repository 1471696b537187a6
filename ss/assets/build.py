"""Compiling every browser input of an app into one ``Snapshot``.

Development asks for a snapshot on every request, so compiled files are
cached and reused while their signature (mtime and size, and for Stylus/Sass
/Jade every file of the same folder they may import) is unchanged; the watcher
also drops entries it hears about. CoffeeScript and Stylus results are also
kept on disk (disk_cache.py), so a restart with unchanged files starts no Node.
Production packs from a fresh snapshot.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import metrics
from . import sources, templates
from .bundler import DEFAULT_LAYOUT, error_css, error_js, join_js, wrap_module
from .compilers import CSS, JS, Compiled, Compilers
from .disk_cache import CACHED_EXTENSIONS, DiskCache
from .errors import CompileError, NodeWorkerError

log = logging.getLogger("ss.assets")

# Compilers that read other files (@import, include): their cache key covers the folder.
_IMPORTING = {".styl", ".scss", ".sass", ".jade", ".pug"}


@dataclass
class Part:
    """One file as the browser gets it. ``url`` is its path under /_ss/assets/."""

    url: str
    path: Path
    kind: str
    text: str
    error: CompileError | None = None
    minified: bool = False  # a lib file named *.min.*: never minified again


@dataclass
class Snapshot:
    """Everything the page needs, compiled; errors never stop a snapshot."""

    lib_js: list[Part] = field(default_factory=list)  # lib/client then vendor, in order
    app_js: list[Part] = field(default_factory=list)  # app/shared then app/client modules, wrapped
    css: list[Part] = field(default_factory=list)  # lib/css then app/css entries
    templates: list[tuple[sources.Template, str]] = field(default_factory=list)  # (template, html)
    templates_js: str = ""  # SS.tmpl runtime + one function per template
    layout_html: str = DEFAULT_LAYOUT
    errors: list[CompileError] = field(default_factory=list)
    memo: dict = field(default_factory=dict)  # derived values (page HTML, hashes) computed once per snapshot

    def css_text(self) -> str:
        """All stylesheets in order, as one file."""
        if "css" not in self.memo:
            self.memo["css"] = "\n".join(p.text.rstrip() + "\n" for p in self.css if p.text.strip())
        return self.memo["css"]

    def app_js_text(self) -> str:
        """Shared + client modules + templates, as one file (the production app bundle)."""
        return join_js([p.text for p in self.app_js] + [self.templates_js])

    def inputs(self) -> list[Path]:
        """Every source file that went into this snapshot."""
        return sorted({p.path for p in self.lib_js + self.app_js + self.css} | {t.path for t, _ in self.templates})


def _stat(path: Path) -> tuple:
    try:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return (None,)


def tree_signature(root: Path) -> dict[Path, tuple]:
    """Every input file under ``root`` with its (mtime, size, inode): one walk, no reads."""
    found: dict[Path, tuple] = {}
    for sub in sources.INPUT_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / sub):
            dirnames.sort()
            for name in filenames:
                path = Path(dirpath) / name
                found[path] = _stat(path)
    return found


class Builder:
    """Compiles an app's assets, caching each file's result until it changes."""

    def __init__(self, root: Path, compilers: Compilers, disk: DiskCache | None = None) -> None:
        self.root = root
        self.compilers = compilers
        self.disk = disk
        self._cache: dict[Path, tuple[tuple, Compiled | CompileError]] = {}
        self._lock = asyncio.Lock()
        self._templates: dict[tuple, str] = {}
        self._last: tuple[dict, Snapshot] | None = None  # (tree signature, snapshot) of the last build
        self.compiles = 0  # files rebuilt because they changed (memory cache misses); tests read it
        self.disk_hits = 0  # ...of which the disk cache answered without compiling

    def invalidate(self, paths: list[Path] | None = None) -> None:
        """Forget cached results for ``paths`` (all when None)."""
        self._last = None
        if paths is None:
            self._cache.clear()
            return
        for path in paths:
            self._cache.pop(path, None)

    def _signature(self, path: Path, tree: dict[Path, tuple], folders: dict[Path, tuple]) -> tuple:
        sig = tree.get(path) or _stat(path)
        if path.suffix.lower() in _IMPORTING:
            folder = path.parent
            if folder not in folders:
                prefix = str(folder) + os.sep  # string test: Path.is_relative_to is slow in a hot loop
                folders[folder] = tuple(sorted((str(p), s) for p, s in tree.items() if str(p).startswith(prefix)))
            sig += folders[folder]
        return sig

    async def _compile(self, path: Path, sig: tuple, tree: dict[Path, tuple]) -> Compiled | CompileError:
        hit = self._cache.get(path)
        if hit and hit[0] == sig:
            return hit[1]
        self.compiles += 1
        source, key = None, None
        if self.disk is not None and path.suffix.lower() in CACHED_EXTENSIONS:
            try:
                data = path.read_bytes()
                source = data.decode("utf-8")
            except (OSError, UnicodeDecodeError):
                pass  # the compiler reads it again and reports the problem
            else:
                prefix = str(path.parent) + os.sep
                imports = [p for p in tree if p != path and str(p).startswith(prefix)] if path.suffix == ".styl" else []
                key = self.disk.key(path, data, imports)
                cached = self.disk.get(key)
                if cached is not None:
                    self.disk_hits += 1
                    self._cache[path] = (sig, cached)
                    return cached
        result: Compiled | CompileError
        started = time.perf_counter()
        try:
            result = await self.compilers.compile(path, source)
            metrics.asset_compiled(path.suffix, time.perf_counter() - started)
            if key is not None:
                assert self.disk is not None  # key is only made with a disk cache
                self.disk.put(key, result)
        except CompileError as exc:
            log.error("%s", exc)
            result = exc
        except NodeWorkerError as exc:
            # No Node: this file can't compile, the rest of the app still can.
            result = CompileError(sources.relative(self.root, path), str(exc))
            log.error("%s", result)
        self._cache[path] = (sig, result)
        return result

    def _template_js(self, template_id: str, html: str, file: str, keep: dict[tuple, str]) -> str:
        key = (template_id, html, file)
        js = self._templates.get(key) or templates.compile_template(template_id, html, file)
        keep[key] = js
        return js

    async def snapshot(self) -> Snapshot:
        """Compile (or reuse) every input and assemble the snapshot.

        When no input file changed since the last call (one directory walk and
        a stat per file tells), the last snapshot is returned as it is.
        """
        async with self._lock:
            tree = tree_signature(self.root)
            if self._last and self._last[0] == tree:
                return self._last[1]
            snap = await self._snapshot(tree)
            self._last = (tree, snap)
            return snap

    async def _snapshot(self, tree: dict[Path, tuple]) -> Snapshot:
        root, snap = self.root, Snapshot()
        rel = lambda p: sources.relative(root, p)  # noqa: E731

        lib_js = sources.lib_files(root, JS) + sources.vendor_files(root)
        lib_css = sources.lib_files(root, CSS)
        css_entries = sources.css_entries(root)
        mods: list[sources.Module] = []
        for branch in ("shared", "client"):
            try:
                mods += sources.modules(root, branch)
            except CompileError as exc:
                log.error("%s", exc)
                snap.errors.append(exc)
        try:
            tmpls = sources.templates(root)
        except CompileError as exc:
            log.error("%s", exc)
            snap.errors.append(exc)
            tmpls = []
        layout = sources.layout(root)

        paths = lib_js + lib_css + css_entries + [m.path for m in mods] + [t.path for t in tmpls]
        if layout:
            paths.append(layout)
        folders: dict[Path, tuple] = {}
        compiled = await asyncio.gather(*(self._compile(p, self._signature(p, tree, folders), tree) for p in paths))
        results = dict(zip(paths, compiled))

        def part(path: Path, kind: str, wrap=None) -> Part:
            result = results[path]
            if isinstance(result, CompileError):
                snap.errors.append(result)
                text = error_js(result) if kind == JS else error_css(result)
                return Part(rel(path), path, kind, text, error=result)
            text = wrap(result.text) if wrap else result.text
            return Part(rel(path), path, kind, text, minified=sources.is_minified(path))

        snap.lib_js = [part(p, JS) for p in lib_js]
        snap.app_js = [part(m.path, JS, lambda code, m=m: wrap_module(m.tree, m.name, code)) for m in mods]
        snap.css = [part(p, CSS) for p in lib_css + css_entries]

        pieces = [templates.runtime_js()]
        kept: dict[tuple, str] = {}
        for tmpl in tmpls:
            result = results[tmpl.path]
            if isinstance(result, CompileError):
                snap.errors.append(result)
                pieces.append(error_js(result))
                continue
            try:
                pieces.append(self._template_js(tmpl.id, result.text, rel(tmpl.path), kept))
            except CompileError as exc:
                log.error("%s", exc)
                snap.errors.append(exc)
                pieces.append(error_js(exc))
                continue
            snap.templates.append((tmpl, result.text))
        snap.templates_js = join_js(pieces)
        # Keep only what the current files use, so caches don't grow with every edit.
        self._templates = kept
        self._cache = {p: self._cache[p] for p in paths if p in self._cache}

        if layout:
            result = results[layout]
            if isinstance(result, CompileError):
                snap.errors.append(result)
            else:
                snap.layout_html = result.text
        else:
            log.warning("no app/views/app.jade or app/views/app.html: using a blank layout")
        return snap
