"""Which files make up an app's browser assets, and in what order.

Everything is found by listing the folders at the moment it is asked, so a
file added to lib/ or app/ is picked up without a restart (the seed needed one).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .compilers import CSS, HTML, JS, kind_of
from .errors import CompileError

_NUMERIC_PREFIX = re.compile(r"^(\d+)")
LAYOUT_NAMES = ("app.jade", "app.pug", "app.html")


@dataclass(frozen=True)
class Module:
    """One app/client or app/shared file: mounted at SS.<tree>.<name with dots>."""

    tree: str  # "client" or "shared"
    name: str  # "people/customers"
    path: Path


@dataclass(frozen=True)
class Template:
    """One app/views file other than the layout; ``id`` is its path joined with '-'."""

    id: str
    path: Path


def relative(root: Path, path: Path) -> str:
    """``path`` as the app-relative, slash-separated name shown in errors and URLs."""
    text, base = str(path), str(root) + os.sep
    if text.startswith(base):  # the common case, without pathlib's slow relative_to
        return text[len(base):].replace(os.sep, "/")
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def lib_order_key(name: str) -> tuple:
    """Numeric prefixes first, by number (2.x before 10.x), then the rest by name."""
    m = _NUMERIC_PREFIX.match(name)
    return (0, int(m.group(1)), name.lower()) if m else (1, 0, name.lower())


def is_minified(path: Path) -> bool:
    """Files with ``.min`` in their name are never minified again."""
    return ".min." in path.name or path.name.endswith(".min")


def _files(folder: Path) -> list[Path]:
    """Every regular, non-hidden file under ``folder``, recursively."""
    found: list[Path] = []
    if not folder.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if not f.startswith(".") and not f.endswith("~"))
    return found


def lib_files(root: Path, kind: str) -> list[Path]:
    """lib/client (kind "js") or lib/css (kind "css") in numeric-prefix order."""
    folder = root / "lib" / ("client" if kind == JS else "css")
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and kind_of(p) == kind]
    return sorted(files, key=lambda p: lib_order_key(p.name))


def vendor_files(root: Path) -> list[Path]:
    """``vendor/<name>/lib/<name>.js`` (or .coffee) for each vendored library, by name."""
    folder = root / "vendor"
    if not folder.is_dir():
        return []
    found = []
    for lib in sorted(folder.iterdir(), key=lambda p: lib_order_key(p.name)):
        for ext in (".js", ".coffee"):
            candidate = lib / "lib" / f"{lib.name}{ext}"
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def modules(root: Path, tree: str) -> list[Module]:
    """The app/<tree> modules in load order (by path).

    Raises CompileError when a file and a folder share a name in one branch
    (``foo.coffee`` beside ``foo/``) or two files give the same module
    (``foo.js`` beside ``foo.coffee``): the API tree would be ambiguous.
    """
    folder = root / "app" / tree
    by_name: dict[str, Path] = {}
    folders: set[str] = set()
    for path in _files(folder):
        if kind_of(path) != JS:
            continue
        name = path.relative_to(folder).with_suffix("").as_posix()
        if name in by_name:
            raise CompileError(
                relative(root, path),
                f"{relative(root, by_name[name])} and {relative(root, path)} both define SS.{tree}.{name.replace('/', '.')}",
                1,
                1,
            )
        by_name[name] = path
        parts = name.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for name in sorted(set(by_name) & folders):
        raise CompileError(
            relative(root, by_name[name]),
            f"file {relative(root, by_name[name])} and folder app/{tree}/{name}/ clash: "
            f"both would be SS.{tree}.{name.replace('/', '.')}; rename one",
            1,
            1,
        )
    return [Module(tree, name, by_name[name]) for name in sorted(by_name, key=lambda n: n.split("/"))]


def layout(root: Path) -> Path | None:
    """app/views/app.jade (or .pug, or app.html), whichever exists first."""
    for name in LAYOUT_NAMES:
        candidate = root / "app" / "views" / name
        if candidate.is_file():
            return candidate
    return None


def template_id(relative_path: str) -> str:
    """``people/customers/info.jade`` -> ``people-customers-info``."""
    without_ext = relative_path.rsplit(".", 1)[0] if "." in relative_path.rsplit("/", 1)[-1] else relative_path
    return without_ext.replace("/", "-")


def templates(root: Path) -> list[Template]:
    """Every view other than the layout, by path. Raises CompileError on duplicate ids."""
    folder = root / "app" / "views"
    the_layout = layout(root)
    found: dict[str, Template] = {}
    for path in sorted(_files(folder)):
        if path == the_layout or kind_of(path) != HTML:
            continue
        tid = template_id(path.relative_to(folder).as_posix())
        if tid in found:
            other = relative(root, found[tid].path)
            raise CompileError(relative(root, path), f"template id {tid!r} is also used by {other}", 1, 1)
        found[tid] = Template(tid, path)
    return list(found.values())


def css_entries(root: Path) -> list[Path]:
    """The stylesheets to compile from app/css: ``app.*`` when present (it @imports
    the rest), else every top-level file not starting with '_'."""
    folder = root / "app" / "css"
    if not folder.is_dir():
        return []
    top = sorted(p for p in folder.iterdir() if p.is_file() and kind_of(p) == CSS and not p.name.startswith((".", "_")))
    apps = [p for p in top if p.stem == "app"]
    return apps[:1] if apps else top


#: the folders holding every input of the browser assets
INPUT_DIRS = ("app/client", "app/shared", "app/css", "app/views", "lib/client", "lib/css", "vendor")


def watched_files(root: Path) -> list[Path]:
    """Every input of the browser assets (for change detection and pack state)."""
    files = []
    for sub in INPUT_DIRS:
        files.extend(_files(root / sub))
    return sorted(files)
