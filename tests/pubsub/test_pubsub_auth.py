"""Modular authentication, session rotation on login, logout, authenticate = True over WS and HTTP API."""

import base64

import orjson
import pytest

from ss.testing import CallFailed
from pubsub_helpers import no_event


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_authenticate_success_rotates_the_session(start_app):
    async with start_app() as app:
        async with app.client(follow_session=False) as client:
            old_id = client.session_id
            response = await client.call("app.sign_in", "joe", "secret")
            assert response == {"success": True, "user_id": 21323, "info": {"username": "joe"}}
            rotated = await client.next_message()
            assert rotated["type"] == "session" and set(rotated) == {"type", "token"}  # never the id itself
            assert await client.call("app.whoami") == 21323
            # the planted (old) id is dead
            assert await app.app.sessions.load(old_id) is None
            # the browser swaps its HttpOnly cookie with the one-time token
            reply = await app.fetch("/_ss/session", method="POST", body=rotated["token"],
                                    headers={"Cookie": f"ss_session={old_id}"})
            assert reply.code == 204
            new_id = reply.headers["Set-Cookie"].split("ss_session=", 1)[1].split(";", 1)[0]
            assert new_id != old_id and (await app.app.sessions.load(new_id)).user_id == 21323
            again = await app.fetch("/_ss/session", method="POST", body=rotated["token"],
                                    headers={"Cookie": f"ss_session={old_id}"})
            assert again.code == 403 and b"unknown or used token" in again.body
            # publish.user reaches the signed-in socket
            await client.call("app.to_user", 21323, "hi", "joe")
            assert (await client.next_event("hi"))["data"] == "joe"


async def test_successful_authenticate_signs_the_session_in_by_itself(start_app):
    async with start_app() as app:
        async with app.client() as client:
            response = await client.call("app.check_only", "ann", "pw")
            assert response["success"] and response["user_id"] == "ann"
            assert (await client.next_message())["type"] == "session"
            assert await client.call("app.whoami") == "ann"
            assert (await client.call("app.check_only", "ann", "bad"))["success"] is False
            assert await client.call("app.whoami") == "ann"  # a failed check does not sign out


async def test_cookie_token_is_bound_to_the_browser(start_app):
    async with start_app() as app:
        async with app.client(follow_session=False) as client:
            await client.call("app.sign_in", "ann", "pw")
            token = (await client.next_message())["token"]
            stranger = await app.fetch("/_ss/session", method="POST", body=token,
                                       headers={"Cookie": "ss_session=" + "x" * 32})
            assert stranger.code == 403 and b"another browser" in stranger.body


async def test_two_logins_in_one_action_hand_out_one_token_for_the_final_id(start_app):
    async with start_app() as app:
        async with app.client(follow_session=False) as client:
            old_id = client.session_id
            final_id = await client.call("app.login_twice", "first", "second")
            rotated = await client.next_message()
            assert rotated["type"] == "session"
            reply = await app.fetch("/_ss/session", method="POST", body=rotated["token"],
                                    headers={"Cookie": f"ss_session={old_id}"})
            assert reply.code == 204 and f"ss_session={final_id}" in reply.headers["Set-Cookie"]
            assert (await app.app.sessions.load(final_id)).user_id == "second"
            assert await app.app.sessions.load(old_id) is None


async def test_authenticate_failure_and_cb_style_module(start_app):
    async with start_app() as app:
        async with app.client() as client:
            response = await client.call("app.sign_in", "joe", "wrong")
            assert response == {"success": False, "info": {"num_retries": 2}}
            assert await client.call("app.whoami") is None
            response = await client.call("app.sign_in_cb", "kim", "letmein")
            assert response["success"] is True and response["user_id"] == "kim"
            assert await client.call("app.whoami") == "kim"


async def test_missing_auth_module_says_what_to_create(pubsub_root, start_app):
    (pubsub_root / "app" / "server" / "nomod.py").write_text(
        "import ss\nclass Actions(ss.Actions):\n"
        "    async def go(self):\n        return await self.session.authenticate('nope', {})\n")
    async with start_app() as app:
        async with app.client() as client:
            with pytest.raises(CallFailed) as failure:
                await client.call("nomod.go")
            assert "lib/server/nope.py" in failure.value.error["message"]


async def test_logout_stops_user_messages(start_app):
    async with start_app() as app:
        async with app.client() as client:
            await client.call("app.sign_in", "ann", "pw")
            assert await client.call("app.logout") is True
            assert await client.call("app.whoami") is None
            await client.call("app.to_user", "ann", "private", 1)
            await no_event(client)


async def test_authenticate_true_over_websocket(start_app):
    async with start_app() as app:
        async with app.client() as client:
            with pytest.raises(CallFailed) as failure:
                await client.call("secret.data")
            assert failure.value.code == "unauthorized"
            assert "authenticate first" in failure.value.error["message"]
            await client.call("app.sign_in", "joe", "secret")
            assert await client.call("secret.data") == {"user": 21323}


async def test_authenticate_true_over_http_api_with_basic_auth(start_app):
    config = {"api": {"auth": {"basic": {"module_name": "custom_auth"}}}}
    async with start_app(config) as app:
        refused = await app.fetch("/api/secret/data.json")
        assert refused.code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert orjson.loads(refused.body)["error"]["code"] == "unauthorized"
        wrong = await app.fetch("/api/secret/data.json", headers=basic("joe", "nope"))
        assert wrong.code == 401
        ok = await app.fetch("/api/secret/data.json", headers=basic("joe", "secret"))
        assert ok.code == 200 and orjson.loads(ok.body) == {"user": 21323}
        public = await app.fetch("/api/app/whoami.json", headers=basic("joe", "secret"))
        assert public.code == 200 and orjson.loads(public.body) is None  # only authenticate=True modules


async def test_http_api_without_basic_module_answers_401_without_prompt(start_app):
    async with start_app() as app:
        refused = await app.fetch("/api/secret/data.json")
        assert refused.code == 401 and "WWW-Authenticate" not in refused.headers


async def test_https_only_refuses_plain_http(start_app):
    async with start_app({"api": {"https_only": True}}) as app:
        plain = await app.fetch("/api/app/whoami.json")
        assert plain.code == 403
        assert orjson.loads(plain.body)["error"]["code"] == "https_required"
        claimed = await app.fetch("/api/app/whoami.json", headers={"X-Forwarded-Proto": "https"})
        assert claimed.code == 403  # anyone can send the header: only a trusted proxy is believed
    async with start_app({"api": {"https_only": True}, "http": {"trusted_proxies": ["127.0.0.1"]}}) as app:
        proxied = await app.fetch("/api/app/whoami.json", headers={"X-Forwarded-Proto": "https"})
        assert proxied.code == 200


async def test_http_api_login_sets_the_rotated_cookie(start_app):
    async with start_app() as app:
        async with app.client() as client:
            old_id = client.session_id
        reply = await app.fetch("/api/app/login.json?%22viaapi%22", headers={"Cookie": f"ss_session={old_id}"})
        assert reply.code == 200
        new_id = orjson.loads(reply.body)
        assert new_id != old_id and f"ss_session={new_id}" in reply.headers["Set-Cookie"]
        assert (await app.app.sessions.load(new_id)).user_id == "viaapi"
