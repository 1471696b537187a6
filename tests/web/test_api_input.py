"""The HTTP API applies the socket's input limits and answers unencodable results like the socket does."""

import orjson
import pytest

from ss.testing import running_app

ACTIONS = """
import ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    def count(self, *args):
        return len(args)

    def deep(self, levels):
        value = []
        for _ in range(levels):
            value = [value]
        return value
"""


@pytest.fixture
async def server(make_app):
    root = make_app({"app/server/app.py": ACTIONS})
    async with running_app(root, "production", {"redis": {"enabled": False}}) as running:
        yield running


def error_of(response):
    assert response.headers["Content-Type"] == "application/json"
    return orjson.loads(response.body)["error"]


async def test_http_api_refuses_more_arguments_than_the_socket(server):
    limit = server.app.protocol_limits.max_args
    response = await server.fetch("/api/app/count.json?" + "&".join(["1"] * (limit + 1)))
    assert response.code == 400
    error = error_of(response)
    assert error["code"] == "bad_message" and f"more than {limit} arguments" in error["message"]
    body = await server.fetch("/api/app/count.json", method="POST", body=orjson.dumps([1] * 100_000),
                              headers={"Content-Type": "application/json"})
    assert body.code == 400 and error_of(body)["code"] == "bad_message"
    assert (await server.fetch("/api/app/count.json?" + "&".join(["1"] * limit))).body == str(limit).encode()


async def test_http_api_refuses_arguments_nested_too_deep(server):
    depth = server.app.protocol_limits.max_depth
    nested = "[" * (depth + 5) + "]" * (depth + 5)
    response = await server.fetch("/api/app/count.json", method="POST", body=f"[{nested}]",
                                  headers={"Content-Type": "application/json"})
    assert response.code == 400
    error = error_of(response)
    assert error["code"] == "bad_message" and f"deeper than {depth} levels" in error["message"]


@pytest.mark.parametrize("path", ["/api/app/square.json?4294967296", "/api/app/deep.json?500"])
async def test_http_api_unencodable_result_is_an_action_failed_error(server, path, caplog):
    response = await server.fetch(path)
    assert response.code == 500
    error = error_of(response)
    assert error["code"] == "action_failed" and "cannot be sent as JSON" in error["message"]
    html = await server.fetch(path.replace(".json", ""))
    assert html.code == 500 and b"action_failed" in html.body
    assert "Traceback" not in caplog.text
