"""The wire layer, pure (no I/O, no Tornado): ss's messages (``messages``) and WebSocket frames (``frames``).

``from ss import protocol`` then ``protocol.parse(...)``, ``protocol.encode_reply(...)``:
the names of :mod:`ss.protocol.messages` are re-exported here.
"""

from .messages import *  # noqa: F403
from .messages import __all__ as __all__
