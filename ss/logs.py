"""ss's log levels 0-4, mapped onto Python logging under the "ss" logger.

0 nothing, 1 errors and warnings, 2 + start-up and info, 3 + every call and
reply (development), 4 + debug detail (pub/sub, assets, sessions).
"""

from __future__ import annotations

import logging
import sys

CALLS = 15  # between DEBUG and INFO: incoming calls and outgoing replies
logging.addLevelName(CALLS, "CALL")

_LEVELS = {0: logging.CRITICAL + 10, 1: logging.WARNING, 2: logging.INFO, 3: CALLS, 4: logging.DEBUG}


def python_level(level: int) -> int:
    return _LEVELS[max(0, min(4, int(level)))]


def configure(level: int, stream=None) -> None:
    """Send ss's logs to stderr at ss level ``level`` (0-4)."""
    logger = logging.getLogger("ss")
    logger.setLevel(python_level(level))
    if not any(getattr(h, "_ss", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s %(name)s: %(message)s", "%H:%M:%S"))
        handler._ss = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    # Tornado logs each request at INFO; keep those for level 4 only.
    logging.getLogger("tornado.access").setLevel(logging.INFO if level >= 4 else logging.WARNING)
