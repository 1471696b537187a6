"""What every HTTP request meets before a route: the real client address, the Host check, the body limit.

ss's Tornado applications (the app's, and the plain-HTTP redirect listener's)
are :class:`GuardedApplication` s. For each request, in this order:

1. **Forwarded headers** (``X-Forwarded-For``, ``X-Real-IP``,
   ``X-Forwarded-Proto``, ``X-Scheme``) are believed only when the connection
   comes from an address in ``http.trusted_proxies``; from anyone else they are
   ignored, so a client cannot choose its own address (rate limits, per-address
   caps) or claim HTTPS.
2. **Host** must be one the app answers to (``http.allowed_hosts``, see
   :func:`host_allowed`): a page on an attacker's domain that re-resolves to
   this server (DNS rebinding) is refused with 400 ``bad_host``.
3. **Body size**: a body over the route's limit (``http.max_body_bytes``; a few
   hundred bytes for ``/_ss/session``) is answered 413 ``too_big`` as soon as
   its Content-Length (or the running count of a chunked body) says so, before
   it is read, and the connection is closed.

Every answer also loses Tornado's ``Server`` header (no version for scanners to
match), and every error answer gets ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from typing import Any, Iterable

import orjson
import tornado.gen
import tornado.httputil
import tornado.iostream
import tornado.web

from ..realtime.http_transport import SEND_PATH, send_body_limit, send_request_limit
from ..errors import CallError, StartupError, error_body

__all__ = ["Guard", "GuardedApplication", "server_options", "host_allowed", "parse_networks",
           "client_address", "SMALL_BODY_ROUTES"]

log = logging.getLogger("ss.http")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Routes whose bodies are tiny by design: /_ss/session takes a token of at most 64 characters.
SMALL_BODY_ROUTES = {"/_ss/session": 256}

# After a 413 the client may still be sending: read (and drop) this much for this long before
# closing, because closing a socket with unread input sends a TCP reset, which can destroy the
# 413 in the client's buffers before it is read.
_LINGER_BYTES = 256 * 1024
_LINGER_SECONDS = 1.0


def parse_networks(entries: Iterable[Any], setting: str = "http.trusted_proxies") -> list[Network]:
    """Addresses and networks ("127.0.0.1", "10.0.0.0/8", "::1") as networks; StartupError names a bad one."""
    if isinstance(entries, str):
        entries = [entries]
    networks = []
    for entry in entries or ():
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise StartupError(f"{setting}: {entry!r} is neither an IP address nor a network like "
                               "'10.0.0.0/8': list the addresses your proxies connect from") from None
    return networks


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


def _trusted(address, networks: list[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(peer: str | None, headers, networks: list[Network]) -> str | None:
    """The client's address: ``peer``, unless ``peer`` is a trusted proxy that says who it forwards.

    X-Forwarded-For is read from the right (each proxy appends the address it
    saw): trusted proxies are skipped, the first other address is the client.
    Entries to its left were written by the client and are never believed.
    """
    if not _trusted(_ip(peer), networks):
        return peer
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        client = peer
        for hop in reversed(forwarded.split(",")):
            address = _ip(hop)
            if address is None:
                break  # garbage: keep the last proxy we trust rather than guess
            client = str(address)
            if not _trusted(address, networks):
                break
        return client
    real = _ip(headers.get("X-Real-IP"))
    return str(real) if real is not None else peer


def _forwarded_protocol(headers) -> str | None:
    value = headers.get("X-Forwarded-Proto") or headers.get("X-Scheme")
    if not value:
        return None
    value = value.split(",")[-1].strip().lower()  # the proxy nearest to us appends last
    return value if value in ("http", "https") else None


def _bare_host(host_name: str) -> str:
    host = host_name.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def host_allowed(host_name: str, allowed: Iterable[str]) -> bool:
    """True when a request for ``host_name`` (without port) may be answered.

    Always allowed: IP addresses (a rebinding attack needs a domain name the
    attacker controls, so a literal address cannot be one) and ``localhost`` /
    ``*.localhost`` (browsers resolve those to this machine themselves). Other
    names must be listed: ``"example.com"`` exactly, ``".example.com"`` for it and
    its subdomains, or ``"*"`` for any host (turns the check off).
    """
    host = _bare_host(host_name)
    if not host or _ip(host) is not None or host == "localhost" or host.endswith(".localhost"):
        return True
    for entry in allowed:
        entry = str(entry).strip().lower().rstrip(".")
        if entry == "*" or entry == host:
            return True
        if entry.startswith(".") and (host == entry[1:] or host.endswith(entry)):
            return True
    return False


class Guard:
    """The per-request checks of one listener, built from the app's config."""

    #: Host names whose answer is remembered (a server answers to a few; a client making names
    #: up empties the memory when it is full, and costs one check per request as before).
    REMEMBERED_HOSTS = 256

    def __init__(self, config, check_hosts: bool = True):
        http = config.http
        self.networks = parse_networks(http.get("trusted_proxies") or [])
        allowed = http.get("allowed_hosts") or []
        if isinstance(allowed, str):
            allowed = [allowed]
        domain = config.https.domain if config.https.enabled else None
        self.allowed_hosts = list(allowed) + ([str(domain)] if domain else [])
        self.check_hosts = check_hosts
        self.decided_hosts: dict[str, bool] = {}
        self.max_body = max_body_bytes(config)
        # Unless http.max_body_bytes is set, a POST of the HTTP transport may carry a batch of messages.
        self.send_body = send_request_limit(config)

    def body_limit(self, path: str) -> int:
        if path == SEND_PATH:
            return self.send_body  # the HTTP transport's batches of messages (ss/realtime/http_transport.py)
        return min(SMALL_BODY_ROUTES.get(path, self.max_body), self.max_body)

    def apply_forwarded(self, request: tornado.httputil.HTTPServerRequest) -> None:
        """Set the request's address and scheme from a trusted proxy's headers (no-op for anyone else)."""
        if not self.networks or not _trusted(_ip(request.remote_ip), self.networks):
            return
        request.remote_ip = client_address(request.remote_ip, request.headers, self.networks)
        protocol = _forwarded_protocol(request.headers)
        if protocol is not None:
            request.protocol = protocol

    def host_refusal(self, request: tornado.httputil.HTTPServerRequest) -> CallError | None:
        if not self.check_hosts:
            return None
        name = request.host_name
        allowed = self.decided_hosts.get(name)
        if allowed is None:
            allowed = host_allowed(name, self.allowed_hosts)
            if len(self.decided_hosts) >= self.REMEMBERED_HOSTS:
                self.decided_hosts.clear()
            self.decided_hosts[name] = allowed
        if allowed:
            return None
        host = _bare_host(request.host_name)
        return CallError("bad_host", f"this server does not answer to the host name {host[:100]!r}: if it is yours, "
                                     f"add it to http.allowed_hosts in config/app.py (e.g. [{host[:100]!r}])")


