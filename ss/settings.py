"""Configuration: an env preset, then ``config/app.py``, then ``config/environments/<env>.py``.

Each file defines ``config = {...}``; dictionaries are deep-merged, everything
else replaces. $SS_REDIS_URL and the overrides of the command line (or tests)
come last. The result is a :class:`Config`, a dict whose keys also read as
attributes (``ss.config.http.port``).

Every layer is checked against :data:`SCHEMA`, which is derived from
``ss.presets.BASE`` (its keys, the types of its defaults) and ``ss.presets.TYPES``
(the types a default does not tell). An unknown key or a value of the wrong type
stops the start with a :class:`ConfigError` naming the key, the file and what to
write instead. After the checks every key of the schema is present with a value
of its type (ints given for float keys come out as floats), so call sites read
``config.limits.shutdown_timeout`` without defaults or casts.
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import os
import re
import traceback
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import StartupError
from .presets import BASE, PRESETS, TYPES

__all__ = ["Config", "ConfigError", "load_config", "deep_merge", "Key", "Section", "SCHEMA", "APP_NAMESPACES"]

#: Sections where the app keeps settings of its own (any keys; ss never reads them).
APP_NAMESPACES = ("app", "db")

#: Keys that say which Redis to use: setting one in the app's config turns Redis on
#: (unless the config sets redis.enabled itself).
REDIS_CONNECTION_KEYS = ("url", "host", "port", "db_index", "password", "sentinel")


class ConfigError(StartupError):
    """The app's configuration cannot be used; the message names the file (and line) and key to fix."""


