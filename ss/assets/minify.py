"""Minifying for production: esbuild for JavaScript, rcssmin for CSS.

esbuild runs inside the Node worker (it understands ES2015+, which CoffeeScript
2 emits). Without Node, calmjs.parse is used when it is importable (pure
Python, ES5 only, slow); otherwise the code ships unminified with a warning,
because a working unminified app beats no app.
"""
from __future__ import annotations

import logging

import rcssmin

from .errors import CompileError, NodeWorkerError
from .node_worker import NodeWorker

log = logging.getLogger("ss.assets")


async def minify_js(code: str, worker: NodeWorker, filename: str = "bundle.js") -> str:
    """Minified JavaScript. Raises CompileError when the code does not parse."""
    try:
        result = await worker.call("minify", source=code, filename=filename, loader="js")
        return result["code"]
    except NodeWorkerError as exc:
        return _fallback_js(code, filename, exc)


def _fallback_js(code: str, filename: str, why: Exception) -> str:
    try:
        from calmjs.parse import es5
        from calmjs.parse.unparsers.es5 import minify_print
    except ImportError:
        log.warning("%s shipped unminified: esbuild is unavailable (%s)", filename, why)
        return code
    try:
        return minify_print(es5(code), obfuscate=True, obfuscate_globals=False)
    except Exception as exc:  # calmjs raises its own syntax errors for ES2015+ input
        log.warning("%s shipped unminified: %s", filename, exc)
        return code


def minify_css(code: str) -> str:
    """Minified CSS (rcssmin keeps /*! license */ comments)."""
    return rcssmin.cssmin(code, keep_bang_comments=True)


__all__ = ["minify_js", "minify_css", "CompileError"]
