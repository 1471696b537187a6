"""Production packs: public/assets/app-<hash>.js, app-<hash>.css, public/index.html.

One script (the ss client, then lib/client + vendor with ``*.min.*`` files kept
as they are, then shared + client modules + templates) and one stylesheet, so a
production page makes two asset requests, like the seed's single packed file.
Each is named by its content hash and minified, with ``.gz`` (and ``.br`` when a brotli module
is importable) beside it. A state file (in the ss cache folder, not public/)
records a hash of every input, so a production start reuses a pack that is up
to date and makes one otherwise.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import node_runtime, sources
from .build import Builder, Snapshot
from .bundler import client_js, content_hash, css_tag, insert_tags, join_js, script_tag
from .compilers import Compilers
from .disk_cache import DiskCache
from .errors import PackError
from .minify import minify_css, minify_js
from .node_worker import NodeWorker
from .templates import script_tag as template_tag

log = logging.getLogger("ss.assets")

URL_PREFIX = "/assets/"
# Bump when the pack's shape changes, so old state files count as stale.
PACK_FORMAT = 2  # 2: the client is inside app-<hash>.js, no lib-<hash>.js
# lib- stays here so that packs of format 1 are deleted by the next pack.
_PACK_NAME = re.compile(r"^(lib|app)-[0-9a-f]{10}\.(js|css)(\.gz|\.br)?$")

try:  # optional: .br files only when a brotli module is installed
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the environment
    try:
        import brotlicffi as _brotli
    except ImportError:
        _brotli = None


@dataclass
class PackedFile:
    """One bundle written to public/assets."""

    path: Path
    url: str
    source_bytes: int  # compiled, unminified input
    bytes: int
    gzip_bytes: int


@dataclass
class PackResult:
    """What a pack produced; ``reused`` is True when an up-to-date pack was kept."""

    root: Path
    files: dict[str, PackedFile] = field(default_factory=dict)  # "js", "css"
    index: Path | None = None
    seconds: float = 0.0
    reused: bool = False

    def __str__(self) -> str:
        assert self.index is not None  # a pack made or reused has its page
        if self.reused:
            return f"assets are up to date ({sources.relative(self.root, self.index)})"
        lines = [f"packed in {self.seconds:.2f}s:"]
        for f in self.files.values():
            lines.append(
                f"  {sources.relative(self.root, f.path):40} {f.bytes / 1024:8.1f} KB "
                f"(gzip {f.gzip_bytes / 1024:.1f} KB) from {f.source_bytes / 1024:.1f} KB"
            )
        lines.append(f"  {sources.relative(self.root, self.index)}")
        return "\n".join(lines)


def input_digest(root: Path) -> str:
    """Hash of everything a pack depends on: the sources, the layout, the tools."""
    digest = hashlib.sha256(f"{PACK_FORMAT}:{node_runtime.lockfile_hash()}".encode())
    digest.update(client_js())
    for extra in (Path(__file__).parent.parent / "client_js" / "templates.js",):
        digest.update(extra.read_bytes())
    layout = sources.layout(root)
    for path in sources.watched_files(root) + ([layout] if layout else []):
        digest.update(sources.relative(root, path).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def state_file(root: Path) -> Path:
    """Where the state of ``root``'s pack is kept: the ss cache folder, not public/,
    which the server hands to anyone who asks."""
    name = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return node_runtime.cache_root() / "packs" / f"{name}.json"


def _read_state(root: Path) -> dict:
    try:
        return json.loads(state_file(root).read_text())
    except (OSError, ValueError):
        return {}


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def is_fresh(root: Path) -> bool:
    """True when public/ holds a pack made from the current inputs."""
    assets_dir = root / "public" / "assets"
    state = _read_state(root)
    if state.get("digest") != input_digest(root):
        return False
    # Bundle names are their content's hash, so existing means intact; index.html is checked.
    names = list(state.get("files", {}).values())
    return _sha(root / "public" / "index.html") == state.get("index") and all((assets_dir / n).is_file() for n in names)


async def ensure_pack(root: Path, config: Any = None, worker: NodeWorker | None = None) -> PackResult:
    """Reuse the pack when it is fresh (or packing on start is switched off), else pack."""
    root = Path(root).resolve()
    index = root / "public" / "index.html"
    assets_cfg = _get(config, "assets") or {}
    pack_on_start = _get(assets_cfg, "pack_on_start")
    if is_fresh(root) or (pack_on_start is False and index.is_file()):
        return _reused(root, index)
    log.info("packing assets for production ...")
    result = await pack(root, config, worker=worker)
    log.info("%s", result)
    return result


def _reused(root: Path, index: Path) -> PackResult:
    """The PackResult of the pack already on disk (sizes read back from the files)."""
    assets_dir = root / "public" / "assets"
    result = PackResult(root, index=index, reused=True)
    for key, name in _read_state(root).get("files", {}).items():
        path = assets_dir / name
        if path.is_file():
            gz = path.with_name(name + ".gz")
            result.files[key] = PackedFile(path, URL_PREFIX + name, 0, path.stat().st_size,
                                           gz.stat().st_size if gz.is_file() else 0)
    return result


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    getter = getattr(obj, "get", None)
    return getter(key) if getter else getattr(obj, key, None)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_bundle(assets_dir: Path, stem: str, ext: str, text: str, source_bytes: int) -> PackedFile:
    data = text.encode("utf-8")
    name = f"{stem}-{content_hash(data)}.{ext}"
    path = assets_dir / name
    _write(path, data)
    gz = gzip.compress(data, 9, mtime=0)
    _write(path.with_name(name + ".gz"), gz)
    if _brotli is not None:
        _write(path.with_name(name + ".br"), _brotli.compress(data))
    return PackedFile(path, URL_PREFIX + name, source_bytes, len(data), len(gz))


async def pack(root: Path, config: Any = None, worker: NodeWorker | None = None,
               compile_cache: bool = True) -> PackResult:
    """Compile, minify and write the production pack of the app at ``root``.

    ``compile_cache=False`` compiles every file afresh instead of reusing the
    on-disk results of earlier compiles. Raises PackError listing every
    compile error; nothing is written then.
    """
    started = time.monotonic()
    root = Path(root).resolve()
    own_worker = worker is None
    worker = worker or NodeWorker()
    try:
        compilers = Compilers(worker, label=lambda p: sources.relative(root, p))
        snap = await Builder(root, compilers, DiskCache() if compile_cache else None).snapshot()
        if snap.errors:
            raise PackError(snap.errors)
        js, css = await _minified(snap, worker)
    finally:
        if own_worker:
            await worker.close()

    assets_dir = root / "public" / "assets"
    assets_dir.mkdir(parents=True, exist_ok=True)
    result = PackResult(root)
    js_source = len(client_js()) + sum(len(p.text.encode()) for p in snap.lib_js) + len(snap.app_js_text().encode())
    result.files["js"] = _write_bundle(assets_dir, "app", "js", js, js_source)
    result.files["css"] = _write_bundle(assets_dir, "app", "css", css, len(snap.css_text().encode()))

    tags = [script_tag(result.files["js"].url)]
    tags.extend(template_tag(t.id, html) for t, html in snap.templates)
    tags.append(css_tag(result.files["css"].url))
    result.index = root / "public" / "index.html"
    _write(result.index, insert_tags(snap.layout_html, "\n".join(tags)).encode("utf-8"))

    current = {f.path.name for f in result.files.values()}
    for old in assets_dir.iterdir():
        m = _PACK_NAME.match(old.name)
        if m and old.name.removesuffix(m.group(3) or "") not in current:
            old.unlink()
    state = {"root": str(root), "digest": input_digest(root), "index": _sha(result.index),
             "files": {k: f.path.name for k, f in result.files.items()}, "packed_at": time.time()}
    state_file(root).parent.mkdir(parents=True, exist_ok=True)
    _write(state_file(root), json.dumps(state, indent=2).encode())
    _forget_removed_apps(state_file(root).parent)
    result.seconds = time.monotonic() - started
    return result


def _forget_removed_apps(folder: Path) -> None:
    """Drop state files of apps whose folder is gone (test runs, deleted apps)."""
    for entry in folder.glob("*.json"):
        try:
            if not Path(json.loads(entry.read_text()).get("root", "/")).is_dir():
                entry.unlink()
        except (OSError, ValueError):
            pass


async def _minified(snap: Snapshot, worker: NodeWorker) -> tuple[str, str]:
    # The client is minified on its own: the app bundle is minified as one unit, and lib
    # files may rely on globals, so each keeps its own scope.
    pieces = [await minify_js(client_js().decode("utf-8"), worker, "ss-client.js")]
    for part in snap.lib_js:
        pieces.append(part.text if part.minified else await minify_js(part.text, worker, part.url))
    pieces.append(await minify_js(snap.app_js_text(), worker, "app.js"))
    # *.min.css from lib/css goes in as it is, like *.min.js.
    css = "\n".join(p.text.strip() if p.minified else minify_css(p.text) for p in snap.css if p.text.strip())
    return join_js(pieces), css