class Config(dict):
    """A dict whose keys also read as attributes; nested dicts are Configs too.

    A missing attribute raises AttributeError naming the full key, so a typo in
    ``ss.config.limiter.rsp`` says which key does not exist.
    """

    __slots__ = ("_path",)

    def __init__(self, data: Mapping | None = None, _path: str = "config"):
        super().__init__()
        self._path = _path
        for key, value in (data or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) and not isinstance(value, Config):
            value = Config(value, f"{self._path}.{key}")
        super().__setitem__(key, value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            if name.startswith("__"):
                raise AttributeError(name) from None
            section = SCHEMA.find(self._path.partition(".")[2]) if "." in self._path else SCHEMA
            hint = _suggestion(name, section) if isinstance(section, Section) else ""
            raise AttributeError(f"{self._path}.{name} is not set" + (f"; {hint}" if hint else "")) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_path":
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def get_path(self, dotted: str, default: Any = None) -> Any:
        """``config.get_path("api.auth.basic.module_name")``, or ``default`` when any part is missing."""
        node: Any = self
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def to_dict(self) -> dict:
        return {k: v.to_dict() if isinstance(v, Config) else copy.deepcopy(v) for k, v in self.items()}


def deep_merge(base: dict, override: Mapping) -> dict:
    """Merge ``override`` into a copy of ``base``: dicts merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --- The schema: ss.presets.BASE and ss.presets.TYPES as Keys and Sections ----------------------

_TYPE_NAMES = {bool: "bool", int: "int", float: "number", str: "str", list: "list", dict: "dict"}


def _type_name(kind: type | None) -> str:
    return "anything" if kind is None else _TYPE_NAMES.get(kind, kind.__name__)


class _Wrong(Exception):
    """A value does not fit its key; str() says what was expected and what was given."""


def _given(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


def _fit(kind: type | None, value: Any) -> Any:
    """``value`` as ``kind`` (an int for a float key becomes a float), or raise _Wrong with a hint."""
    if kind is None:
        return copy.deepcopy(value)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is dict and isinstance(value, Mapping):
        return copy.deepcopy(dict(value))
    if kind in (bool, str) and isinstance(value, kind):
        return value
    hint = ""
    if isinstance(value, str) and kind in (int, float):
        try:
            float(value)
            hint = f": write {value.strip()} without quotes"
        except ValueError:
            pass
    elif isinstance(value, str) and kind is bool and value.strip().lower() in ("true", "false"):
        hint = ": write True or False without quotes"
    raise _Wrong(hint)


@dataclass(frozen=True)
class Key:
    """One setting: its dotted path, its type, its default, and whether None is a value it takes."""

    path: str
    type: type                  # bool, int, float (int accepted), str, list, or dict (open: any keys)
    default: Any
    nullable: bool = False      # the default is None: None or ``type``
    items: builtins.type | None = None   # list keys: the type of every item (None: anything)

    @property
    def type_name(self) -> str:
        """How docs/config.md and errors name the type: ``int``, ``str or None``, ``list of str``..."""
        if self.type is list:
            name = f"list of {_type_name(self.items)}" if self.items is not None else "list"
        elif self.type is dict:
            name = "dict (any keys)"
        else:
            name = _type_name(self.type)
        return f"{name} or None" if self.nullable else name

    def convert(self, value: Any) -> Any:
        """``value`` with this key's type (a fresh copy for lists and dicts); raises _Wrong."""
        if value is None:
            if self.nullable:
                return None
            raise _Wrong(f"expected {self.type_name}, given None")
        if self.type is list:
            if not isinstance(value, (list, tuple)):
                raise _Wrong(f"expected {self.type_name}, given {_given(value)}")
            items = []
            for index, item in enumerate(value):
                try:
                    items.append(_fit(self.items, item))
                except _Wrong as exc:
                    raise _Wrong(f"item {index}: expected {_type_name(self.items)}, given {_given(item)}{exc}") from None
            return items
        try:
            return _fit(self.type, value)
        except _Wrong as exc:
            raise _Wrong(f"expected {self.type_name}, given {_given(value)}{exc}") from None


@dataclass(frozen=True)
class Section:
    """A dict of settings (``http``, ``limiter.websockets``): only its own keys are allowed in it."""

    path: str
    keys: dict = field(default_factory=dict)   # name -> Key | Section

    def walk(self) -> Iterator["Key | Section"]:
        """Every key and subsection below this one, depth first, in preset order."""
        for node in self.keys.values():
            yield node
            if isinstance(node, Section):
                yield from node.walk()

    def find(self, dotted: str) -> "Key | Section | None":
        node: Key | Section | None = self
        for part in dotted.split("."):
            if not isinstance(node, Section):
                return None
            node = node.keys.get(part)
        return node


def _key(path: str, default: Any, declared: Any) -> Key:
    if declared is None:
        if default is None:
            raise TypeError(f"ss/presets.py: {path} defaults to None, so its type must be given in TYPES")
        kind = type(default)
        if kind not in _TYPE_NAMES:
            raise TypeError(f"ss/presets.py: {path}: defaults of type {kind.__name__} are not supported")
        return Key(path, kind, default)
    items = None
    if typing.get_origin(declared) is list:
        (items,) = typing.get_args(declared) or (None,)
        declared = list
    key = Key(path, declared, default, nullable=default is None, items=items)
    if default is not None:
        try:
            key.convert(default)
        except _Wrong as exc:
            raise TypeError(f"ss/presets.py: {path}: the default does not fit TYPES: {exc}") from None
    return key


def build_schema(base: Mapping, types: Mapping[str, Any]) -> Section:
    """The Section for ``base`` (nested dicts of defaults), typed where ``types`` says (dotted keys)."""
    def section(values: Mapping, path: str) -> Section:
        keys: dict[str, Key | Section] = {}
        for name, default in values.items():
            dotted = f"{path}.{name}" if path else name
            if isinstance(default, Mapping) and default:
                keys[name] = section(default, dotted)
            else:
                keys[name] = _key(dotted, default, types.get(dotted))
        return Section(path, keys)

    schema = section(base, "")
    for dotted in types:
        if not isinstance(schema.find(dotted), Key):
            raise TypeError(f"ss/presets.py: TYPES names {dotted}, which is not a key of BASE")
    return schema


#: Every key an app may set, from ss/presets.py.
SCHEMA = build_schema(BASE, TYPES)


# --- Checking one layer of config against the schema ---------------------------------------------

class _Source:
    """Where a layer of config comes from (a file, $SS_REDIS_URL, the overrides), to name in errors."""

    def __init__(self, label: str, path: Path | None = None):
        self.label = label
        self.lines: dict[str, int] = {}     # dotted key -> line, for dict literals in the file
        self.names: dict[str, list[int]] = {}  # key name -> lines of every dict literal key so named
        if path is not None:
            try:
                self._index(ast.parse(path.read_text(encoding="utf-8")))
            except (OSError, SyntaxError, ValueError):
                pass

    def _index(self, tree: ast.AST) -> None:
        def walk(node: ast.Dict, prefix: str) -> None:
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self.lines.setdefault(prefix + key.value, key.lineno)
                    if isinstance(value, ast.Dict):
                        walk(value, prefix + key.value + ".")

        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        self.names.setdefault(key.value, []).append(key.lineno)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(target, ast.Name) and target.id == "config" for target in node.targets):
                walk(node.value, "")

    def where(self, dotted: str) -> str:
        """``config/app.py:3`` when the key's line is known, else the label."""
        line = self.lines.get(dotted)
        if line is None:
            found = self.names.get(dotted.rsplit(".", 1)[-1], [])
            line = found[0] if len(found) == 1 else None
        return f"{self.label}:{line}" if line is not None else self.label


