"""Server actions: every public method here is SS.server.app.<name> in the browser
and /api/app/<name>.json over HTTP."""

import time

import ss

MAX_NAME = 30
MAX_TEXT = 500


class Actions(ss.Actions):
    def init(self):
        """Called by the welcome page once the socket is ready."""
        # session.handle names the session without giving away its id (the secret of the cookie)
        return f"This session ({self.session.handle}) was created at {self.session.created_at:%H:%M:%S} UTC"

    def square(self, number):
        return number * number

    # ---- Quick chat (SocketChat): sign in with a name, messages go to every tab ----

    async def chat_state(self):
        """Who this tab is signed in as (kept in the session across reloads) and who is online."""
        return {"name": self.session.attributes.get("name"), "online": sorted(await ss.users.online.now())}

    # DEMO ONLY, NOT AUTHENTICATION: whoever types a name becomes that user, so anyone
    # can claim any user id (and read what is sent to it). Before real users, check a
    # password or token first, e.g. `await self.session.authenticate(...)` (docs/auth.md).
    async def sign_in(self, name):
        """Sign in with just a name: it becomes the user id, so users online lists it."""
        name = " ".join(str(name).split())[:MAX_NAME]
        if not name:
            raise ValueError("please type a name")
        previous = self.session.attributes.get("name")
        self.session.attributes["name"] = name
        await self.session.set_user_id(name)
        if previous != name:
            await ss.publish.broadcast("userJoined", {"name": name})
        return name

    async def sign_out(self):
        name = self.session.attributes.pop("name", None)
        await self.session.user.logout()
        if name:
            await ss.publish.broadcast("userLeft", {"name": name})
        return True

    async def send_message(self, text):
        """Broadcast a message to every open tab, on every server instance."""
        name = self.session.attributes.get("name")
        if not name:
            raise ValueError("sign in with a name first")
        text = str(text).strip()[:MAX_TEXT]
        if text:
            await ss.publish.broadcast("newMessage", {"from": name, "text": text, "at": time.time()})
        return True
