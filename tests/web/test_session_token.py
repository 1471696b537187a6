"""POST /_ss/session: a wrong cookie must not burn the token of the browser it belongs to."""

import asyncio

import pytest

from ss.sessions.auth import issue_cookie_token
from ss.testing import running_app


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": "import ss\n\nclass Actions(ss.Actions):\n    pass\n"})
    async with running_app(root, "production", store_overrides) as running:
        yield running


async def post_token(server, token, session_id):
    return await server.fetch("/_ss/session", method="POST", body=token,
                              headers={"Cookie": f"ss_session={session_id}"})


async def test_session_token_survives_a_wrong_cookie(server):
    token = await issue_cookie_token(server.app, "old-id", "new-id")
    wrong = await post_token(server, token, "someone-else")
    assert wrong.code == 403 and b"another browser" in wrong.body
    right = await post_token(server, token, "old-id")
    assert right.code == 204 and "ss_session=new-id" in right.headers["Set-Cookie"]
    again = await post_token(server, token, "old-id")
    assert again.code == 403 and b"unknown or used token" in again.body


async def test_session_token_works_once_when_raced(server):
    token = await issue_cookie_token(server.app, "old-id", "new-id")
    answers = await asyncio.gather(*(post_token(server, token, "old-id") for _ in range(5)))
    assert sorted(a.code for a in answers) == [204, 403, 403, 403, 403]
