"""app/shared on the server: the very JavaScript the browser gets, run in embedded V8.

``SharedCode.load(root)`` compiles every app/shared module exactly as the
browser bundle does (CoffeeScript included, wrapped in SS.define) and
evaluates them in a mini-racer context, so server code can call
``shared.call("calculate.circumference", 20)`` and get the browser's answer.
Arguments and results cross as JSON values.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import sources
from .bundler import wrap_module
from .compilers import Compilers
from .errors import CompileError
from .node_worker import NodeWorker

# The same mounting rules as SS.define in ss/client_js/ss.js, without the browser.
_PRELUDE = """
var window = globalThis, SS = {client: {}, shared: {}};
SS.define = function (tree, path, factory) {
  var root = SS[tree], parts = path.split("/"), name = parts.pop();
  parts.forEach(function (p) { root = root[p] = root[p] || {}; });
  var module = {exports: root[name] || {}};
  factory(module.exports, module);
  root[name] = module.exports;
};
function __ssCall(path, argsJson) {
  var parts = path.split("."), name = parts.pop(), owner = SS.shared;
  parts.forEach(function (p) { owner = owner == null ? owner : owner[p]; });
  if (owner == null || typeof owner[name] !== "function") throw new Error("no shared function " + path);
  var result = owner[name].apply(owner, JSON.parse(argsJson));
  return result === undefined ? null : JSON.stringify(result);
}
function __ssDescribe(node, depth) {
  var out = {};
  if (depth > 8 || node === null || typeof node !== "object") return out;
  Object.keys(node).forEach(function (k) {
    var v = node[k];
    if (typeof v === "function") out[k] = 1;
    else if (v && typeof v === "object" && !Array.isArray(v)) out[k] = __ssDescribe(v, depth + 1);
  });
  return out;
}
"""


class SharedCode:
    """A V8 context holding the app's shared modules. Not thread-safe: use it from one thread."""

    def __init__(self, js: str) -> None:
        try:
            from py_mini_racer import MiniRacer
        except ImportError as exc:  # pragma: no cover - mini-racer is in requirements.txt
            raise RuntimeError('mini-racer is not installed (run "pip install mini-racer")') from exc
        self._ctx = MiniRacer()
        self._ctx.eval(_PRELUDE)
        self._ctx.eval(js)

    @classmethod
    async def load(cls, root: Path, worker: NodeWorker | None = None) -> "SharedCode":
        """Compile app/shared under ``root`` and evaluate it. Raises CompileError for a broken file."""
        root = Path(root).resolve()
        own = worker is None
        worker = worker or NodeWorker()
        try:
            compilers = Compilers(worker, label=lambda p: sources.relative(root, p))
            pieces = []
            for module in sources.modules(root, "shared"):
                compiled = await compilers.compile(module.path)
                pieces.append(wrap_module("shared", module.name, compiled.text))
        finally:
            if own:
                await worker.close()
        try:
            return cls("\n".join(pieces))
        except Exception as exc:  # a runtime error while the modules load
            raise CompileError("app/shared", f"{type(exc).__name__}: {exc}") from exc

    def tree(self) -> dict:
        """The exported API: ``{"calculate": {"circumference": 1}}`` (1 marks a function)."""
        return json.loads(self._ctx.eval("JSON.stringify(__ssDescribe(SS.shared, 0))"))

    def call(self, path: str, *args: Any) -> Any:
        """Call ``SS.shared.<path>(*args)``; ``path`` is dotted (``"calculate.circumference"``)."""
        parts = path.split(".")
        if not parts or any(not p.isidentifier() or p.startswith("_") for p in parts):
            raise ValueError(f"not a shared function name: {path!r}")
        # Through JSON both ways: plain Python values in, plain Python values out.
        result = self._ctx.call("__ssCall", path, json.dumps(list(args)))
        return json.loads(result) if result is not None else None
