"""Files from the app's ``public/`` folder, with types, ETags and caching; nothing outside it."""

from __future__ import annotations

import tornado.web

IMMUTABLE = "public, max-age=31536000, immutable"


class PublicFileHandler(tornado.web.StaticFileHandler):
    """Serves public/. Content-hashed packs under /assets/ are cached for a year; the rest revalidate."""

    def parse_url_path(self, url_path: str) -> str:
        if "\x00" in url_path:
            raise tornado.web.HTTPError(404)  # a NUL byte can never name a file
        return super().parse_url_path(url_path)

    def set_extra_headers(self, path: str) -> None:
        if path.replace("\\", "/").startswith("assets/"):
            self.set_header("Cache-Control", IMMUTABLE)
        else:
            self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_error(self, status_code: int, **kwargs) -> None:
        # Tornado answers 403 for paths that leave public/ (../, encoded or not) and for
        # folders; answer those exactly like a missing file so nothing about the disk leaks.
        if status_code == 403:
            self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{self.get_status()} {self._reason}\n")
