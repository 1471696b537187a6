"""The two client-call messages without sockets: the server's client_call, the browser's client_reply."""

import orjson
import pytest

from ss import protocol
from ss.protocol import ClientReply, Limits, ProtocolError, parse


def error_of(frame, limits=Limits()):
    with pytest.raises(ProtocolError) as info:
        parse(frame, limits)
    return info.value


def test_encode_client_call_is_the_documented_message():
    payload = protocol.encode_client_call(3, "app.confirm", ["Delete the file?", {"n": 1}])
    assert orjson.loads(payload) == {"type": "client_call", "id": 3, "method": "app.confirm",
                                     "args": ["Delete the file?", {"n": 1}]}


def test_encode_client_call_refuses_what_json_cannot_carry():
    with pytest.raises(TypeError, match="not JSON serial"):
        protocol.encode_client_call(1, "app.x", [object()])


def test_a_result_is_parsed():
    assert parse('{"type":"client_reply","id":4,"result":{"ok":true}}') == ClientReply(4, {"ok": True}, None)
    assert parse(b'{"type":"client_reply","id":5,"result":null}') == ClientReply(5, None, None)


def test_a_missing_result_is_null():
    # JSON.stringify leaves out a key whose value is undefined
    assert parse('{"type":"client_reply","id":6}') == ClientReply(6, None, None)


@pytest.mark.parametrize("code", ["no_such_function", "client_error", "bad_result"])
def test_an_error_is_parsed(code):
    msg = parse(orjson.dumps({"type": "client_reply", "id": 9, "error": {"code": code, "message": "it broke"}}))
    assert msg == ClientReply(9, None, (code, "it broke"))


@pytest.mark.parametrize("frame, message", [
    ('{"type":"client_reply"}', 'a client_reply needs the integer "id" of its client_call'),
    ('{"type":"client_reply","id":"7"}', 'a client_reply needs the integer "id" of its client_call'),
    ('{"type":"client_reply","id":true}', 'a client_reply needs the integer "id" of its client_call'),
    ('{"type":"client_reply","id":1e300}', 'a client_reply needs the integer "id" of its client_call'),
    ('{"type":"client_reply","id":9007199254740993}', '"id" is outside the safe integer range'),
    ('{"type":"client_reply","id":1,"result":1,"error":{"code":"client_error","message":"x"}}',
     'a client_reply has a "result" or an "error", not both'),
    ('{"type":"client_reply","id":1,"error":"boom"}',
     '"error" must be an object {"code": ..., "message": ...}'),
    ('{"type":"client_reply","id":1,"error":{"code":"oops","message":"x"}}',
     '"error.code" must be one of bad_result, client_error, no_such_function'),
    ('{"type":"client_reply","id":1,"error":{"code":"client_error","message":5}}',
     '"error.message" must be a string'),
    ('{"type":"client_reply","id":1,"error":{"code":"client_error"}}',
     '"error.message" must be a string'),
])
def test_bad_replies_are_refused_without_an_id(frame, message):
    # Never with the client_reply's id: the browser would take the error for the reply to its own call of that id.
    error = error_of(frame)
    assert (error.code, error.message, error.call_id) == ("bad_message", message, None)


def test_a_deeply_nested_result_is_refused():
    frame = '{"type":"client_reply","id":1,"result":' + "[" * 40 + "]" * 40 + "}"
    error = error_of(frame, Limits(max_depth=32))
    assert (error.code, error.message, error.call_id) == ("bad_message", "the result nests deeper than 32 levels",
                                                          None)


def test_a_long_error_message_is_cut():
    frame = orjson.dumps({"type": "client_reply", "id": 1, "error": {"code": "client_error", "message": "x" * 5000}})
    msg = parse(frame)
    assert msg.error is not None and len(msg.error[1]) == protocol.MAX_CLIENT_ERROR_LENGTH + 1
    assert msg.error[1].endswith("…")


def test_a_result_at_the_depth_limit_is_taken():
    frame = '{"type":"client_reply","id":1,"result":' + "[" * 32 + "]" * 32 + "}"
    assert parse(frame, Limits(max_depth=32)).id == 1