def max_body_bytes(config) -> int:
    """``http.max_body_bytes``, or the socket's frame limit when unset: one call is as big over either door."""
    value = config.http.get("max_body_bytes")
    return int(value if value is not None else config.limits.max_frame_bytes)


def server_options(config) -> dict:
    """Keyword arguments for tornado's HTTPServer: sizes and timeouts from ``http.*``, forwarded headers off."""
    http = config.http
    return {
        # Forwarded headers are applied by Guard, and only from http.trusted_proxies.
        "xheaders": False,
        "max_body_size": max(max_body_bytes(config), send_body_limit(config.limits.max_frame_bytes)),  # Guard: per URL
        "max_header_size": int(http.get("max_header_bytes") or 65536),
        # Tornado uses this both for a request's headers to arrive and for an idle keep-alive connection.
        "idle_connection_timeout": float(http.get("header_timeout") or 30),
        "body_timeout": float(http.get("body_timeout") or 60),
    }


def error_answer(status: int, error: CallError) -> bytes:
    """A complete raw HTTP response (for answers given before any handler exists), closing the connection."""
    body = orjson.dumps({"error": error_body(error.code, error.message)})
    reason = tornado.httputil.responses.get(status, "Error")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode("latin-1") + body


class _BodyLimit(tornado.httputil.HTTPMessageDelegate):
    """Passes a request on to ``inner`` unless its body is over ``limit``; then answers 413 and closes."""

    def __init__(self, inner: tornado.httputil.HTTPMessageDelegate, request, limit: int):
        self.inner = inner
        self.request = request
        self.limit = limit
        self.received = 0
        self.started = False
        self.refused = False

    def headers_received(self, start_line, headers):
        length = headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > self.limit:
            return self._refuse()
        if not length and hasattr(self.request.connection, "set_max_body_size"):
            # Chunked: Tornado would answer a bare 400 at its own limit; the count here answers 413 first.
            self.request.connection.set_max_body_size(1 << 62)
        self.started = True
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes):
        if self.refused:
            return None
        self.received += len(chunk)
        if self.received > self.limit:  # chunked bodies announce no length
            return self._refuse()
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if self.started:
            self.inner.on_connection_close()

    async def _refuse(self) -> None:
        self.refused = True
        stream = getattr(self.request.connection, "stream", None)
        if stream is None:
            return
        log.info("refusing a request body over %d bytes from %s: %s %s", self.limit, self.request.remote_ip,
                 self.request.method, self.request.path[:200])
        fixed = self.request.path in SMALL_BODY_ROUTES
        error = CallError("too_big", f"the request body is over the {self.limit}-byte limit of this URL"
                                     + ("" if fixed else " (http.max_body_bytes)") + ": send less")
        # Tornado waits for this coroutine before it reads on, and finds the stream closed after it,
        # so the body is never read into memory. Nothing here may raise: it would be logged as a bug.
        try:
            await stream.write(error_answer(413, error))
            with contextlib.suppress(OSError):
                stream.socket.shutdown(socket.SHUT_WR)
            loop = stream.io_loop
            deadline = loop.time() + _LINGER_SECONDS
            drained = 0
            while drained < _LINGER_BYTES and loop.time() < deadline:
                chunk = await tornado.gen.with_timeout(deadline, stream.read_bytes(65536, partial=True))
                drained += len(chunk)
        except Exception:
            pass  # closed by the client, or the linger ran out: either way, we are done
        finally:
            stream.close()


