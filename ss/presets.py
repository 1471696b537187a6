"""Preset configuration per environment. Apps override any key in config/app.py.

``development`` and ``test`` compile assets on request and show tracebacks;
``staging``, ``production`` and any custom environment start from the
production preset (packed assets, no tracebacks to clients), so a new env is
safe by default.
"""

from __future__ import annotations

import copy

# Enforced on every page: no plugins, no <base> rewriting, no framing by other sites,
# forms post only here. Nothing a SocketStream-era page relies on.
DEFAULT_CSP = "object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'"

# Scripts and resources from this origin only. Sent Report-Only by default, because
# SocketStream-era views use inline handlers (form(onsubmit="return false")) that it
# would block; security.enforce_script_policy enforces it. No 'unsafe-eval': templates
# are compiled at build time (SS.tmpl, and jQuery .tmpl() through them). Inline style
# attributes stay allowed (style-src).
DEFAULT_SCRIPT_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                         "img-src 'self' data:; font-src 'self' data:; connect-src 'self'")


DAY = 24 * 60 * 60

BASE: dict = {
    "http": {
        "host": "0.0.0.0",          # interface to listen on
        "port": 3000,               # `--port` overrides
    },
    "https": {
        "enabled": False,           # serve the app over TLS on https.port (wss for the socket)
        "port": 443,                # the TLS port; below 1024 needs root or CAP_NET_BIND_SERVICE
        "cert_name": "site",        # config/ssl_certs/<cert_name>.key.pem / .cert.pem / .ca.pem
        "domain": None,             # the certificate's host name; others are redirected to it
        "ensure_domain": True,      # with https.domain: redirect other host names to it
        "redirect_http": True,      # also listen on http.port and redirect to https
        "hsts_max_age": 31536000,   # Strict-Transport-Security seconds over TLS; 0 = no header (dev/test)
    },
    "redis": {
        "enabled": False,           # False: the embedded in-process store (one process only)
        "url": None,                # redis://host:port/db; $SS_REDIS_URL sets this and enabled
        "host": "127.0.0.1",
        "port": 6379,
        "db_index": 0,
        "password": None,
        "key_prefix": "",           # put before every ss: key, to share one Redis between apps
    },
    "session": {
        "cookie_name": "ss_session",
        "ttl": 30 * DAY,            # seconds a session lives after its last use
        "new_ttl": 600,             # seconds a new session lives until its first real use (then ttl)
        "rotate_on_login": True,    # new session id on set_user_id (against session fixation)
    },
    "api": {
        "enabled": True,
        "prefix": "api",            # /api/app/square.json?25
        "https_only": False,
        "auth": {"basic": {"module_name": None}},
    },
    "browser_check": {"strict": False},  # True: browsers without WebSocket get static/incompatible_browsers/
    "client": {
        "heartbeat_interval": 30,   # seconds between the browser's "still here" messages
        "log": {"level": 2},        # 0 silent .. 4 everything, in the browser console
        "reconnect": {"min_delay": 0.25, "max_delay": 10},
    },
    "log": {"level": 2},            # 0 none, 1 errors, 2 info, 3 calls and replies, 4 debug
    "errors": {"show_traceback": False},
    "users": {
        "online": {"enabled": True, "mins_until_offline": 2, "update_interval": 60},
    },
    "limiter": {
        "enabled": False,
        "websockets": {"rps": 15},
        "http": {"rps": 30},
    },
    "limits": {
        "max_frame_bytes": 1 << 20,     # bigger frames close the socket with 1009
        "max_depth": 32,                # nesting of call arguments
        "max_pending_calls": 256,       # per socket
        "max_outgoing_bytes": 8 << 20,  # per socket: a slower reader is disconnected
        "ping_interval": 25,            # seconds between server pings; 0 disables
        "ping_timeout": 20,             # close a socket whose pong is this late (at most ping_interval)
        "shutdown_timeout": 10,         # seconds running calls get to finish on SIGTERM/SIGINT
        "max_connections_per_ip": 0,    # 0: no limit; behind a proxy, set http xheaders right first
        "max_write_delay_ms": 1,        # writes wait up to this long while other work is ready, so a burst shares system calls; 0: every tick
    },
    "pubsub": {"history": {
        "enabled": True,            # number user/channel/broadcast messages and keep them for recovery
        "ttl": 120,                 # seconds a stream's messages are kept after its last publish
        "size": 1000,               # at most this many messages per stream
        "max_bytes": 4 << 20,       # and at most this many payload bytes per stream (oldest dropped first)
        "max_total_bytes": 64 << 20,  # all streams together, per process or per Redis (oldest message first)
        "meta_ttl": DAY,            # seconds a stream's last offset is remembered (decides "nothing missed")
        "broadcast": True,          # broadcasts are recoverable too (one Lua call per publish, none per socket)
        "hold_timeout": 5,          # seconds a reconnecting socket's live messages wait for its recover message
    }},
    "presence": {
        "enabled": True,
        "events": False,            # True: channels get presence:join / presence:leave events
        "timeout": 45,              # seconds an instance's entries last without a refresh (dead instances)
        "refresh_interval": 15,     # seconds between refreshes of this instance's entries
    },
    "assets": {"pack_on_start": True},
    "shared_code": {
        "timeout": 2,               # seconds an app/shared function may run on the server (ss.shared)
        "max_memory": 64 << 20,     # bytes of V8 heap for server-side shared code
    },
    "security": {
        "allowed_origins": [],      # extra origins allowed to open the socket, e.g. "https://app.example.com"
        "content_security_policy": DEFAULT_CSP,  # the CSP enforced on HTML pages; "" sends none
        "script_policy": DEFAULT_SCRIPT_POLICY,  # Report-Only (logged, not blocked) unless enforce_script_policy
        "enforce_script_policy": False,  # True: block what script_policy forbids (inline handlers, eval)
        "csp_reports_per_minute": 30,  # violation reports logged per minute and process; the rest only counted
    },
}

DEVELOPMENT: dict = {
    "https": {"hsts_max_age": 0},   # HSTS on localhost would stick to every local port for a year
    "log": {"level": 3},
    "client": {"log": {"level": 3}},
    "errors": {"show_traceback": True},
}

TEST: dict = {
    "https": {"hsts_max_age": 0},
    "log": {"level": 1},
    "client": {"log": {"level": 1}},
    "errors": {"show_traceback": True},
}

PRODUCTION: dict = {
    "log": {"level": 1},
    "client": {"log": {"level": 0}},
}

STAGING: dict = {
    "log": {"level": 2},
    "client": {"log": {"level": 1}},
}

PRESETS = {"development": DEVELOPMENT, "test": TEST, "staging": STAGING, "production": PRODUCTION}


def is_dev_like(env: str) -> bool:
    """True for the environments that compile assets on request (development, test)."""
    return env in ("development", "test")
