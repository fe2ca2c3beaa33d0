"""The event-stream parser of the Anthropic provider (experiments/providers/sse.py)."""

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Iterable

from anthropic._streaming import SSEDecoder as SDKDecoder

from experiments.providers.sse import ServerSentEvent, SSEDecoder, aiter_events

STREAM = (
    b"event: message_start\n"
    b'data: {"type": "message_start"}\n'
    b"\n"
    b": a comment\n"
    b"event: content_block_delta\n"
    b'data: {"text": "caf\xc3\xa9 \xe2\x9c\x93"}\n'
    b"\n"
    b"event: message_stop\n"
    b'data: {"type": "message_stop"}\n'
    b"\n"
)
EVENTS = [
    ServerSentEvent("message_start", '{"type": "message_start"}'),
    ServerSentEvent("content_block_delta", '{"text": "café ✓"}'),
    ServerSentEvent("message_stop", '{"type": "message_stop"}'),
]


def decode(chunks: Iterable[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_whole_events_in_one_chunk():
    assert decode([STREAM]) == EVENTS


def test_lines_split_anywhere_across_chunks():
    # Every cut into two and three pieces, inside a line, a UTF-8 character or a line end.
    for i in range(len(STREAM) + 1):
        assert decode([STREAM[:i], STREAM[i:]]) == EVENTS, i
    for i, j in itertools.combinations(range(0, len(STREAM) + 1, 3), 2):
        assert decode([STREAM[:i], STREAM[i:j], STREAM[j:]]) == EVENTS, (i, j)
    assert decode(STREAM[i : i + 1] for i in range(len(STREAM))) == EVENTS


def test_empty_chunks_change_nothing():
    # Even between the CR and the LF of one line end.
    crlf = STREAM.replace(b"\n", b"\r\n")
    for i in range(len(crlf) + 1):
        assert decode([crlf[:i], b"", crlf[i:], b""]) == EVENTS, i


def test_multi_line_data_is_joined_with_newlines():
    stream = b"event: e\ndata: first\ndata:second\ndata:  third\ndata\n\n"
    assert decode([stream]) == [ServerSentEvent("e", "first\nsecond\n third\n")]


def test_an_event_without_its_final_blank_line_is_discarded():
    stream = b"event: a\ndata: 1\n\nevent: b\ndata: 2\n"
    assert decode([stream]) == [ServerSentEvent("a", "1")]
    assert decode([stream[:-1]]) == [ServerSentEvent("a", "1")]  # nor its line end


def test_comments_and_other_fields_are_ignored():
    stream = b":\n: ping\nid: 7\nretry: 100\nfoo: bar\nevent: a\n:data: no\ndata: yes\n\n"
    assert decode([stream]) == [ServerSentEvent("a", "yes")]
    assert decode([b": only a comment\n\n", b"\n\n"]) == []


def test_crlf_and_cr_line_ends():
    crlf = STREAM.replace(b"\n", b"\r\n")
    cr = STREAM.replace(b"\n", b"\r")
    for stream in (crlf, cr):
        assert decode([stream]) == EVENTS
        assert decode(stream[i : i + 1] for i in range(len(stream))) == EVENTS
    # A CRLF split between chunks is one line end, not a line end and a blank line.
    assert decode([b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n"]) == [ServerSentEvent("a", "1")]
    # Only one LF is the rest of a CRLF: a CR, then a lone LF, then another LF ends an event.
    assert decode([b"data: 1\r", b"\n", b"\n"]) == [ServerSentEvent(None, "1")]


def test_only_cr_and_lf_end_a_line():
    # U+2028, NEL, form feed and the like may stand unescaped in JSON; str.splitlines breaks there.
    text = "a\u2028b\x85c\x0cd\x1ee"
    stream = f'event: d\ndata: {{"text": "{text}"}}\n\n'.encode()
    assert decode([stream]) == [ServerSentEvent("d", f'{{"text": "{text}"}}')]


def test_an_event_is_dispatched_with_a_name_or_data():
    stream = b"event: error\n\ndata: x\n\nevent:\n\n\n"
    assert decode([stream]) == [ServerSentEvent("error", ""), ServerSentEvent(None, "x")]


def test_same_events_as_the_sdks_decoder():
    # The SDK's own decoder is the oracle, on a stream of many kinds of line in random chunks.
    rng = random.Random(14)
    lines = [b"event: a", b"event: b", b"data: 1", b"data:2", b"data", b": c", b"id: 3", b""]
    for _ in range(300):
        end = rng.choice([b"\n", b"\r\n", b"\r"])
        stream = end.join(rng.choice(lines) for _ in range(rng.randint(1, 20))) + end + end
        cuts = sorted(rng.sample(range(len(stream) + 1), rng.randint(0, 4)))
        chunks = [stream[i:j] for i, j in itertools.pairwise([0, *cuts, len(stream)])]
        # The SDK also dispatches an event of only an id; nameless events are skipped anyway.
        expected = [(sse.event, sse.data) for sse in SDKDecoder().iter_bytes(iter(chunks))]
        assert [e for e in decode(chunks) if any(e)] == [e for e in expected if any(e)], chunks


def test_events_of_an_async_stream():
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM), 7):
            yield STREAM[i : i + 7]

    async def events() -> list[ServerSentEvent]:
        return [event async for event in aiter_events(chunks())]

    assert asyncio.run(events()) == EVENTS
