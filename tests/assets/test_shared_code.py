"""app/shared run on the server in embedded V8: same code, same answers as the browser."""
from __future__ import annotations

import pytest

from ss.assets.errors import CompileError
from ss.assets.shared_code import SharedCode

from .conftest import write_files


async def test_shared_coffee_runs_on_the_server(tmp_path, worker):
    root = write_files(tmp_path, {
        "app/shared/calculate.coffee": "exports.circumference = (radius = 1) ->\n  2 * estimatePi() * radius\n"
                                       "estimatePi = -> 355 / 113\n",
        "app/shared/text/format.js": "exports.shout = function (s) { return s.toUpperCase() + '!'; };\n"
                                     "exports.pair = function (a, b) { return {a: a, b: [b]}; };\n",
    })
    shared = await SharedCode.load(root, worker)
    assert shared.tree() == {"calculate": {"circumference": 1}, "text": {"format": {"shout": 1, "pair": 1}}}
    assert shared.call("calculate.circumference", 20) == pytest.approx(2 * 355 / 113 * 20)
    assert shared.call("calculate.circumference") == pytest.approx(2 * 355 / 113)
    assert shared.call("text.format.shout", "hi") == "HI!"
    assert shared.call("text.format.pair", 1, "x") == {"a": 1, "b": ["x"]}


async def test_private_and_missing_names_are_refused(tmp_path, worker):
    root = write_files(tmp_path, {"app/shared/calc.coffee": "exports.x = -> 1\nhidden = -> 2\n"})
    shared = await SharedCode.load(root, worker)
    with pytest.raises(ValueError):
        shared.call("calc._x")
    with pytest.raises(Exception, match="no shared function calc.hidden"):
        shared.call("calc.hidden")


async def test_broken_shared_file_is_a_compile_error(tmp_path, worker):
    root = write_files(tmp_path, {"app/shared/bad.coffee": "exports.x = (\n"})
    with pytest.raises(CompileError) as info:
        await SharedCode.load(root, worker)
    assert info.value.file == "app/shared/bad.coffee"
