"""Where an ss app's folders are. ``find_project()`` looks upward from the current directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from .errors import StartupError

__all__ = ["Project", "NotAnApp", "find_project"]


class NotAnApp(StartupError):
    """The folder is not an ss app; the message says what to run instead."""


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def server_dir(self) -> Path:
        return self.root / "app" / "server"

    @property
    def client_dir(self) -> Path:
        return self.root / "app" / "client"

    @property
    def shared_dir(self) -> Path:
        return self.root / "app" / "shared"

    @property
    def views_dir(self) -> Path:
        return self.root / "app" / "views"

    @property
    def lib_server_dir(self) -> Path:
        return self.root / "lib" / "server"

    @property
    def public_dir(self) -> Path:
        return self.root / "public"

    @property
    def static_dir(self) -> Path:
        return self.root / "static"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"


def is_app(folder: Path) -> bool:
    return (folder / "app" / "server").is_dir() and (folder / "config").is_dir()


def find_project(start: Path | None = None) -> Project:
    """The app containing ``start`` (default: the current directory).

    Raises NotAnApp when neither ``start`` nor a parent holds app/server and config/.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_app(folder):
            return Project(folder)
    raise NotAnApp(f"{start} is not inside an ss app (no app/server/ and config/ found). "
                   "Create one with `python -m ss new myapp`, then `cd myapp` and run this again.")
