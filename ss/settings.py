"""Configuration: an env preset, then ``config/app.py``, then ``config/environments/<env>.py``.

Each file defines ``config = {...}``; dictionaries are deep-merged, everything
else replaces. The result is a :class:`Config`, a dict whose keys also read as
attributes (``ss.config.http.port``).
"""

from __future__ import annotations

import copy
import os
import traceback
from pathlib import Path
from typing import Any, Mapping

from .presets import PRESETS, PRODUCTION, BASE

__all__ = ["Config", "ConfigError", "load_config", "deep_merge"]


class ConfigError(Exception):
    """The app's configuration cannot be used; the message names the file (and line) to fix."""


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
            raise AttributeError(f"{self._path}.{name} is not set") from None

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


def preset_for(env: str) -> dict:
    """The merged preset for ``env``; unknown env names get the production preset."""
    return deep_merge(copy.deepcopy(BASE), PRESETS.get(env, PRODUCTION))


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
    in $SS_REDIS_URL, when set, turns Redis on and wins over the files.
    """
    env = env or os.environ.get("SS_ENV") or "development"
    merged = preset_for(env)
    if root is not None:
        for path in (root / "config" / "app.py", root / "config" / "environments" / f"{env}.py"):
            if path.is_file():
                merged = deep_merge(merged, read_config_file(path))
    redis_url = os.environ.get("SS_REDIS_URL")
    if redis_url:
        merged = deep_merge(merged, {"redis": {"enabled": True, "url": redis_url}})
    if overrides:
        merged = deep_merge(merged, overrides)
    merged["env"] = env
    return Config(merged)
