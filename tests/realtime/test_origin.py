"""origin_allowed on its own: which pages may open a socket with the visitor's cookie."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ss.realtime.origin import origin_allowed
from ss.settings import load_config


def config(tmp_path, allowed: list[str] | None = None):
    (tmp_path / "config").mkdir(exist_ok=True)
    overrides = {"redis": {"enabled": False}}
    if allowed is not None:
        overrides["security"] = {"allowed_origins": allowed}
    return load_config(tmp_path, "test", overrides)


def request(host: str = "app.example.com:3000"):
    return SimpleNamespace(headers={"Host": host})


@pytest.mark.parametrize("origin", ["http://app.example.com:3000", "https://app.example.com:3000"])
def test_the_servers_own_origin_is_allowed(tmp_path, origin):
    assert origin_allowed(origin, request(), config(tmp_path))


@pytest.mark.parametrize("origin, host", [
    ("http://APP.Example.com:3000", "app.example.com:3000"),
    ("http://app.example.com:3000", "App.EXAMPLE.com:3000"),
])
def test_host_case_does_not_matter(tmp_path, origin, host):
    assert origin_allowed(origin, request(host), config(tmp_path))


@pytest.mark.parametrize("origin", [
    "http://evil.example",                    # another site
    "http://app.example.com",                 # same host, another port
    "http://app.example.com:3001",
    "http://app.example.com.evil.example:3000",
    "http://evil.example/app.example.com:3000",
    "null",                                   # sandboxed iframes, file:// pages
    "",
    "app.example.com:3000",                   # no scheme: not an origin
    "not a url",
    "http://",
])
def test_foreign_malformed_and_null_origins_are_refused(tmp_path, origin):
    assert not origin_allowed(origin, request(), config(tmp_path))


def test_no_host_header_allows_no_origin(tmp_path):
    assert not origin_allowed("http://app.example.com:3000", SimpleNamespace(headers={}), config(tmp_path))


def test_listed_origins_are_allowed_exactly(tmp_path):
    cfg = config(tmp_path, ["https://other.example", "http://localhost:8080"])
    assert origin_allowed("https://other.example", request(), cfg)
    assert origin_allowed("http://localhost:8080", request(), cfg)
    assert origin_allowed("http://app.example.com:3000", request(), cfg)   # its own origin still is
    assert not origin_allowed("http://other.example", request(), cfg)     # another scheme
    assert not origin_allowed("https://other.example:444", request(), cfg)
    assert not origin_allowed("https://sub.other.example", request(), cfg)
    assert not origin_allowed("null", request(), cfg)


def test_a_star_allows_every_origin(tmp_path):
    cfg = config(tmp_path, ["*"])
    for origin in ("http://evil.example", "null", "https://app.example.com:3000"):
        assert origin_allowed(origin, request(), cfg)


def test_nothing_listed_by_default(tmp_path):
    assert config(tmp_path).get_path("security.allowed_origins") in (None, [])
    assert not origin_allowed("https://other.example", request(), config(tmp_path))
