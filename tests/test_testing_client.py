"""ss.testing.Client against servers that misbehave: it fails with a clear ConnectionError, never hangs."""

import asyncio

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

from ss.testing import Client


class ClosesAtOnce(tornado.websocket.WebSocketHandler):
    def open(self):
        self.close(1011, "not today")


class SaysNothing(tornado.websocket.WebSocketHandler):
    def open(self):
        pass


@pytest.fixture
async def port():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([("/closes", ClosesAtOnce),
                                                                    ("/silent", SaysNothing)]))
    server.add_sockets(sockets)
    yield sockets[0].getsockname()[1]
    server.stop()


async def test_a_socket_closed_before_init_is_a_connection_error(port):
    with pytest.raises(ConnectionError, match=r"closed the socket before its init message \(code 1011, not today\)"):
        await Client(f"ws://127.0.0.1:{port}/closes").connect()


async def test_no_init_message_times_out(port):
    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionError, match="no init message from the server within 0.3 s"):
        await Client(f"ws://127.0.0.1:{port}/silent").connect(timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 5
