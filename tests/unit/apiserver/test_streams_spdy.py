"""SPDY/3 framing: the header dictionary is spdystream's, header blocks share one zlib
context per direction, every frame type survives a round trip, partial input waits."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from podnet.apiserver.http.streams import spdy
from podnet.apiserver.http.streams.spdy import Control, Data, FrameReader, HeaderCodec

# sha256 of moby/spdystream spdy/dictionary.go's headerDictionary (1423 bytes).
DICTIONARY_SHA256 = "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == DICTIONARY_SHA256


def test_header_blocks_share_one_zlib_stream_per_direction() -> None:
    sender, receiver = HeaderCodec(), HeaderCodec()
    blocks = [
        {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]},
        {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]},
        {"x": ["a", "b"]},  # several values: NUL-separated
        {},
    ]
    encoded = [sender.encode(b) for b in blocks]
    # the second identical-ish block is smaller: the shared window already holds it
    assert len(encoded[1]) < len(encoded[0])
    assert [receiver.decode(e) for e in encoded] == blocks
    with pytest.raises(spdy.ProtocolError):
        HeaderCodec().decode(encoded[1])  # out of context: not decodable alone


def test_a_block_compressed_as_go_does_decodes() -> None:
    """Go's zlib.NewWriterLevelDict(BestCompression, dictionary) and Flush per block."""
    go = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    raw = struct.pack(">I", 1) + struct.pack(">I", 10) + b"streamtype"
    raw += struct.pack(">I", 6) + b"stdout"
    block = go.compress(raw) + go.flush(zlib.Z_SYNC_FLUSH)
    assert HeaderCodec().decode(block) == {"streamtype": ["stdout"]}


def test_upper_case_names_go_out_lower_case() -> None:
    encoded = HeaderCodec().encode({"StreamType": ["stdin"]})
    assert HeaderCodec().decode(encoded) == {"streamtype": ["stdin"]}


FRAMES: list[Control | Data] = [
    Control(spdy.SYN_STREAM, spdy.FLAG_FIN, 1, {"streamtype": ["error"]}, associated=0, priority=3),
    Control(spdy.SYN_REPLY, 0, 1, {}),
    Control(spdy.RST_STREAM, 0, 3, value=spdy.CANCEL),
    Control(spdy.SETTINGS, 0, settings={spdy.SETTINGS_INITIAL_WINDOW_SIZE: 65536, 4: 100}),
    Control(spdy.PING, 0, value=7),
    Control(spdy.GOAWAY, 0, 5, value=0),
    Control(spdy.HEADERS, 0, 5, {"a": ["b"]}),
    Control(spdy.WINDOW_UPDATE, 0, 5, value=1 << 20),
    Data(1, b"hello"),
    Data(3, b"", spdy.FLAG_FIN),
    Data(5, bytes(range(256)) * 300),
]


def test_every_frame_round_trips() -> None:
    out, inn = HeaderCodec(), HeaderCodec()
    wire = b""
    for f in FRAMES:
        if isinstance(f, Data):
            wire += spdy.encode_data(f.stream_id, f.data, f.flags)
        else:
            wire += spdy.encode_control(f, out)
    assert FrameReader(inn).feed(wire) == FRAMES


def test_frames_split_anywhere_come_out_whole() -> None:
    syn = FRAMES[0]
    assert isinstance(syn, Control)
    wire = spdy.encode_control(syn, HeaderCodec()) + spdy.encode_data(1, b"x" * 1000)
    reader = FrameReader(HeaderCodec())
    got: list[Control | Data] = []
    for i in range(len(wire)):
        got += reader.feed(wire[i : i + 1])
    assert got == [FRAMES[0], Data(1, b"x" * 1000)]


def test_data_frame_layout() -> None:
    # C bit clear, 31-bit stream id, flags in the top byte, 24-bit length
    assert spdy.encode_data(3, b"ab", spdy.FLAG_FIN) == bytes.fromhex("00000003 01000002") + b"ab"


def test_control_frame_layout_and_wrong_version() -> None:
    ping = spdy.encode_control(Control(spdy.PING, value=1), HeaderCodec())
    assert ping == bytes.fromhex("80030006 00000004 00000001")
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        FrameReader(HeaderCodec()).feed(bytes.fromhex("80020006 00000004 00000001"))


def test_unknown_control_frames_are_skipped() -> None:
    unknown = bytes.fromhex("8003000a 00000002") + b"zz"  # CREDENTIAL (10): not ours
    ping = spdy.encode_control(Control(spdy.PING, value=9), HeaderCodec())
    assert FrameReader(HeaderCodec()).feed(unknown + ping) == [Control(spdy.PING, value=9)]