def _suggestion(name: str, section: Section) -> str:
    """``did you mean limiter.rps?``, or "" when nothing is close."""
    def dotted(child: str) -> str:
        return f"{section.path}.{child}" if section.path else child

    close = difflib.get_close_matches(name, list(section.keys), n=1, cutoff=0.6) or [
        key for key in section.keys if len(name) >= 2 and (key.startswith(name) or name.startswith(key))][:1]
    if close:
        return f"did you mean {dotted(close[0])}?"
    # The key, or one spelt like it, further down this section, else in another one.
    below = [node.path for node in section.walk()]
    others = [node.path for node in SCHEMA.walk() if node.path not in below]
    for paths in (below, others):
        leaf = {path: path.rsplit(".", 1)[-1] for path in paths}
        found = [path for path, last in leaf.items() if last == name]
        if not found:
            near = set(difflib.get_close_matches(name, set(leaf.values()), n=3, cutoff=0.6))
            found = [path for path, last in leaf.items() if last in near]
        if found:
            where = f" ({section.path} has {', '.join(section.keys)})" if paths is others and section.path else ""
            return f"did you mean {' or '.join(found[:3])}?{where}"
    return ""


def _unknown(name: Any, section: Section) -> str:
    dotted = f"{section.path}.{name}" if section.path else str(name)
    if not section.path and name == "env":
        return f"{dotted}: no such key; the environment is chosen with $SS_ENV, not in config files"
    suggestion = _suggestion(str(name), section)
    if suggestion:
        return f"{dotted}: no such key; {suggestion}"
    if not section.path:
        return (f"{dotted}: no such key; settings of the app's own go under \"app\" "
                f"(config = {{\"app\": {{\"{name}\": ...}}}}, read as ss.config.app.{name})")
    return f"{dotted}: no such key; {section.path} has {', '.join(section.keys)}"


#: A cookie name (RFC 6265: a token, no controls, spaces or separators).
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _value_problem(key: Key, value: Any) -> str | None:
    """What is wrong with a value of the right type, for the few keys where that can be told early."""
    if key.path == "session.cookie_name" and isinstance(value, str) and not COOKIE_NAME.match(value):
        return f"{value!r} is not a cookie name browsers take: use letters, digits and - _ . only"
    if key.path == "redis.url" and value is not None and not str(value).startswith(("redis://", "rediss://", "unix://")):
        return f"{value!r} is not a Redis URL: write redis://host:port/db (rediss:// for TLS, unix:///path for a socket)"
    return None


