"""Files from the app's ``public/`` folder, with types, ETags and caching; nothing outside it."""

from __future__ import annotations

import mimetypes
import os

import tornado.httputil
import tornado.web

from .base import add_security_headers

IMMUTABLE = "public, max-age=31536000, immutable"


class PublicFileHandler(tornado.web.StaticFileHandler):
    """Serves public/. Content-hashed packs under /assets/ are cached for a year; the rest revalidate."""

    def initialize(self, path: str, default_filename: str | None = None, app=None) -> None:
        super().initialize(path, default_filename)
        self.app = app

    def parse_url_path(self, url_path: str) -> str:
        if "\x00" in url_path:
            raise tornado.web.HTTPError(404)  # a NUL byte can never name a file
        return super().parse_url_path(url_path)

    async def get(self, path: str, include_body: bool = True) -> None:
        # Packs are written with .br/.gz twins: send one when the browser takes it.
        self._encoding = None
        if path.replace("\\", "/").startswith("assets/"):
            accepted = self.request.headers.get("Accept-Encoding", "")
            for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
                if encoding in accepted and os.path.isfile(os.path.join(self.root, path + suffix)):
                    self._encoding = encoding
                    self._original_path = path
                    path = path + suffix
                    break
        await super().get(path, include_body)

    def get_content_type(self) -> str:
        if self._encoding is not None:
            return mimetypes.guess_type(self._original_path)[0] or "application/octet-stream"
        return super().get_content_type()

    def set_extra_headers(self, path: str) -> None:
        if self._encoding is not None:
            self.set_header("Content-Encoding", self._encoding)
        if path.replace("\\", "/").startswith("assets/"):
            self.set_header("Cache-Control", IMMUTABLE)
        else:
            self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")
        if self.app is not None and self.get_content_type().startswith("text/html"):
            # An HTML file in public/ is a page of the app's origin: same CSP and framing rules as "/".
            add_security_headers(self)

    def write_error(self, status_code: int, **kwargs) -> None:
        # Tornado answers 403 for paths that leave public/ (../, encoded or not) and for
        # folders; answer those exactly like a missing file so nothing about the disk leaks.
        if status_code == 403:
            self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        status = self.get_status()
        self.finish(f"{status} {tornado.httputil.responses.get(status, 'Error')}\n")
