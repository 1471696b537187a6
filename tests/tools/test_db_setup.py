"""config/db.py: run at start with ss.config merged, its names as ss.db, errors stop the start."""

from __future__ import annotations


import pytest

from ss.cli import main
from ss.db_setup import DbFileError
from ss.testing import call_action, running_app
from tests.conftest import free_port

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        async def people(self):
            return await ss.db.M.find("people")

        def settings(self):
            return ss.db.SETTINGS
"""

DB_PY = """
    import ss

    class FakeDb:
        def __init__(self, name):
            self.name, self.open = name, False

        async def find(self, collection):
            assert self.open, "on_start has not run"
            return [f"{self.name}.{collection}"]

    SETTINGS = dict(ss.config.db.mongo)          # config/environments/<env>.py merged already
    M = FakeDb(ss.config.db.mongo.database)

    async def on_start():
        M.open = True

    def on_stop():
        M.open = False
"""


@pytest.fixture
def db_app(make_app):
    return make_app({
        "app/server/app.py": ACTIONS,
        "config/db.py": DB_PY,
        "config/app.py": "config = {'db': {'mongo': {'database': 'dev_db', 'port': 27017}}}\n",
        "config/environments/test.py": "config = {'db': {'mongo': {'database': 'test_db'}}}\n",
    })


async def test_db_py_runs_at_start_with_the_merged_config(db_app):
    async with running_app(db_app) as running:
        async with running.client() as client:
            assert await client.call("app.people") == ["test_db.people"]
            assert await client.call("app.settings") == {"database": "test_db", "port": 27017}
        db = running.app.db
    assert db.M.open is False                     # on_stop ran at shutdown
    assert await call_action(db_app, "app.people") == ["test_db.people"]


async def test_a_missing_name_says_where_it_should_come_from(make_app, db_app):
    async with running_app(db_app) as running:
        with pytest.raises(AttributeError, match=r"ss.db.nope: config/db.py defines no such name"):
            running.app.db.nope
    async with running_app(make_app({"app/server/app.py": ACTIONS}, name="plain")) as running:
        with pytest.raises(AttributeError, match="the app has no config/db.py"):
            running.app.db.M


async def test_an_error_in_db_py_stops_the_start_with_its_traceback(db_app):
    (db_app / "config" / "db.py").write_text(
        "import ss\n\ndef connect():\n    raise ConnectionRefusedError('mongo at 127.0.0.1:27017')\n\nconnect()\n")
    with pytest.raises(DbFileError) as caught:
        async with running_app(db_app):
            pass
    text = str(caught.value)
    assert f'File "{db_app}/config/db.py", line 6, in <module>' in text
    assert 'line 4, in connect' in text and "ConnectionRefusedError: mongo at 127.0.0.1:27017" in text
    assert "ss/app.py" not in text                # only the app's own frames


def test_python_m_ss_start_prints_the_traceback_and_exits_1(db_app, monkeypatch, capsys):
    (db_app / "config" / "db.py").write_text("async def on_start():\n    raise RuntimeError('no database')\n")
    monkeypatch.chdir(db_app)
    assert main(["start", "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: server not started: ")
    assert "config/db.py failed, so the app did not start" in err
    assert "line 2, in on_start" in err and "RuntimeError: no database" in err
