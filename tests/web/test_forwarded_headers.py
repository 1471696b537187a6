"""X-Forwarded-For / X-Real-IP / X-Forwarded-Proto are believed only from http.trusted_proxies."""

import asyncio

import orjson
import pytest
import tornado.httpclient
import tornado.websocket

from ss.testing import running_app

ACTIONS = """
import ss

class Actions(ss.Actions):
    def whoami(self):
        return [self.request.remote_ip, self.request.secure]
"""


def start(make_app, http=None, **more):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": False}, "http": http or {}, **more}
    return running_app(root, "production", overrides)


async def whoami(app, **headers):
    response = await app.fetch("/api/app/whoami.json", headers=headers)
    assert response.code == 200, response.body
    return orjson.loads(response.body)


async def test_forwarded_headers_from_anyone_are_ignored_by_default(make_app):
    async with start(make_app) as app:
        assert await whoami(app, **{"X-Forwarded-For": "6.6.6.6"}) == ["127.0.0.1", False]
        assert await whoami(app, **{"X-Real-IP": "6.6.6.6", "X-Forwarded-Proto": "https"}) == ["127.0.0.1", False]
        assert await whoami(app, **{"X-Scheme": "https"}) == ["127.0.0.1", False]


async def test_forwarded_headers_cannot_dodge_the_http_rate_limit(make_app):
    async with start(make_app, limiter={"enabled": True, "http": {"rps": 5}}) as app:
        codes = [(await app.fetch("/api/app/whoami.json", headers={"X-Forwarded-For": f"10.1.0.{i}",
                                                                  "X-Real-IP": f"10.2.0.{i}"})).code
                 for i in range(20)]
        assert codes.count(429) >= 10


async def test_forwarded_headers_cannot_dodge_the_per_address_socket_cap(make_app):
    async with start(make_app, limits={"max_connections_per_ip": 2}) as app:
        opened, refused = [], 0
        for i in range(5):
            request = tornado.httpclient.HTTPRequest(app.socket_url, headers={"X-Forwarded-For": f"10.1.0.{i}",
                                                                              "X-Real-IP": f"10.2.0.{i}"})
            try:
                opened.append(await tornado.websocket.websocket_connect(request))
            except tornado.httpclient.HTTPClientError as exc:
                assert exc.code == 429
                refused += 1
        assert len(opened) == 2 and refused == 3
        for ws in opened:
            ws.close()
        await asyncio.sleep(0.05)


async def test_forwarded_headers_from_a_trusted_proxy_are_believed(make_app):
    async with start(make_app, {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}) as app:
        # The client wrote 1.1.1.1 itself; 6.6.6.6 is what the outer (trusted) proxy 10.0.0.5 saw.
        headers = {"X-Forwarded-For": "1.1.1.1, 6.6.6.6, 10.0.0.5", "X-Forwarded-Proto": "https"}
        assert await whoami(app, **headers) == ["6.6.6.6", True]
        assert await whoami(app, **{"X-Real-IP": "6.6.6.6"}) == ["6.6.6.6", False]
        assert await whoami(app, **{"X-Forwarded-For": "not-an-ip"}) == ["127.0.0.1", False]


@pytest.mark.parametrize("peer, forwarded, expected", [
    ("203.0.113.9", "6.6.6.6", "203.0.113.9"),                   # not a proxy of ours: its header is ignored
    ("10.0.0.1", "6.6.6.6", "6.6.6.6"),
    ("10.0.0.1", "1.1.1.1, 6.6.6.6", "6.6.6.6"),                 # leftmost entries are the client's own words
    ("10.0.0.1", "6.6.6.6, 10.0.0.7", "6.6.6.6"),                # our proxies are skipped
    ("10.0.0.1", "10.0.0.8, 10.0.0.7", "10.0.0.8"),
    ("10.0.0.1", "6.6.6.6, junk", "10.0.0.1"),
    ("::ffff:10.0.0.1", "6.6.6.6", "6.6.6.6"),                   # IPv4 peer on a dual-stack socket
])
def test_client_address_reads_x_forwarded_for_from_the_right(peer, forwarded, expected):
    from ss.web.guard import client_address, parse_networks

    networks = parse_networks(["10.0.0.0/8"])
    assert client_address(peer, {"X-Forwarded-For": forwarded}, networks) == expected


def test_trusted_proxies_setting_names_a_bad_entry():
    from ss.errors import StartupError
    from ss.web.guard import parse_networks

    with pytest.raises(StartupError, match=r"http.trusted_proxies: '10.0.0.300' is neither"):
        parse_networks(["10.0.0.300"])
