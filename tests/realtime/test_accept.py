"""ss/realtime/accept.py: the init message is built once per app, API tree and assets version."""

from ss import protocol
from ss.realtime.accept import init_message


class Tree:
    def __init__(self, api):
        self.api = api

    def describe(self):
        return self.api


class App:
    env = "production"

    def __init__(self):
        self.tree = Tree({"app": {"square": 1}})
        self.configs = 0

    def client_config(self):
        self.configs += 1
        return {"heartbeat_interval": 30, "reconnect": {"min_delay": 0.5}, "quote": 'a "b" \\ c'}


def encoded(app, connection_id, **extra):
    return protocol.encode_init(connection_id, app.env, {"heartbeat_interval": 30, "reconnect": {"min_delay": 0.5},
                                                         "quote": 'a "b" \\ c'}, app.tree.describe(), **extra)


def test_the_init_message_is_encode_inits_bytes_and_encoded_once():
    app = App()
    for number in range(1, 50):
        connection_id = f"Ab_-9x.{number:x}"
        assert init_message(app, connection_id) == encoded(app, connection_id)
    assert app.configs == 1                                # config and API encoded once, not per socket


def test_a_reload_or_a_new_assets_version_makes_a_new_template():
    app = App()
    assert init_message(app, "a.1") == encoded(app, "a.1")
    app.tree = Tree({"app": {"square": 1, "cube": 1}})     # reload_actions makes a new tree
    assert init_message(app, "a.2") == encoded(app, "a.2")
    assert init_message(app, "a.3", "v7") == encoded(app, "a.3", assets="v7")
    assert init_message(app, "a.4", "v8") == encoded(app, "a.4", assets="v8")
    assert app.configs == 4


def test_an_id_that_would_need_escaping_is_encoded_in_full():
    app = App()
    assert init_message(app, 'odd"id') == encoded(app, 'odd"id')
