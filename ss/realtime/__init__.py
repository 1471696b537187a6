"""Connections and what flows over them: transports, write batching, pub/sub routing and publishing,
recovery, presence and users online. ``compat`` is the only module that touches Tornado or asyncio internals."""
