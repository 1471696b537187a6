"""Two separate servers sharing one Redis, as several hosts behind a load balancer (docs/deployment.md):
no sticky sessions needed, and publish.user reaches a user connected to the other one."""

from __future__ import annotations

import uuid

from ss.testing import Client
from tests.conftest import free_port

ACTIONS = """
    import os
    import ss

    class Actions(ss.Actions):
        async def sign_in(self, user_id):
            await self.session.set_user_id(user_id)
            return os.getpid()

        def whoami(self):
            return [self.session.user_id, os.getpid()]

        async def notify(self, user_id, text):
            await ss.publish.user(user_id, "ping", text)
            return os.getpid()
"""


async def test_sessions_and_publish_user_across_two_servers(make_app, ss_process, redis_url):
    prefix = f"hosts-{uuid.uuid4().hex[:8]}:"
    root = make_app({"app/server/app.py": ACTIONS,
                     "config/app.py": f"config = {{'redis': {{'key_prefix': {prefix!r}}}}}\n"})
    ports = free_port(), free_port()
    for port in ports:
        ss_process(root, ["start", "--port", str(port)], env={"SS_REDIS_URL": redis_url}) \
            .wait_for(f"http://127.0.0.1:{port}/robots.txt")
    host_a, host_b = (f"ws://127.0.0.1:{port}/_ss/socket" for port in ports)

    ann = await Client(host_a).connect()
    pid_a = await ann.call("app.sign_in", "ann")
    # Signing in gave the session a new id (session fixation); the browser's cookie follows it.
    rotated = await ann.next_message()
    assert rotated["type"] == "session"
    session_id = ann.session_id
    # The same browser (its cookie) lands on the other host: same session, still signed in.
    again = await Client(host_b, cookie=f"ss_session={session_id}").connect()
    user, pid_b = await again.call("app.whoami")
    assert user == "ann" and pid_b != pid_a
    await again.close()

    bob = await Client(host_b).connect()
    assert await bob.call("app.notify", "ann", "hello from b") == pid_b
    assert (await ann.next_event("ping", timeout=5))["data"] == "hello from b"
    await ann.close()
    await bob.close()
