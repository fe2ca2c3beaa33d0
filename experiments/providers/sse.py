"""Server-sent events decoded from the bytes of a response, as the WHATWG event-stream format
(https://html.spec.whatwg.org/multipage/server-sent-events.html) lays them out.

- A line ends in CRLF, LF or CR, and only there: a line split across chunks is joined, a CRLF
  split between two chunks is one line end, and characters that ``str.splitlines`` would also
  break on (U+2028, NEL, form feed) stay inside the line, as JSON may carry them unescaped.
- ``event:`` names the event, ``data:`` lines are joined with newlines, a line starting with
  ``:`` is a comment; one space after the colon is dropped; ``id``, ``retry`` and unknown
  fields are ignored (nothing here reconnects).
- A blank line dispatches the event: like the ``anthropic`` SDK's decoder, one that has a name
  but no data is dispatched too (an ``error`` event must not vanish), one with neither is not.
  An event the stream ends in before its blank line is discarded, as the format says.
- Lines are decoded as UTF-8 (strict): a line end never falls inside a UTF-8 character.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import NamedTuple


class ServerSentEvent(NamedTuple):
    event: str | None  # None: no ``event:`` field
    data: str


class SSEDecoder:
    """Turns chunks of an event stream into events: ``feed`` each chunk, in order."""

    def __init__(self) -> None:
        self._partial = b""  # the start of a line whose end has not arrived yet
        self._after_cr = False  # the last chunk ended in CR: a LF that starts the next is its CRLF
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that ``chunk`` completes."""
        if not chunk:
            return []  # nothing arrived: a CR before it still waits for its LF
        if self._after_cr:
            self._after_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
                if not chunk:
                    return []
        self._after_cr = chunk.endswith(b"\r")
        lines = (self._partial + chunk).splitlines() if self._partial else chunk.splitlines()
        # bytes.splitlines breaks on CR, LF and CRLF only; the last piece is whole only if the
        # chunk ends in a line end.
        self._partial = b"" if chunk.endswith((b"\n", b"\r")) else lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                if self._event is not None or self._data:
                    data = b"\n".join(self._data).decode()
                    events.append(ServerSentEvent(self._event, data))
                    self._event = None
                    self._data = []
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value.decode() or None
            # b"" (a comment), id, retry, anything else: ignored
        return events


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """The events of an event stream read as ``chunks`` of bytes."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
