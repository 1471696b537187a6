"""The package layout is a dependency order, and only ss/realtime/compat.py touches other libraries' internals.

Layers, top to bottom (each may import the ones below it, never above):

    cli, console, testing, workers, serving, app      entry points and the running app
    web                                               HTTP: application, API, cookies, middleware
    realtime                                          connections, transports, pub/sub
    rpc, sessions                                     calls; sessions and sign-in
    protocol, store, settings, errors, ...            pure wire layer, backends, configuration
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ss"

# What each part of ss must never import (by module prefix).
FORBIDDEN = {
    "ss.protocol": ["ss.", "tornado", "asyncio", "socket", "redis", "fakeredis"],
    "ss.errors": ["ss."],
    "ss.store": ["ss.rpc", "ss.sessions", "ss.realtime", "ss.web", "ss.app", "ss.serving", "ss.testing", "ss.assets"],
    "ss.settings": ["ss.rpc", "ss.sessions", "ss.realtime", "ss.web", "ss.app", "ss.serving", "ss.store"],
    "ss.presets": ["ss.rpc", "ss.sessions", "ss.realtime", "ss.web", "ss.app", "ss.serving", "ss.store", "ss.settings"],
    "ss.rpc": ["ss.realtime", "ss.web", "ss.app", "ss.serving", "ss.testing", "ss.cli", "tornado"],
    "ss.sessions": ["ss.realtime", "ss.web", "ss.app", "ss.serving", "ss.testing", "ss.cli", "tornado"],
    "ss.realtime": ["ss.web", "ss.app", "ss.serving", "ss.testing", "ss.cli", "ss.console", "ss.workers"],
    "ss.web": ["ss.app", "ss.serving", "ss.testing", "ss.cli", "ss.console", "ss.workers"],
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x: each name is a submodule (or a name of the package)
                    found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
                    continue
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "skeleton" not in p.parts)


def test_layers_import_only_downwards():
    violations = []
    for path in source_files():
        name = module_name(path)
        for layer, forbidden in FORBIDDEN.items():
            if name != layer and not name.startswith(layer + "."):
                continue
            for line, target in imports_of(path):
                for prefix in forbidden:
                    under = target.startswith(prefix) if prefix.endswith(".") else \
                        (target == prefix or target.startswith(prefix + "."))
                    if under and not (target == layer or target.startswith(layer + ".")):
                        violations.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} "
                                          f"({layer} must not import {prefix.rstrip('.')})")
    assert not violations, "\n".join(violations)


def _names_ss_defines() -> set[str]:
    """Every private name that ss itself defines (attributes, functions, classes, slots, keywords)."""
    names: set[str] = set()
    for path in source_files():
        if path.name == "compat.py":
            continue  # the names it reaches for are other libraries'
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
                names.add(node.value)  # __slots__ entries, getattr(..., "_x") of ss's own objects
    return names


PUBLIC_UNDERSCORE = {"_exit"}  # os._exit is documented API


def test_only_compat_touches_private_names_of_other_libraries():
    own = _names_ss_defines() | PUBLIC_UNDERSCORE
    compat = PACKAGE / "realtime" / "compat.py"
    violations = []
    for path in source_files():
        if path == compat:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.ImportFrom) and not node.level and not (node.module or "").startswith("ss"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        violations.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {alias.name}")
                continue
            if name and name.startswith("_") and not name.startswith("__") and name not in own:
                violations.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} uses .{name}")
    assert not violations, "private names of other libraries outside ss/realtime/compat.py:\n" + "\n".join(violations)


@pytest.mark.parametrize("name", ["config", "server", "publish", "users", "presence", "shared", "db", "env", "R"])
def test_no_submodule_hides_a_runtime_attribute(name):
    # `ss.config` etc. read from the running app; a submodule of that name would shadow it once imported.
    assert not (PACKAGE / f"{name}.py").exists() and not (PACKAGE / name).is_dir()


def test_every_exception_ss_raises_on_purpose_has_one_root():
    # ss/errors.py draws the tree; the wire layer (pure, imports nothing of ss) and the
    # compat check (an ImportError at import) are the two documented exceptions.
    import importlib
    import inspect

    from ss.errors import SSError

    outside = []
    for path in source_files():
        name = module_name(path)
        if name.startswith(("ss.protocol", "ss.realtime.compat", "ss.testing", "ss.__main__")):
            continue
        module = importlib.import_module(name)
        for cls_name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == name and cls_name[0] != "_" \
                    and not issubclass(cls, SSError):
                outside.append(f"{name}.{cls_name}")
    assert not outside, f"exceptions outside ss.errors.SSError: {outside}"
