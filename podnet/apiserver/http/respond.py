"""Encoding answers and decoding bodies: JSON (one ``json.dumps`` over the store's
shared objects, never a per-object copy), YAML, a Table's media type; warnings as
``Warning: 299`` headers; an unexpected exception's traceback on stderr, once.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import yaml
from aiohttp import web

from podnet import jsonbytes
from podnet.apiserver import errors
from podnet.apiserver.http import negotiate, pbdecode
from podnet.apiserver.http.negotiate import Output
from podnet.apiserver.http.routes import parse_bool
from podnet.apiserver.store.base import Obj


def encode(body: Any, out: Output, *, pretty: bool = False) -> bytes:
    if out.yaml:
        return yaml.safe_dump(body, sort_keys=False).encode()
    if pretty:
        return json.dumps(body, indent=2).encode() + b"\n"
    return jsonbytes.dumps(body)


def pretty_wanted(request: web.Request) -> bool:
    """``?pretty=true``, or a user agent that is a person at a terminal (curl, wget),
    as ``endpoints/handlers/negotiation`` (``prettyJSON``) decides."""
    if "pretty" in request.query:
        return parse_bool(request.query["pretty"])
    agent = request.headers.get("User-Agent", "")
    return agent.startswith(("curl", "Wget", "Mozilla/"))


def respond(
    request: web.Request,
    body: Any,
    out: Output = negotiate.PLAIN_JSON,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    resp = web.Response(
        body=encode(body, out, pretty=pretty_wanted(request)), status=status, headers=headers
    )
    resp.headers["Content-Type"] = content_type(out)
    resp.headers["Cache-Control"] = "no-cache, private"
    return resp


def content_type(out: Output) -> str:
    if out.table_version is not None:
        return f"application/json;as=Table;v={out.table_version};g=meta.k8s.io"
    return out.content_type


def warning_headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    # RFC 7234 warn-code 299; one header value each (aiohttp joins a list with ", ")
    return {"Warning": ", ".join(f"299 - {json.dumps(w)}" for w in warnings)}


def decode_object(raw: bytes, media: str) -> Obj:
    if media == negotiate.PROTOBUF:
        return pbdecode.decode(raw)
    try:
        obj = json.loads(raw) if media == negotiate.JSON else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"the body of the request could not be decoded: {e}") from None
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request could not be decoded: expected an object")
    return obj


def log_internal(exc: BaseException, seen: set[tuple[str, str, int]]) -> None:
    """Print an unexpected exception's traceback to stderr, once per place it came from."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = (
        type(exc).__name__,
        tb.tb_frame.f_code.co_filename if tb else "",
        tb.tb_lineno if tb else 0,
    )
    if where in seen:
        return
    seen.add(where)
    print("podnet apiserver: internal error:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
