"""Tests of this app's server actions, with ss's test tools. Run them with `make test`."""

import ss
from ss.testing import CallFailed, call_action

import pytest


async def test_square(ss_client):
    assert await ss_client.call("app.square", 25) == 625


async def test_the_http_api_answers_too(ss_app):
    response = await ss_app.fetch("/api/app/square.json?25")
    assert response.code == 200 and response.body == b"625"


async def test_chat_messages_reach_every_tab(ss_app):
    async with ss_app.client() as ann, ss_app.client() as bob:
        assert await ann.call("app.sign_in", "Ann") == "Ann"
        assert await ann.call("app.send_message", "hello") is True
        event = await bob.next_event("newMessage")
        assert event["data"]["from"] == "Ann" and event["data"]["text"] == "hello"


async def test_sending_needs_a_name_first(ss_client):
    with pytest.raises(CallFailed, match="sign in with a name first"):
        await ss_client.call("app.send_message", "hello")


async def test_an_action_with_a_fake_session(ss_root):
    # No server, no socket: the action runs with a session holding these attributes.
    assert await call_action(ss_root, "app.send_message", "hi", session_attributes={"name": "Ann"}) is True


async def test_shared_code_runs_on_the_server_too(ss_app):
    assert await ss.shared.calculate.circumference(20) == 2 * 355 / 113 * 20
