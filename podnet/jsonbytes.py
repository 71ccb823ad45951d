"""Compact JSON for the hot paths: the API's responses, watch events and store rows, each
container's OCI config, each service account token's claims.

orjson (a well-kept Rust encoder) writes a pod in 1.2 us where ``json.dumps(...,
separators=(",", ":"))`` takes 19.6 us (bench/README.md); a 1,000-pod scale-up encodes
every object several times (its rows, every watcher's events, the lists). The bytes
are the same JSON but for non-ASCII text, which orjson writes as UTF-8 where json
escapes it (both decode alike). What orjson refuses (an integer beyond 64 bits in a
custom resource) is written by json as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # json.dumps writes int keys as strings too


def dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: beyond what it encodes
        return json.dumps(obj, separators=(",", ":")).encode()
