"""``ss.escape``: HTML-escape user content; the same output as ``SS.escape`` in the browser."""

from __future__ import annotations

from typing import Any

_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def escape(value: Any) -> str:
    """Text safe to put in HTML (element content or a quoted attribute); None becomes ''."""
    return ("" if value is None else str(value)).translate(_TABLE)
