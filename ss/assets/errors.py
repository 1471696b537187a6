"""Errors of the asset pipeline.

A compile error is data, not a crash: it carries the file and position so the
terminal, the browser console and the development overlay can all show it.

    AssetError
     +-- CompileError      one source file failed to compile (or clashes with another)
     +-- NodeWorkerError   the Node worker could not be started or died mid-call
     +-- PackError         a production pack could not be made (holds the CompileErrors)
"""
from __future__ import annotations

from ..errors import SSError


class AssetError(SSError):
    """Base class of everything the asset pipeline raises."""


class CompileError(AssetError):
    """A source file could not be compiled.

    ``line`` and ``column`` are 1-based; 0 means unknown.
    """

    def __init__(self, file: str, message: str, line: int = 0, column: int = 0) -> None:
        self.file = file
        self.message = message.strip()
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        """The JSON shape sent to the browser overlay (``asset_error`` messages)."""
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


class NodeWorkerError(AssetError):
    """The Node worker is unavailable (no node, npm install failed) or died."""


class PackError(AssetError):
    """A production pack failed; ``errors`` lists the compile errors behind it."""

    def __init__(self, errors: list[CompileError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"cannot pack assets, {len(errors)} error(s):\n{lines}")

