"""Preset configuration per environment. Apps override any key in config/app.py.

``development`` and ``test`` compile assets on request and show tracebacks;
``staging``, ``production`` and any custom environment start from the
production preset (packed assets, no tracebacks to clients), so a new env is
safe by default.

BASE is also the schema (ss/settings.py reads it): its keys are every key an
app may set, the type of each default is the type the key takes, and the
comment on a key's line is its description in docs/config.md. Where the
default does not tell the type, TYPES below does: keys whose default is None
(they take None or that type), numbers that may have a fraction (float: an int
is fine too, and comes out as a float) and the items of lists. A section whose
default is an empty dict is open: the app puts any keys of its own there.
"""

from __future__ import annotations

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
        "host": "0.0.0.0",          # interface to listen on (development: 127.0.0.1, this machine only)
        "port": 3000,               # `--port` overrides
        "max_body_bytes": None,     # bodies over this get 413 before being read; None: limits.max_frame_bytes
        "max_header_bytes": 65536,  # a request line plus headers over this closes the connection
        "header_timeout": 30,       # seconds a connection gets to send a request's headers (and may idle between requests)
        "body_timeout": 60,         # seconds a request body gets to arrive
        "trusted_proxies": [],      # addresses/networks ("10.0.0.0/8") whose X-Forwarded-For/-Proto and X-Real-IP are believed
        "allowed_hosts": [],        # hosts served besides IPs, localhost, https.domain: "example.com", ".example.com", "*"
    },
    "server": {
        "event_loop": "asyncio",    # "asyncio", or "uvloop": cheaper calls, slower Redis and HTTP fan-out (bench/README.md)
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
        "enabled": False,           # False: the embedded in-process store (one process only); see redis.url
        "url": None,                # redis://host:port/db; setting it (or $SS_REDIS_URL) turns Redis on
        "host": "127.0.0.1",        # Redis host, when redis.url is not set; setting it turns Redis on
        "port": 6379,               # Redis port, when redis.url is not set; setting it turns Redis on
        "db_index": 0,              # Redis database number, when redis.url is not set; setting it turns Redis on
        "password": None,           # Redis password, when redis.url is not set; setting it turns Redis on
        "key_prefix": "",           # put before every ss: key, to share one Redis between apps
        "sentinel": {
            "master": None,         # the master's name the sentinels monitor; setting it turns Redis on (via Sentinel)
            "addresses": [],        # the sentinels, "host:port" each (three or more, on separate machines)
            "password": None,       # the sentinels' own password (requirepass of sentinel.conf), if any
        },
    },
    "session": {
        "cookie_name": "ss_session",  # the session cookie: letters, digits, - _ . (HttpOnly, SameSite=Lax, Secure over TLS)
        "ttl": 30 * DAY,            # seconds a session lives after its last use
        "new_ttl": 600,             # seconds a new session lives until its first real use (then ttl)
        "rotate_on_login": True,    # new session id on set_user_id (against session fixation)
    },
    "api": {
        "enabled": True,            # serve the HTTP API (/api/<module>/<action>)
        "prefix": "api",            # /api/app/square.json?25
        "https_only": False,        # the HTTP API answers only over HTTPS (plain HTTP gets an error or the redirect)
        "auth": {"basic": {
            "module_name": None,    # lib/server module checking Basic Auth for `authenticate = True` modules
            "max_failures": 10,     # failed Basic Auth sign-ins per address per window, then 429 (limiter on or off); 0: no limit
            "failure_window": 60,   # seconds the failures of an address are counted
        }},
    },
    "browser_check": {
        "strict": False,            # True: browsers without WebSocket get static/incompatible_browsers/
    },
    "client": {
        "heartbeat_interval": 30,   # seconds between the browser's "still here" messages
        "log": {
            "level": 2,             # 0 silent .. 4 everything, in the browser console
        },
        "reconnect": {
            "min_delay": 0.25,      # seconds before the browser's first reconnect attempt
            "max_delay": 10,        # longest wait between reconnect attempts (backoff), seconds
        },
        "transport": {
            "fallback": True,           # browsers without a working WebSocket use HTTP (/_ss/http); off in strict mode
            "fallback_after_ms": 2500,  # a WebSocket that has not opened by then (ms): the browser switches to HTTP
            "streaming": True,          # HTTP: stream messages (long-polls behind a buffering proxy); False: long-poll always
        },
    },
    "log": {
        "level": 2,                 # 0 none, 1 errors, 2 info, 3 calls and replies, 4 debug
        "format": "text",           # "text" for people; "json": one JSON object per line for a log pipeline (docs/operations.md)
    },
    "metrics": {
        "enabled": True,            # Prometheus metrics at /_ss/metrics (off in production and staging unless set)
        "port": None,               # serve them (and the probes) on this port only, not on the app's port
        "host": "127.0.0.1",        # interface of metrics.port
        "allow": ["127.0.0.1", "::1"],  # addresses or networks (CIDR) that may read metrics; others get 403
    },
    "errors": {
        "show_traceback": False,    # send server tracebacks to the client with call errors
    },
    "users": {"online": {
        "enabled": True,            # track users online (ss.users.online)
        "mins_until_offline": 2,    # minutes without a heartbeat before a user counts as offline
        "update_interval": 60,      # seconds between purges of users gone offline
    }},
    "limiter": {
        "enabled": False,           # turn on the rate limits below
        "websockets": {
            "rps": 15,              # calls per second per socket before calls are refused (rate_limited)
        },
        "http": {
            "rps": 30,              # HTTP API requests per second per client address
        },
    },
    "limits": {
        "max_frame_bytes": 1 << 20,     # bigger frames close the socket with 1009
        "max_depth": 32,                # nesting of call arguments
        "max_pending_calls": 256,       # per socket
        "max_pending_bytes": 16 << 20,  # per socket: size of the call messages still running (their arguments stay in memory)
        "max_outgoing_bytes": 8 << 20,  # per socket: a slower reader is disconnected
        "ping_interval": 25,            # seconds between server pings; 0 disables
        "ping_timeout": 20,             # close a socket whose pong is this late (at most ping_interval)
        "shutdown_timeout": 10,         # seconds running calls get to finish on SIGTERM/SIGINT
        "shutdown_delay": 0,            # seconds /_ss/ready answers 503 before the listener closes on SIGTERM
        "max_connections_per_ip": 0,    # 0: no limit; behind a proxy, set http.trusted_proxies first
        "max_write_delay_ms": 1,        # writes wait this long at most while other work is ready; 0: every turn
        "replay_cache_bytes": 2 << 20,  # bytes of replies kept (process-wide) so a call retried after a reconnect runs once
        "replay_max_reply_bytes": 16 << 10,  # bigger replies are not kept: a retry of such a call runs it again
        "max_tabs_per_session": 16,     # tabs per session whose recent calls are kept (the client picks tab ids)
        "http_poll_timeout": 25,        # seconds an HTTP-transport poll (or stream) is held open waiting for messages
        "http_idle_timeout": 45,        # an HTTP connection not polled this long is closed like a dropped socket
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
        "enabled": True,            # track which users are in which channel (ss.presence)
        "events": False,            # True: channels get presence:join / presence:leave events
        "timeout": 45,              # seconds an instance's entries last without a refresh (dead instances)
        "refresh_interval": 15,     # seconds between refreshes of this instance's entries
    },
    "assets": {
        "pack_on_start": True,      # production: pack assets at start when public/assets is missing or stale
    },
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
    "app": {},                      # the app's own settings, any keys (ss.config.app.<key>); ss never reads them
    "db": {},                       # the app's database settings, any keys, for config/db.py (docs/database.md)
}

