"""SPDY/3.1 framing: frames to and from bytes, name/value header blocks compressed
with SPDY/3's zlib dictionary.

kubectl up to 1.29 (and port-forward in every version, tunnelled in WebSocket from
1.31) speaks SPDY/3.1 through ``moby/spdystream`` (``spdy/{types,read,write}.go``,
the old ``go.net/spdy`` framer). No maintained Python SPDY library exists, so this is
the small part of the draft-3 spec that client needs
(https://www.chromium.org/spdy/spdy-protocol/spdy-protocol-draft3-1/): every frame
type spdystream reads or writes. Header blocks share one zlib stream per direction
(each block ends with a sync flush), so a :class:`HeaderCodec` lives as long as its
connection. Pure: no I/O here, the connection is :mod:`.spdyconn`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
# RST_STREAM status codes (spdy/types.go RstStreamStatus).
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM = 1, 2, 3
CANCEL, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 5, 6, 7
SETTINGS_INITIAL_WINDOW_SIZE = 7
INITIAL_WINDOW = 64 * 1024
MAX_LENGTH = (1 << 24) - 1  # the 24-bit length field

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding "
    "accept-language accept-ranges age allow authorization cache-control connection "
    "content-base content-encoding content-language content-length content-location "
    "content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status|200 OK|version|HTTP/1.1|url public set-cookie "
    "keep-alive origin"
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    """SPDY/3's header dictionary (spec 2.6.10.1): length-prefixed words, then text."""
    words = _split_words(_WORDS)
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + _TAIL.encode()


def _split_words(spec: str) -> list[str]:
    # "|" marks words that themselves hold a space ("200 OK"); the rest split on spaces.
    out: list[str] = []
    for i, part in enumerate(spec.split("|")):
        out.extend([part] if i % 2 else part.split())
    return out


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3 (the connection cannot continue)."""


class HeaderCodec:
    """Encodes and decodes name/value header blocks for one connection: one zlib
    stream each way, primed with :data:`DICTIONARY`, a sync flush after each block."""

    def __init__(self) -> None:
        self._out = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 9,
                                     zlib.Z_DEFAULT_STRATEGY, DICTIONARY)  # fmt: skip
        self._in = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: dict[str, list[str]]) -> bytes:
        block = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            n, v = name.lower().encode(), "\x00".join(values).encode()
            block += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
        raw = b"".join(block)
        return self._out.compress(raw) + self._out.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, data: bytes) -> dict[str, list[str]]:
        try:
            raw = self._in.decompress(data)
        except zlib.error as e:
            raise ProtocolError(f"header block: {e}") from e
        try:
            (count,) = struct.unpack_from(">I", raw, 0)
            pos, headers = 4, {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4 : pos + 4 + n].decode()
                pos += 4 + n
                (n,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4 : pos + 4 + n].decode()
                pos += 4 + n
                headers[name.lower()] = value.split("\x00")
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"header block: {e}") from e
        return headers


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass(frozen=True)
class Control:
    """A control frame: ``type`` and its fields as spdystream names them. ``stream_id``
    is 0 for connection frames; ``value`` is RST/GOAWAY status, PING id or window delta;
    ``settings`` maps SETTINGS ids to values."""

    type: int
    flags: int = 0
    stream_id: int = 0
    headers: dict[str, list[str]] = field(default_factory=dict)
    value: int = 0
    associated: int = 0
    priority: int = 0
    settings: dict[int, int] = field(default_factory=dict)


Frame = Data | Control


def data_header(stream_id: int, length: int, flags: int = 0) -> bytes:
    """A DATA frame's 8-byte header: written before the payload, never joined to it."""
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | length)


def encode_data(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return data_header(stream_id, len(data), flags) + data


def _control(type_: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


def encode_control(frame: Control, codec: HeaderCodec) -> bytes:
    """One control frame's bytes; header blocks go through ``codec`` (in wire order)."""
    t, sid = frame.type, frame.stream_id & 0x7FFFFFFF
    if t == SYN_STREAM:
        head = struct.pack(">IIBB", sid, frame.associated, (frame.priority & 7) << 5, 0)
        return _control(t, frame.flags, head + codec.encode(frame.headers))
    if t in (SYN_REPLY, HEADERS):
        return _control(t, frame.flags, struct.pack(">I", sid) + codec.encode(frame.headers))
    if t in (RST_STREAM, WINDOW_UPDATE, GOAWAY):
        return _control(t, frame.flags, struct.pack(">II", sid, frame.value & 0xFFFFFFFF))
    if t == PING:
        return _control(t, frame.flags, struct.pack(">I", frame.value))
    if t == SETTINGS:
        body = [struct.pack(">I", len(frame.settings))]
        body += [struct.pack(">II", k & 0xFFFFFF, v) for k, v in frame.settings.items()]
        return _control(t, frame.flags, b"".join(body))
    raise ValueError(f"SPDY control frame type {t} is not written here")


class FrameReader:
    """Incremental parser: :meth:`feed` bytes as they arrive, get whole frames back."""

    def __init__(self, codec: HeaderCodec) -> None:
        self.codec = codec
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            flags = flags_len >> 24
            if not word & 0x80000000:
                frames.append(Data(word & 0x7FFFFFFF, payload, flags))
                continue
            if (word >> 16) & 0x7FFF != VERSION:
                raise ProtocolError(f"SPDY version {(word >> 16) & 0x7FFF}, expected 3")
            frame = self._control(word & 0xFFFF, flags, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _control(self, t: int, flags: int, p: bytes) -> Control | None:
        try:
            if t == SYN_STREAM:
                sid, assoc, pri = struct.unpack_from(">IIB", p, 0)
                headers = self.codec.decode(p[10:])
                return Control(t, flags, sid & 0x7FFFFFFF, headers, 0, assoc & 0x7FFFFFFF, pri >> 5)
            if t in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", p, 0)
                return Control(t, flags, sid & 0x7FFFFFFF, self.codec.decode(p[4:]))
            if t in (RST_STREAM, WINDOW_UPDATE, GOAWAY):
                sid, value = struct.unpack_from(">II", p, 0)
                if t == WINDOW_UPDATE:
                    value &= 0x7FFFFFFF
                return Control(t, flags, sid & 0x7FFFFFFF, value=value)
            if t == PING:
                return Control(t, flags, value=struct.unpack_from(">I", p, 0)[0])
            if t == SETTINGS:
                (count,) = struct.unpack_from(">I", p, 0)
                pairs = [struct.unpack_from(">II", p, 4 + 8 * i) for i in range(count)]
                return Control(t, flags, settings={k & 0xFFFFFF: v for k, v in pairs})
        except struct.error as e:
            raise ProtocolError(f"control frame type {t}: {e}") from e
        return None  # unknown types are ignored (spec 2.2.1)
