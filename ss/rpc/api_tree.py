"""Load ``app/server/**.py`` into the server API tree (``SS.server`` / ``ss.server``).

``app/server/users/online.py`` becomes the namespace ``users.online``; inside
a file, the public methods of ``class Actions(ss.Actions)`` are actions, and
public nested classes are namespaces (``class admin:`` -> ``app.admin.ban``).
Names starting with ``_`` are private and never reachable.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from .actions import Actions
from ..errors import StartupError

__all__ = ["Action", "ApiTree", "ApiTreeError", "load_api_tree", "action_from_function"]

MODULE_PREFIX = "ss_app.server"


class ApiTreeError(StartupError):
    """The server code cannot be loaded as an API tree (a clash, or a file that fails to import)."""


@dataclass(slots=True)
class Action:
    """One callable server action and what the dispatcher needs to know to call it."""

    name: str                       # dotted: "app.admin.ban"
    owner: type | None              # class to instantiate per call; None for plain functions
    func: Callable[..., Any]
    params: tuple[str, ...]         # positional parameter names, without self and cb
    min_args: int
    max_args: int | None            # None: takes *args
    takes_cb: bool
    is_async: bool
    in_thread: bool
    authenticate: bool = False
    file: str = ""

    def arity_message(self, given: int) -> str:
        """Explain a wrong argument count, e.g. "app.square takes 1 argument (number) but 2 were given"."""
        if self.max_args is None:
            wanted = f"at least {self.min_args} argument{'s' * (self.min_args != 1)}"
        elif self.min_args == self.max_args:
            wanted = f"{self.max_args} argument{'s' * (self.max_args != 1)}"
        else:
            wanted = f"{self.min_args} to {self.max_args} arguments"
        names = f" ({', '.join(self.params)})" if self.params else ""
        return f"{self.name} takes {wanted}{names} but {given} {'was' if given == 1 else 'were'} given"


@dataclass
class ApiTree:
    """The loaded actions: a nested dict of namespaces plus a flat index by dotted name."""

    root: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)

    def resolve(self, path: tuple[str, ...] | str) -> Action | None:
        """The action at ``path`` ("app.square" or its parts), or None."""
        name = path if isinstance(path, str) else ".".join(path)
        return self.actions.get(name)

    def describe(self) -> dict[str, Any]:
        """The tree as sent to browsers: namespaces are objects, ``1`` marks an action."""

        def walk(node: dict[str, Any]) -> dict[str, Any]:
            return {k: walk(v) if isinstance(v, dict) else 1 for k, v in node.items()}

        return walk(self.root)

    def add(self, path: tuple[str, ...], action: Action, origin: str) -> None:
        node = self.root
        for i, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ApiTreeError(f"{origin}: {'.'.join(path[:i + 1])} is both an action and a namespace")
            node = child
        if path[-1] in node:
            raise ApiTreeError(f"{origin}: {'.'.join(path)} is defined twice")
        node[path[-1]] = action
        self.actions[".".join(path)] = action


def action_from_function(name: str, func: Callable[..., Any], owner: type | None = None, *,
                         authenticate: bool = False, file: str = "") -> Action:
    """Describe ``func`` (a plain function or an unbound method of ``owner``) as an Action."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    if owner is not None and params:
        params = params[1:]  # self
    takes_cb = bool(params) and params[-1].name == "cb" and params[-1].kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if takes_cb:
        params = params[:-1]
    positional = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    return Action(
        name=name,
        owner=owner,
        func=func,
        params=tuple(p.name for p in positional),
        min_args=len(required),
        max_args=None if variadic else len(positional),
        takes_cb=takes_cb,
        is_async=inspect.iscoroutinefunction(func),
        in_thread=getattr(func, "__ss_in_thread__", False),
        authenticate=authenticate,
        file=file,
    )


def _public_members(cls: type) -> dict[str, Any]:
    """Public attributes a class defines itself or inherits from user bases (not ss.Actions)."""
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, Actions):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_"):
                members[name] = value
    return members


def _add_class(tree: ApiTree, prefix: tuple[str, ...], cls: type, authenticate: bool, origin: str) -> None:
    for name, value in _public_members(cls).items():
        path = prefix + (name,)
        if inspect.isclass(value):
            _add_class(tree, path, value, authenticate, origin)
        elif inspect.isfunction(value):
            tree.add(path, action_from_function(".".join(path), value, cls, authenticate=authenticate, file=origin),
                     origin)


def _import_file(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        raise
    return module


def _check_clashes(server_dir: Path) -> None:
    """A file and a folder with the same name in one branch would claim the same namespace."""
    for folder in [server_dir, *sorted(p for p in server_dir.rglob("*") if p.is_dir())]:
        for file in folder.glob("*.py"):
            twin = file.with_suffix("")
            if twin.is_dir() and not twin.name.startswith(("_", ".")):
                raise ApiTreeError(
                    f"{file} and {twin}/ both define the namespace "
                    f"{'.'.join(twin.relative_to(server_dir).parts)}: rename one of them")


def load_api_tree(server_dir: Path, lib_server_dir: Path | None = None) -> ApiTree:
    """Import every public ``.py`` file under ``server_dir`` and build the tree.

    Raises ApiTreeError naming the file for clashes and import-time errors.
    ``lib_server_dir`` is put on ``sys.path`` first so server code can import it.
    """
    tree = ApiTree()
    if lib_server_dir is not None and lib_server_dir.is_dir() and str(lib_server_dir) not in sys.path:
        sys.path.insert(0, str(lib_server_dir))
    if not server_dir.is_dir():
        return tree
    _check_clashes(server_dir)
    for file in sorted(server_dir.rglob("*.py")):
        rel = file.relative_to(server_dir).with_suffix("")
        if any(part.startswith(("_", ".")) for part in rel.parts):
            continue
        prefix = tuple(rel.parts)
        try:
            module = _import_file(file, ".".join((MODULE_PREFIX, *prefix)))
        except Exception as exc:
            line = _error_line(exc, file)
            raise ApiTreeError(f"{file}:{line}: {type(exc).__name__}: {exc}") from exc
        actions_cls = getattr(module, "Actions", None)
        if not inspect.isclass(actions_cls):
            raise ApiTreeError(f"{file} defines no `class Actions(ss.Actions)`; server helpers belong in lib/server/")
        _add_class(tree, prefix, actions_cls, bool(getattr(module, "authenticate", False)), str(file))
    return tree


def _error_line(exc: BaseException, file: Path) -> int | str:
    if isinstance(exc, SyntaxError) and exc.filename == str(file):
        return exc.lineno or "?"
    tb = exc.__traceback__
    line: int | str = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(file):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
