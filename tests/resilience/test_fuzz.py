"""Property-based fuzzing of the protocol parser: any input parses or raises ProtocolError, nothing else."""

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ss.protocol import Call, Heartbeat, Limits, ProtocolError, Recover, parse

int64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what JSON encoders here can write
json_values = st.recursive(
    st.none() | st.booleans() | int64 | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["call", "heartbeat", "recover", "other"]) | st.text(max_size=8) | json_values},
    optional={"id": json_values | int64, "method": st.text(max_size=30) | json_values,
              "args": json_values, "silent": json_values, "streams": json_values},
)

LIMITS = Limits(max_frame_bytes=4096, max_depth=8, max_args=16)


def check(frame):
    try:
        message = parse(frame, LIMITS)
    except ProtocolError as exc:
        assert exc.code and exc.message
        return
    assert isinstance(message, (Call, Heartbeat, Recover))
    if isinstance(message, Call):
        assert message.path and all(p and not p.startswith("_") for p in message.path)
        assert isinstance(message.args, list) and len(message.args) <= LIMITS.max_args


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(frame):
    check(frame)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_random_text(frame):
    check(frame)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_random_message_shapes(message):
    check(orjson.dumps(message))


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value(value):
    check(orjson.dumps(value))


def test_integers_beyond_64_bits_are_bad_json_not_a_crash():
    check('{"type":"call","id":1,"method":"a.b","args":[123456789012345678901234567890]}')
    check('{"type":"call","id":123456789012345678901234567890,"method":"a.b"}')