# The type of each key whose default does not tell it (see the module docstring):
# None defaults take None or this type; float takes an int too; list[X] takes a list of X.
TYPES: dict = {
    "http.max_body_bytes": int,
    "http.header_timeout": float,
    "http.body_timeout": float,
    "http.trusted_proxies": list[str],
    "http.allowed_hosts": list[str],
    "api.auth.basic.failure_window": float,
    "https.domain": str,
    "redis.url": str,
    "redis.password": str,
    "redis.sentinel.master": str,
    "redis.sentinel.addresses": list[str],
    "redis.sentinel.password": str,
    "api.auth.basic.module_name": str,
    "client.heartbeat_interval": float,
    "client.reconnect.min_delay": float,
    "client.reconnect.max_delay": float,
    "users.online.mins_until_offline": float,
    "users.online.update_interval": float,
    "limiter.websockets.rps": float,
    "limiter.http.rps": float,
    "limits.ping_interval": float,
    "limits.ping_timeout": float,
    "limits.shutdown_timeout": float,
    "limits.shutdown_delay": float,
    "limits.max_write_delay_ms": float,
    "limits.http_poll_timeout": float,
    "limits.http_idle_timeout": float,
    "pubsub.history.hold_timeout": float,
    "presence.timeout": float,
    "presence.refresh_interval": float,
    "shared_code.timeout": float,
    "security.allowed_origins": list[str],
    "metrics.port": int,
    "metrics.allow": list[str],
}

DEVELOPMENT: dict = {
    "http": {"host": "127.0.0.1"},  # a development server is for this machine: set http.host = "0.0.0.0" to share it
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
    "metrics": {"enabled": False},  # turn on with metrics.port or metrics.allow set for your Prometheus
    "client": {"log": {"level": 0}},
}

STAGING: dict = {
    "log": {"level": 2},
    "metrics": {"enabled": False},
    "client": {"log": {"level": 1}},
}

PRESETS = {"development": DEVELOPMENT, "test": TEST, "staging": STAGING, "production": PRODUCTION}


def is_dev_like(env: str) -> bool:
    """True for the environments that compile assets on request (development, test)."""
    return env in ("development", "test")