class _RefusalHandler(tornado.web.RequestHandler):
    """Answers a request the guard refused (before any route saw it) with the error model's JSON."""

    def initialize(self, status: int, error: CallError) -> None:
        self.status, self.error = status, error

    def prepare(self) -> None:
        self.set_status(self.status)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps({"error": error_body(self.error.code, self.error.message)}))

    def check_xsrf_cookie(self) -> None:
        pass


class _ResponsePolicy(tornado.web.OutputTransform):
    """Every answer: no Server header (it names Tornado's version); every error answer: nosniff."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if "Server" in headers:
            del headers["Server"]
        if status_code >= 400:
            headers["X-Content-Type-Options"] = "nosniff"
        return status_code, headers, chunk


class GuardedApplication(tornado.web.Application):
    """A Tornado application whose requests pass the :class:`Guard` before routing."""

    guard: Guard | None = None

    def __init__(self, *args: Any, guard: Guard | None = None, **settings: Any):
        super().__init__(*args, **settings)
        self.guard = guard
        self.add_transform(_ResponsePolicy)

    def route(self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any):
        """The delegate that answers ``request`` once it passed the guard (subclasses add steps)."""
        return super().find_handler(request, **kwargs)

    def find_handler(self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any):
        guard = self.guard
        if guard is None:
            return self.route(request, **kwargs)
        guard.apply_forwarded(request)
        refusal = guard.host_refusal(request)
        if refusal is not None:
            delegate = self.get_handler_delegate(request, _RefusalHandler,
                                                 {"status": refusal.http_status, "error": refusal})
        else:
            delegate = self.route(request, **kwargs)
        return _BodyLimit(delegate, request, guard.body_limit(request.path))
