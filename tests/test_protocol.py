"""The wire protocol without sockets: every kind of bad frame gets its exact error."""

import orjson
import pytest

from ss import protocol
from ss.protocol import Call, FrameTooBig, Heartbeat, Limits, ProtocolError, Recover, parse


def error_of(frame, limits=Limits()):
    with pytest.raises(ProtocolError) as info:
        parse(frame, limits)
    return info.value


def test_call_is_parsed():
    msg = parse('{"type":"call","id":7,"method":"app.square","args":[25]}')
    assert msg == Call(7, "app.square", ("app", "square"), [25], False)


def test_call_args_default_to_empty_and_silent_flag():
    msg = parse(b'{"type":"call","id":"a1","method":"app.init","silent":true}')
    assert msg.args == [] and msg.silent is True and msg.id == "a1"


def test_heartbeat_and_recover():
    assert isinstance(parse('{"type":"heartbeat"}'), Heartbeat)
    assert parse('{"type":"recover","streams":{"user":3}}') == Recover({"user": 3})


def test_presence_request_and_answers():
    assert parse('{"type":"presence","channel":"room1"}') == protocol.PresenceRequest("room1")
    state = orjson.loads(protocol.encode_presence_state("room1", {"7": [{"connection_id": "a.1"}]}, 12))
    assert state == {"type": "presence_state", "channel": "room1", "state": {"7": [{"connection_id": "a.1"}]},
                     "version": 12}
    refused = orjson.loads(protocol.encode_presence_refused("room1", "not_subscribed", "subscribe first"))
    assert refused == {"type": "presence_state", "channel": "room1",
                       "error": {"code": "not_subscribed", "message": "subscribe first"}}
    diff = orjson.loads(protocol.encode_presence_diff("room1", {"ann": [{"s": 1}]}, {}, 13))
    assert diff == {"type": "presence_diff", "channel": "room1", "joins": {"ann": [{"s": 1}]}, "leaves": {},
                    "version": 13}


@pytest.mark.parametrize("frame, code, message", [
    ("nope", "bad_json", "frame is not valid JSON"),
    (b"\xff\xfe", "bad_json", "frame is not valid JSON"),
    ("[1,2]", "bad_message", "a message must be a JSON object, not a list"),
    ('"hi"', "bad_message", "a message must be a JSON object, not a string"),
    ("{}", "bad_message", 'a message needs a "type" string'),
    ('{"type":5}', "bad_message", 'a message needs a "type" string'),
    ('{"type":"launch"}', "unknown_type", "unknown message type 'launch'"),
    ('{"type":"call","method":"app.square"}', "bad_message", 'a call needs an "id" (integer or string)'),
    ('{"type":"call","id":true,"method":"a.b"}', "bad_message", 'a call needs an "id" (integer or string)'),
    ('{"type":"call","id":1.5,"method":"a.b"}', "bad_message", 'a call needs an "id" (integer or string)'),
    ('{"type":"call","id":1}', "bad_message", 'a call needs a "method" string such as "app.square"'),
    ('{"type":"call","id":1,"method":"app..x"}', "bad_message", "method 'app..x' has an empty name in it"),
    ('{"type":"call","id":1,"method":"app.square","args":5}', "bad_message", '"args" must be a list, not a number'),
    ('{"type":"call","id":1,"method":"app.__class__"}', "private_action",
     "'app.__class__' is private: names starting with _ cannot be called"),
    ('{"type":"call","id":1,"method":"_secret.x"}', "private_action",
     "'_secret.x' is private: names starting with _ cannot be called"),
    ('{"type":"recover","streams":{"a":"x"}}', "bad_message", '"streams" must map stream names to integer offsets'),
    ('{"type":"presence"}', "bad_message", '"channel" must be a channel name'),
    ('{"type":"presence","channel":""}', "bad_message", '"channel" must be a channel name'),
    ('{"type":"presence","channel":["a"]}', "bad_message", '"channel" must be a channel name'),
])
def test_bad_frames(frame, code, message):
    error = error_of(frame)
    assert (error.code, error.message[:len(message)]) == (code, message)


def test_error_keeps_the_call_id_once_known():
    assert error_of('{"type":"call","id":9,"method":"a._b"}').call_id == 9
    assert error_of("nope").call_id is None


def test_long_ids_and_methods_are_refused():
    assert error_of(orjson.dumps({"type": "call", "id": "x" * 65, "method": "a.b"})).code == "bad_message"
    assert error_of(orjson.dumps({"type": "call", "id": 1, "method": "a." + "b" * 300})).code == "bad_message"
    assert error_of(orjson.dumps({"type": "call", "id": 2**60, "method": "a.b"})).code == "bad_message"


def test_deep_nesting_is_refused_without_recursion():
    deep = "[" * 40 + "]" * 40
    error = error_of('{"type":"call","id":1,"method":"a.b","args":' + deep + "}", Limits(max_depth=32))
    assert error.code == "bad_message" and "nest deeper than 32" in error.message
    ok = "[" * 10 + "]" * 10
    assert parse('{"type":"call","id":1,"method":"a.b","args":' + ok + "}").args


def test_too_many_args():
    frame = orjson.dumps({"type": "call", "id": 1, "method": "a.b", "args": list(range(65))})
    assert "more than 64 arguments" in error_of(frame).message


def test_oversize_frame_raises_frame_too_big():
    with pytest.raises(FrameTooBig) as info:
        parse("x" * 101, Limits(max_frame_bytes=100))
    assert info.value.code == "too_big" and "101 bytes" in info.value.message


def test_encoders_produce_documented_messages():
    assert orjson.loads(protocol.encode_reply(7, 625)) == {"type": "reply", "id": 7, "result": 625}
    assert orjson.loads(protocol.encode_error(None, "bad_json", "m")) == {
        "type": "error", "id": None, "error": {"code": "bad_json", "message": "m"}}
    assert orjson.loads(protocol.encode_error(1, "action_failed", "m", "Traceback"))["error"]["traceback"] == "Traceback"
    assert orjson.loads(protocol.encode_event("e", {"a": 1}, channel="c")) == {
        "type": "event", "event": "e", "data": {"a": 1}, "channel": "c"}
    init = orjson.loads(protocol.encode_init("cid", "development", {"x": 1}, {"app": {"square": 1}}))
    assert init == {"type": "init", "connection_id": "cid", "env": "development", "config": {"x": 1},
                    "api": {"app": {"square": 1}}}


def test_encode_handles_sets_and_refuses_other_objects():
    assert orjson.loads(protocol.encode_reply(1, {1, 2}))["result"] in ([1, 2], [2, 1])
    assert orjson.loads(protocol.encode_reply(1, (1, 2)))["result"] == [1, 2]
    with pytest.raises(TypeError, match="not JSON serializable: function"):
        protocol.encode_reply(1, {"f": lambda: 1})
