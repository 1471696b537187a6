"""The HTTP API and static files: formats, argument parsing, status codes, traversal."""

import orjson
import pytest

from ss.web.http_api import parse_query_args
from ss.testing import running_app

ACTIONS = """
import ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    def add(self, params):
        return params

    def boom(self):
        raise RuntimeError("internal detail")

    def nothing(self):
        return None
"""


@pytest.mark.parametrize("query, args", [
    ("", []),
    ("25", [25]),
    ("hello", ["hello"]),
    ("%5B1%2C2%5D", [[1, 2]]),
    ("1&two", [1, "two"]),
    ("name=Tom&age=21", [{"name": "Tom", "age": "21"}]),
    ("tag=a&tag=b", [{"tag": ["a", "b"]}]),
    ("q=", [{"q": ""}]),
])
def test_query_args(query, args):
    assert parse_query_args(query) == args


@pytest.fixture(params=["development", "production"])
async def server(request, make_app):
    root = make_app({"app/server/app.py": ACTIONS, "public/hello.txt": "hi\n", "public/assets/app-abc.js": "x",
                     "config/secret.txt": "do not serve"})
    async with running_app(root, request.param, {"redis": {"enabled": False}}) as running:
        yield running


async def test_json_and_html(server):
    response = await server.fetch("/api/app/square.json?25")
    assert response.code == 200 and response.body == b"625"
    assert response.headers["Content-Type"] == "application/json"
    page = await server.fetch("/api/app/square?25")
    assert page.code == 200 and b"625" in page.body and page.headers["Content-Type"].startswith("text/html")
    assert (await server.fetch("/api/app/nothing.json")).body == b"null"


async def test_query_object(server):
    response = await server.fetch("/api/app/add.json?name=Tom&age=21")
    assert orjson.loads(response.body) == {"name": "Tom", "age": "21"}


async def test_post_json_list(server):
    response = await server.fetch("/api/app/square.json", method="POST", body=b"[7]",
                                  headers={"Content-Type": "application/json"})
    assert response.body == b"49"


async def test_api_lists_the_tree(server):
    response = await server.fetch("/api.json")
    assert orjson.loads(response.body) == {"app": {"square": 1, "add": 1, "boom": 1, "nothing": 1}}
    assert b"square" in (await server.fetch("/api")).body


@pytest.mark.parametrize("path, status, code", [
    ("/api/app/nope.json", 404, "unknown_action"),
    ("/api/nope/square.json", 404, "unknown_action"),
    ("/api/app/__class__.json", 404, "private_action"),
    ("/api/app/square.json?1&2", 400, "bad_arguments"),
    ("/api/app/square.json", 400, "bad_arguments"),
    ("/api/app/boom.json", 500, "action_failed"),
])
async def test_errors(server, path, status, code):
    response = await server.fetch(path)
    assert response.code == status
    if code:
        assert orjson.loads(response.body)["error"]["code"] == code


async def test_bad_post_body_is_400(server):
    response = await server.fetch("/api/app/square.json", method="POST", body=b"{nope",
                                  headers={"Content-Type": "application/json"})
    assert response.code == 400 and "not valid JSON" in orjson.loads(response.body)["error"]["message"]


async def test_no_traceback_outside_development(server):
    body = orjson.loads((await server.fetch("/api/app/boom.json")).body)["error"]
    if server.app.env == "development":
        assert "internal detail" in body["traceback"]
    else:
        assert "traceback" not in body and "internal detail" not in body["message"]
    html = (await server.fetch("/api/app/boom")).body
    assert (b"Traceback" in html) == (server.app.env == "development")


async def test_static_files_types_and_caching(server):
    response = await server.fetch("/hello.txt")
    assert response.code == 200 and response.body == b"hi\n"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["Etag"]
    again = await server.fetch("/hello.txt", headers={"If-None-Match": response.headers["Etag"]})
    assert again.code == 304
    packed = await server.fetch("/assets/app-abc.js")
    assert packed.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", [
    "/../config/secret.txt", "/%2e%2e/config/secret.txt", "/%2E%2E%2Fconfig%2Fsecret.txt",
    "/assets/../../config/secret.txt", "/..%2f..%2fetc%2fpasswd", "/assets", "/nope.txt", "/%00",
])
async def test_nothing_outside_public(server, path):
    response = await server.fetch(path)
    assert response.code == 404 and b"do not serve" not in response.body


async def test_precompressed_packs_are_served_when_accepted(make_app):
    import gzip

    body = b"console.log('packed');" * 50
    root = make_app({"app/server/app.py": ACTIONS})
    (root / "public" / "assets").mkdir(parents=True)
    (root / "public" / "assets" / "app-1a2b.js").write_bytes(body)
    (root / "public" / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(body))
    async with running_app(root, "production", {"redis": {"enabled": False}}) as server:
        zipped = await server.fetch("/assets/app-1a2b.js", headers={"Accept-Encoding": "gzip"},
                                    decompress_response=False)
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.headers["Vary"] == "Accept-Encoding"   # (added by Tornado's compression transform)
        assert gzip.decompress(zipped.body) == body
        plain = await server.fetch("/assets/app-1a2b.js", headers={"Accept-Encoding": "identity"},
                                   decompress_response=False)
        assert "Content-Encoding" not in plain.headers and plain.body == body
        assert zipped.headers["Content-Type"] == plain.headers["Content-Type"]
        assert "javascript" in plain.headers["Content-Type"]
