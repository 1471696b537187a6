"""`python -m ss console` driven through a pseudo-terminal, as a developer would type into it."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
import uuid

import pytest
import websocket


class Terminal:
    """A process on a pty: ``send`` keystrokes, ``expect`` text in what it prints."""

    def __init__(self, argv: list[str], cwd, env: dict):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the console
            os.chdir(cwd)
            os.execve(sys.executable, argv, env)
        self.seen = ""

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not printed within {timeout}s; the console printed:\n{self.seen}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child is gone
                    chunk = ""
                assert chunk, f"the console exited before printing {text!r}:\n{self.seen}"
                self.seen += chunk
        before, _, self.seen = self.seen.partition(text)
        return before

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:  # keep draining, or the child could block writing
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.seen += os.read(self.fd, 65536).decode(errors="replace")
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the console did not exit:\n{self.seen}")


@pytest.fixture
def console(tmp_path):
    started: list[Terminal] = []

    def start(root, env: dict) -> Terminal:
        full = {**os.environ, "SS_ENV": "development", "HOME": str(tmp_path), "TERM": "xterm", **env}
        terminal = Terminal([sys.executable, "-m", "ss", "console"], root, full)
        started.append(terminal)
        return terminal

    yield start
    for terminal in started:
        try:
            os.kill(terminal.pid, signal.SIGKILL)
            os.waitpid(terminal.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def test_console_runs_actions_without_await_and_publishes_to_a_running_server(
        skeleton_app, ss_server, redis_url, console, tmp_path):
    prefix = f"console-{uuid.uuid4().hex[:8]}:"
    (skeleton_app / "config" / "environments" / "development.py").write_text(
        f"config = {{'log': {{'level': 1}}, 'redis': {{'key_prefix': {prefix!r}}}}}\n")
    env = {"SS_REDIS_URL": redis_url}
    server = ss_server(skeleton_app, env=env)
    browser_tab = websocket.create_connection(server.url.replace("http", "ws") + "/_ss/socket",
                                              origin=server.url, timeout=10)
    assert json.loads(browser_tab.recv())["type"] == "init"

    term = console(skeleton_app, env)
    banner = term.expect(">>> ")
    assert "ss console" in banner and "publish reaches browsers of servers using this Redis" in banner

    term.send("ss.server.app.square(25)\r")
    assert term.expect(">>> ").splitlines()[-1].strip() == "625"             # no await needed

    term.send("pending = ss.server.app.square(3)\r")
    term.expect(">>> ")
    term.send("await pending\r")                                               # top-level await works too
    assert term.expect(">>> ").splitlines()[-1].strip() == "9"

    term.send("ss.shared.calculate.circumference(20)\r")
    assert term.expect(">>> ").splitlines()[-1].strip() == repr(2 * 355 / 113 * 20)

    term.send("ss.publish.broadcast('newMessage', {'from': 'console', 'text': 'hello'})\r")
    term.expect(">>> ")
    message = json.loads(browser_tab.recv())
    assert message["type"] == "event" and message["event"] == "newMessage"
    assert message["data"] == {"from": "console", "text": "hello"}

    term.send("ss.server.app.nope()\r")
    error = term.expect(">>> ")
    assert "CallError" in error and "no server action 'app.nope'" in error and "console.py" not in error

    term.send("ss.ser\t")                                                     # Tab completes
    term.expect("ss.server")
    term.send("\r")
    assert "<ss.server>" in term.expect(">>> ")

    term.send("\x04")                                                         # Ctrl-D leaves
    assert term.wait() == 0
    history = (tmp_path / ".ss_console_history").read_text()
    assert "ss.server.app.square(25)" in history
    browser_tab.close()


def test_with_the_embedded_store_the_console_says_publish_stays_inside(skeleton_app, console):
    term = console(skeleton_app, {})
    banner = term.expect(">>> ")
    assert "embedded" in banner and "publish reaches only this console" in banner
    term.send("ss.config.http.port\r")
    assert term.expect(">>> ").splitlines()[-1].strip() == "3000"
    term.send("exit()\r")
    assert term.wait() == 0
