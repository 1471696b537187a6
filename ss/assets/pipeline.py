"""AssetPipeline: what the server asks for the page and its assets.

Development: every asset is compiled on request from the current files
(cached until they change) and served under /_ss/assets/; a watcher pushes
live-reload messages (stylesheet swap, page reload, compile error overlay)
through ``notify`` and tells the server when server code changed.
Production-like environments (anything but development and test): the
pack in public/assets is made on start when missing or stale, and the page is
public/index.html.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import pathlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import sources
from .build import Builder, Snapshot
from .bundler import CLIENT_JS_URL, content_hash, css_tag, error_js, insert_tags, script_tag
from .compilers import Compilers
from .disk_cache import DiskCache
from .node_worker import NodeWorker
from .templates import script_tag as template_tag

if TYPE_CHECKING:  # imported where used: production never loads watchdog
    from .packer import PackResult
    from .watcher import Watcher

log = logging.getLogger("ss.assets")

DEV_ENVS = ("development", "test")
PREFIX = "/_ss/assets/"
DEV_JS = Path(__file__).resolve().parent.parent / "client_js" / "dev.js"
JS_TYPE = "application/javascript; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
_VERSION = re.compile(r"[0-9a-f]{10}")

# Folders whose changes the browser must hear about, and those that are server code.
ASSET_DIRS = ("app/client", "app/shared", "app/css", "app/views", "lib/client", "lib/css", "vendor")
SERVER_DIRS = ("app/server", "lib/server")
CSS_DIRS = ("app/css", "lib/css")


@dataclass
class Asset:
    """One response the server sends for GET /_ss/assets/<path>."""

    body: bytes
    content_type: str
    cache_control: str = "no-cache"
    etag: str | None = None


def _under(root: Path, path: Path, folders: tuple[str, ...]) -> bool:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return False
    return any(rel == f or rel.startswith(f + "/") for f in folders)


class AssetPipeline:
    """Compiles, serves and (in production) packs an app's browser assets."""

    def __init__(self, root: pathlib.Path, env: str, config: Any, notify: Callable[[dict], Any] | None = None) -> None:
        self.root = Path(root).resolve()
        self.env = env
        self.config = config
        self.notify = notify
        self.development = env in DEV_ENVS
        self.worker = NodeWorker()
        self.compilers = Compilers(self.worker, label=lambda p: sources.relative(self.root, p))
        self.disk_cache = DiskCache()
        self.builder = Builder(self.root, self.compilers, self.disk_cache)
        self._warming: asyncio.Task | None = None
        self._server_callbacks: list[Callable[[list[Path]], Any]] = []
        self._config_callbacks: list[Callable[[list[Path]], Any]] = []
        self._watcher: Watcher | None = None
        self._showing_error = False
        self._reload_pending = False  # a script or view changed while an error was showing
        self.pack_result: PackResult | None = None

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Development: start watching the app. Production: pack if missing or stale.

        Raises PackError (production) when the app's sources do not compile.
        """
        if self.development:
            from .watcher import Watcher

            folders = [self.root / d for d in ("app", "lib", "config", "vendor")]
            self._watcher = Watcher(folders, self._on_changes)
            self._watcher.start()
            # Compile everything now, in the background: the server listens at once, errors
            # still show in the terminal at start, and the first page finds it all built.
            self._warming = asyncio.create_task(self._warm())
        else:
            from .packer import ensure_pack

            # Its own worker, closed once packed: a production server keeps no idle Node process.
            self.pack_result = await ensure_pack(self.root, self.config)

    async def _warm(self) -> None:
        try:
            snap = await self.builder.snapshot()
        except Exception:  # never let a warm-up failure escape into the loop
            log.exception("compiling the app's assets at start failed")
            return
        self._showing_error = self._showing_error or bool(snap.errors)
        await asyncio.to_thread(self.disk_cache.prune)
        # Files may all have come from the disk cache: start Node anyway, so the first save is quick.
        try:
            await self.worker.call("warm")
        except Exception as exc:  # no Node: the first compile will say so, with the file's name
            log.debug("node worker warm-up failed: %s", exc)

    async def close(self) -> None:
        """Stop the watcher and the Node worker."""
        if self._warming and not self._warming.done():
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming
        if self._watcher:
            self._watcher.stop()
            self._watcher = None
        await self.worker.close()

    def on_server_change(self, callback: Callable[[list[Path]], Any]) -> None:
        """Call ``callback(paths)`` when .py files under app/server or lib/server change."""
        self._server_callbacks.append(callback)

    def on_config_change(self, callback: Callable[[list[Path]], Any]) -> None:
        """Call ``callback(paths)`` when .py files under config/ change (reload config, or restart)."""
        self._config_callbacks.append(callback)

    # -- serving -----------------------------------------------------------

    async def page(self) -> str:
        """The full HTML of the layout with the asset tags in place of ``!= SocketStream``."""
        if not self.development:
            index = self.root / "public" / "index.html"
            if not index.is_file():
                from .packer import ensure_pack

                self.pack_result = await ensure_pack(self.root, self.config)
            return index.read_text(encoding="utf-8")
        snap = await self.builder.snapshot()
        if "page" not in snap.memo:
            tags = self._dev_tags(snap)
            meta = f'<meta name="ss-assets" content="{self._version(snap, tags)}">'
            snap.memo["page"] = insert_tags(snap.layout_html, tags + "\n" + meta)
        return snap.memo["page"]

    @staticmethod
    def _version(snap: Snapshot, tags: str) -> str:
        if "version" not in snap.memo:
            snap.memo["version"] = content_hash(snap.layout_html + tags)
        return snap.memo["version"]

    async def version(self) -> str | None:
        """Development: a hash of the current page and every asset in it (None in production).

        The page carries it as ``<meta name="ss-assets">``. A browser that
        (re)connects with an older one missed a live-reload message (it was
        reloading, or the server restarted) and should reload.
        """
        if not self.development:
            return None
        snap = await self.builder.snapshot()
        return self._version(snap, self._dev_tags(snap)) if "version" not in snap.memo else snap.memo["version"]

    @staticmethod
    def _url(name: str, body: str | bytes) -> str:
        """``/_ss/assets/<content hash>/<name>``: a URL whose content never changes,
        so the browser may cache it for good and a reload refetches only what changed."""
        return f"{PREFIX}{content_hash(body)}/{name}"

    def _dev_tags(self, snap: Snapshot) -> str:
        tags = [script_tag(CLIENT_JS_URL), script_tag(self._url("dev.js", DEV_JS.read_bytes()))]
        for part in snap.lib_js + snap.app_js:
            tags.append(script_tag(self._url(part.url, part.text)))
        tags.append(script_tag(self._url("templates.js", snap.templates_js)))
        tags.extend(template_tag(t.id, html) for t, html in snap.templates)
        tags.append(css_tag(self._css_href(snap)))
        # JS errors announce themselves from their own asset; the others (CSS, views, the
        # layout) from errors.js: a script file, since the page's CSP forbids inline ones.
        errors_js = self._other_errors_js(snap)
        if errors_js:
            tags.append(script_tag(self._url("errors.js", errors_js)))
        return "\n".join(tags)

    @staticmethod
    def _other_errors_js(snap: Snapshot) -> str:
        """The overlay script for the first error not already reported by a JS asset."""
        js_errors = {id(p.error) for p in snap.lib_js + snap.app_js if p.error}
        others = [e for e in snap.errors if id(e) not in js_errors]
        return error_js(others[0]) if others else ""

    def _css_href(self, snap: Snapshot) -> str:
        if "css_href" not in snap.memo:
            snap.memo["css_href"] = self._url("app.css", snap.css_text())
        return snap.memo["css_href"]

    async def asset(self, path: str) -> Asset | None:
        """The development asset at /_ss/assets/[<hash>/]<path>, or None (404).

        Only names the current snapshot lists are served, so no path can reach
        outside the app's asset folders. When the URL's hash is the content's,
        the answer may be cached for good; otherwise (an old page asking) the
        current content comes back, revalidated on every use.
        """
        path = path.split("?", 1)[0].lstrip("/")
        if path.startswith(PREFIX.lstrip("/")):
            path = path[len(PREFIX) - 1:]
        if not path or "\\" in path or "\0" in path or any(seg in ("", ".", "..") for seg in path.split("/")):
            return None
        if not self.development:
            return None
        version, _, rest = path.partition("/")
        if rest and _VERSION.fullmatch(version):
            asset = await self._current(rest)
            if asset is not None and asset.etag is not None and asset.etag.startswith(version):
                return dataclasses.replace(asset, cache_control=IMMUTABLE)
            return asset
        return await self._current(path)

    async def _current(self, path: str) -> Asset | None:
        if path == "dev.js":
            return self._asset(DEV_JS.read_bytes(), JS_TYPE)
        snap = await self.builder.snapshot()
        if "assets" not in snap.memo:
            bodies = {part.url: (part.text, JS_TYPE) for part in snap.lib_js + snap.app_js}
            bodies["templates.js"] = (snap.templates_js, JS_TYPE)
            bodies["app.css"] = (snap.css_text(), CSS_TYPE)
            bodies["errors.js"] = (self._other_errors_js(snap), JS_TYPE)
            snap.memo["assets"] = {url: self._asset(text, kind) for url, (text, kind) in bodies.items()}
        return snap.memo["assets"].get(path)

    @staticmethod
    def _asset(body: str | bytes, content_type: str) -> Asset:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return Asset(data, content_type, "no-cache", content_hash(data, 16))  # the server adds the quotes

    # -- live reload -------------------------------------------------------

    async def _on_changes(self, paths: list[Path]) -> None:
        """Handle one debounced batch of file changes from the watcher."""
        root = self.root
        server = [p for p in paths if p.suffix == ".py" and _under(root, p, SERVER_DIRS)]
        if server:
            log.info("server code changed: %s", ", ".join(sources.relative(root, p) for p in server))
            await self._call_back(self._server_callbacks, server)
        config = [p for p in paths if p.suffix == ".py" and _under(root, p, ("config",))]
        if config:
            if self._config_callbacks:
                await self._call_back(self._config_callbacks, config)
            else:
                log.warning("%s changed: restart the server to apply it",
                            ", ".join(sources.relative(root, p) for p in config))
        changed = [p for p in paths if _under(root, p, ASSET_DIRS)]
        if not changed:
            return
        self.builder.invalidate(changed)
        snap = await self.builder.snapshot()
        css_only = all(_under(root, p, CSS_DIRS) for p in changed)
        if snap.errors:
            self._showing_error = True
            self._reload_pending = self._reload_pending or not css_only
            await self._notify({"type": "asset_error", "error": snap.errors[0].to_dict()})
            return
        if self._showing_error:
            self._showing_error = False
            await self._notify({"type": "asset_ok"})
        if self._reload_pending:
            self._reload_pending = False
            css_only = False
        if css_only:
            await self._notify({"type": "css", "href": self._css_href(snap)})
        else:
            await self._notify({"type": "reload"})

    @staticmethod
    async def _call_back(callbacks: list, paths: list[Path]) -> None:
        for callback in list(callbacks):
            try:
                result = callback(paths)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a broken reload must not stop the watcher
                log.exception("file change callback failed")

    async def _notify(self, message: dict) -> None:
        log.debug("live reload: %s", message)
        if self.notify is None:
            return
        try:
            result = self.notify(message)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("notify failed")
