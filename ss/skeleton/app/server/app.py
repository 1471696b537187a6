"""Server actions: every public method here is SS.server.app.<name> in the browser
and /api/app/<name>.json over HTTP."""

import ss


class Actions(ss.Actions):
    def init(self):
        """Called by the welcome page once the socket is ready."""
        return f"This session ({self.session.id[:8]}…) was created at {self.session.created_at:%H:%M:%S} UTC"

    def square(self, number):
        return number * number

    def sign_in(self, name):
        """Quick chat: remember who this tab is."""
        name = str(name).strip()[:30]
        if not name:
            raise ValueError("please type a name")
        self.session.attributes["name"] = name
        return name

    async def send_message(self, text):
        """Quick chat: broadcast a message to every open tab."""
        name = self.session.attributes.get("name")
        if not name:
            raise ValueError("sign in with a name first")
        text = str(text).strip()[:500]
        if text:
            await ss.publish.broadcast("newMessage", {"from": name, "text": text})
        return True
