"""The messages between the HTTP processes and the settlement writer process."""

from __future__ import annotations

import os
import zlib
from collections import Counter

import orjson

from minsheng.api.responses import error_response
from minsheng.core.errors import Conflict, InputError
from minsheng.service.auth import Unauthorized, hash_secret
from minsheng.service.settlement_batch import SettleReply
from minsheng.service.writer_process import (
    REPLY,
    REQUEST,
    Channel,
    encode_reply,
    encode_request,
    reply_parts,
    request_of,
    shard_of,
    socket_paths,
    split_frames,
)


def test_messages_split_where_they_end_even_when_they_arrive_in_pieces() -> None:
    stream = encode_request(1, hash_secret("a"), b'{"x":1}') + encode_request(2, hash_secret("b"),
                                                                            "医保".encode())
    buffer = bytearray()
    seen = []
    for i in range(0, len(stream), 7):  # seven bytes at a time
        buffer += stream[i:i + 7]
        seen += split_frames(buffer)
    assert not buffer
    assert [REQUEST.unpack_from(p)[0] for p in seen] == [1, 2]
    assert seen[1][REQUEST.size:].decode() == "医保"


def test_an_error_travels_as_the_api_answers_it() -> None:
    for error in (InputError("psn_no", "未知参保人", "unknown person"),
                  Conflict("冲突", "conflict", setl_id="S1"), Unauthorized("无效", "invalid")):
        status, replayed, body = reply_parts(error)
        response = error_response(error)
        assert (status, replayed, body) == (response.status_code, False, response.body)


def test_a_reply_keeps_its_tag_status_replay_and_body() -> None:
    [payload] = split_frames(bytearray(encode_reply(7, *reply_parts(
        SettleReply(b'{"setl_id":"S1"}', True, "S1")))))
    assert REPLY.unpack_from(payload) == (7, 200, True)
    assert payload[REPLY.size:] == b'{"setl_id":"S1"}'


def test_an_unexpected_failure_is_a_500_that_says_nothing_was_settled() -> None:
    status, _, body = reply_parts(RuntimeError("boom"))
    assert status == 500
    assert "boom" not in body.decode()
    assert orjson.loads(body)["error"] == "internal"


def test_a_body_that_is_not_json_is_refused_naming_the_body_after_the_token_check() -> None:
    request = request_of(encode_request(3, hash_secret("s"), b"{not json")[4:], Channel(None))  # type: ignore[arg-type]
    assert request.tag == 3 and request.secret_hash == hash_secret("s")
    assert isinstance(request.error, InputError) and request.error.field == "body"


def test_a_person_is_always_settled_by_the_same_writer_and_persons_spread_over_all() -> None:
    people = [f"P{i:08d}" for i in range(1000)]
    shards = [shard_of(p, 3) for p in people]
    assert shards == [shard_of(p, 3) for p in people]  # no per-process salt
    assert shard_of("P00000042", 3) == zlib.crc32(b"P00000042") % 3
    counts = Counter(shards)
    assert set(counts) == {0, 1, 2} and min(counts.values()) > 250
    assert {shard_of(p, 1) for p in people} == {0}


def test_a_body_without_a_text_psn_no_goes_to_the_first_writer_to_be_refused_there() -> None:
    assert shard_of(None, 4) == shard_of(12345, 4) == 0
    assert 0 <= shard_of("参保人\udcff", 4) < 4  # text that is no valid UTF-8 still has a writer


def test_the_writer_sockets_travel_in_one_variable() -> None:
    paths = ["/tmp/a/writer.sock", "/tmp/b/writer.sock"]
    assert socket_paths(os.pathsep.join(paths)) == paths
    assert socket_paths("/tmp/a/writer.sock") == ["/tmp/a/writer.sock"]
