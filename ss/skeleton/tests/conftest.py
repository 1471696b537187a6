# ss's pytest fixtures, see ss/testing.py:
#   ss_app          the app served on a free port for one test (SS_ENV "test")
#   ss_client       a connected client: await ss_client.call("app.square", 25)
#   ss_app_factory  async with ss_app_factory(overrides={...}) as app: other settings
#   ss_root         this app's folder
try:
    import pytest_asyncio  # noqa: F401  (ss.testing defines its fixtures only when it is there)
except ImportError:
    raise ImportError(
        "this app's tests need pytest-asyncio: run `python -m pip install pytest-asyncio` "
        "with the Python that runs them (`make test` uses the one that ran `python -m ss new`)"
    ) from None

from ss.testing import ss_app, ss_app_factory, ss_client, ss_root  # noqa: E402,F401
