"""Source compilers behind one interface, chosen by file extension.

``await compilers.compile(path)`` returns a ``Compiled`` (JS, CSS or HTML text
plus the other files it read) or raises ``CompileError``. CoffeeScript and
Stylus go to the shared Node worker; Sass, Jade and the pass-through kinds run
in-process.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sass

from . import jade
from .errors import CompileError
from .node_worker import NodeWorker

JS, CSS, HTML = "js", "css", "html"

#: extension -> the kind of text it compiles to
KINDS: dict[str, str] = {
    ".js": JS,
    ".coffee": JS,
    ".css": CSS,
    ".styl": CSS,
    ".scss": CSS,
    ".sass": CSS,
    ".html": HTML,
    ".jade": HTML,
    ".pug": HTML,
}

_SASS_POSITION = re.compile(r"on line (\d+):(\d+) of (\S+)")


@dataclass
class Compiled:
    """The output of one compile: ``text`` of ``kind``, and the extra files it read."""

    text: str
    kind: str
    deps: list[Path] = field(default_factory=list)


def kind_of(path: Path) -> str | None:
    """The output kind for a file name, or None when no compiler handles it."""
    return KINDS.get(path.suffix.lower())


class Compilers:
    """Compiles any supported file; ``label`` turns paths into the names errors show."""

    def __init__(self, worker: NodeWorker, label=lambda p: str(p)) -> None:
        self.worker = worker
        self.label = label

    async def compile(self, path: Path, source: str | None = None) -> Compiled:
        """Compile ``path`` (reading it unless ``source`` is given). Raises CompileError."""
        ext = path.suffix.lower()
        if ext not in KINDS:
            raise CompileError(self.label(path), f"no compiler for {ext or 'files without an extension'}")
        if source is None:
            try:
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CompileError(self.label(path), f"cannot read: {exc}") from exc
        handler = getattr(self, "_" + ext[1:])
        return await handler(path, source)

    async def _js(self, path: Path, source: str) -> Compiled:
        return Compiled(source, JS)

    async def _coffee(self, path: Path, source: str) -> Compiled:
        try:
            result = await self.worker.call("coffee", source=source, filename=str(path))
        except CompileError as exc:
            raise self._relabel(exc, path) from None
        return Compiled(result["code"], JS)

    async def _css(self, path: Path, source: str) -> Compiled:
        return Compiled(source, CSS)

    async def _styl(self, path: Path, source: str) -> Compiled:
        try:
            result = await self.worker.call("stylus", source=source, filename=str(path), paths=[str(path.parent)])
        except CompileError as exc:
            raise self._relabel(exc, path) from None
        return Compiled(result["code"], CSS, [Path(d) for d in result.get("deps") or []])

    async def _scss(self, path: Path, source: str) -> Compiled:
        indented = path.suffix.lower() == ".sass"
        try:
            css = sass.compile(
                string=source,
                indented=indented,
                include_paths=[str(path.parent)],
                output_style="expanded",
            )
        except sass.CompileError as exc:
            text = str(exc)
            m = _SASS_POSITION.search(text)
            reason = text.split("\n", 1)[0].removeprefix("Error: ").strip()
            line, column = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            file = path
            if m and m.group(3) not in ("stdin", str(path)):
                file = Path(m.group(3))
            raise CompileError(self.label(file), reason, line, column) from None
        return Compiled(css, CSS)

    _sass = _scss

    async def _html(self, path: Path, source: str) -> Compiled:
        return Compiled(source, HTML)

    async def _jade(self, path: Path, source: str) -> Compiled:
        return Compiled(jade.render(source, self.label(path)), HTML)

    _pug = _jade

    def _relabel(self, exc: CompileError, path: Path) -> CompileError:
        """Errors from the worker name absolute paths; show the app-relative name."""
        file = Path(exc.file) if exc.file else path
        return CompileError(self.label(file), exc.message, exc.line, exc.column)
