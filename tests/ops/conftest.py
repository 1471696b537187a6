"""Fixtures of the operations tests: server processes with any arguments, redis-servers of their own."""

from __future__ import annotations

import pytest

from tests.processes import RedisProcess
from tests.tools.conftest import ss_process  # noqa: F401  (the same fixture as the tools tests)


@pytest.fixture
def redis_procs(tmp_path):
    """redis_procs(port=None, extra=[...], sentinel=False) -> a started RedisProcess; all stopped after."""
    started: list[RedisProcess] = []

    def start(port: int | None = None, extra: list[str] | None = None, sentinel: bool = False) -> RedisProcess:
        process = RedisProcess(tmp_path / "redis", port, extra, sentinel).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