def check_layer(data: Mapping, source: _Source, problems: list[str], section: Section = SCHEMA) -> dict:
    """The known keys of ``data`` with values of their types; what is wrong goes to ``problems``."""
    checked: dict[str, Any] = {}
    for name, value in data.items():
        dotted = f"{section.path}.{name}" if section.path else str(name)
        node = section.keys.get(name) if isinstance(name, str) else None
        if node is None:
            problems.append(f"{source.where(dotted)}: {_unknown(name, section)}")
        elif isinstance(node, Section):
            if isinstance(value, Mapping):
                checked[name] = check_layer(value, source, problems, node)
            else:
                problems.append(f"{source.where(dotted)}: {dotted}: expected a dict of settings "
                                f"({', '.join(node.keys)}), given {_given(value)}")
        else:
            try:
                checked[name] = node.convert(value)
            except _Wrong as exc:
                problems.append(f"{source.where(dotted)}: {dotted}: {exc}")
                continue
            problem = _value_problem(node, checked[name])
            if problem:
                problems.append(f"{source.where(dotted)}: {dotted}: {problem}")
    return checked


def read_config_file(path: Path) -> dict:
    """Run one config file and return its ``config`` dict.

    Raises ConfigError naming the file and line for syntax errors, errors raised
    while running it, and a ``config`` that is not a dict.
    """
    source = path.read_text(encoding="utf-8")
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: syntax error: {exc.msg}\n  {(exc.text or '').rstrip()}") from None
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": f"ss_config_{path.stem}"}
    try:
        exec(code, namespace)
    except Exception as exc:
        line = _line_in(exc, path)
        raise ConfigError(f"{path}:{line}: {type(exc).__name__}: {exc}") from None
    config = namespace.get("config", {})
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path}: `config` must be a dict, not {type(config).__name__}")
    return dict(config)


def _line_in(exc: BaseException, path: Path) -> int | str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == str(path):
            return frame.lineno or "?"
    return "?"


def load_config(root: Path | None, env: str | None = None, overrides: Mapping | None = None) -> Config:
    """Build the config for ``env`` (default: $SS_ENV, else development) of the app at ``root``.

    ``overrides`` (e.g. from command-line flags) are merged last. The Redis URL
    in $SS_REDIS_URL, when set, turns Redis on and wins over the files. Setting
    redis.url, host, port, db_index or password in the app's config turns Redis
    on too, unless that config sets redis.enabled itself.

    Raises ConfigError listing every unknown key and every value of the wrong
    type, each with the file (and line) it is in.
    """
    env = env or os.environ.get("SS_ENV") or "development"
    preset = env if env in PRESETS else "production"
    layers: list[tuple[_Source, Mapping]] = [(_Source("ss/presets.py BASE"), BASE),
                                             (_Source(f"ss/presets.py {preset.upper()}"), PRESETS[preset])]
    app_from = len(layers)
    if root is not None:
        for path in (root / "config" / "app.py", root / "config" / "environments" / f"{env}.py"):
            if path.is_file():
                layers.append((_Source(str(path), path), read_config_file(path)))
    redis_url = os.environ.get("SS_REDIS_URL")
    if redis_url:
        layers.append((_Source("$SS_REDIS_URL"), {"redis": {"enabled": True, "url": redis_url}}))
    if overrides:
        layers.append((_Source("overrides"), overrides))

    problems: list[str] = []
    checked = [check_layer(layer, source, problems) for source, layer in layers]
    if problems:
        raise ConfigError("\n  ".join(problems) + "\n  (every key, its type and default: docs/config.md)")
    merged: dict = {}
    for layer in checked:
        merged = deep_merge(merged, layer)
    _redis_from_connection_keys(checked[app_from:], merged)
    merged["env"] = env
    return Config(merged)


def _redis_from_connection_keys(app_layers: list[dict], merged: dict) -> None:
    """Turn Redis on when the app says which Redis to use (url, host, ...) but not redis.enabled.

    The seed configured Redis by its host and port alone; an app doing so would
    otherwise run on the embedded store, one process only, without a word.
    """
    sections = [layer.get("redis", {}) for layer in app_layers]
    if any("enabled" in section for section in sections):
        return
    if any(section.get(key) is not None for section in sections for key in REDIS_CONNECTION_KEYS):
        merged["redis"]["enabled"] = True
