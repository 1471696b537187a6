"""A development server listens on this machine only, and its banner says how to change that."""

import pytest

from ss.serving import banner
from ss.settings import load_config
from ss.testing import running_app


@pytest.mark.parametrize("env, host", [("development", "127.0.0.1"), ("production", "0.0.0.0"),
                                       ("staging", "0.0.0.0")])
def test_development_server_binds_loopback_by_default(env, host):
    assert load_config(None, env).http.host == host


async def test_banner_says_how_to_listen_on_other_interfaces(make_app):
    root = make_app({"app/server/app.py": "import ss\n\nclass Actions(ss.Actions):\n    pass\n"})
    async with running_app(root, "development", {"redis": {"enabled": False}}) as app:
        text = banner(app.app, app.port, app.server)
        assert "127.0.0.1 only" in text and 'http.host = "0.0.0.0"' in text
    async with running_app(root, "production", {"redis": {"enabled": False}}) as app:
        app.server.host = "0.0.0.0"
        assert "127.0.0.1 only" not in banner(app.app, app.port, app.server)
