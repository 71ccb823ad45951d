"""Content negotiation: which encoding and shape a response takes, and which request
bodies are read.

Responses are JSON (the default, also for ``*/*`` or no Accept) or YAML, and for reads
optionally a ``meta.k8s.io`` Table (``application/json;as=Table;v=v1;g=meta.k8s.io``,
v1 or v1beta1), as kube-apiserver's ``endpoints/handlers/response.go``
(``targetEncodingForTransform``) chooses it: the Accept clauses are tried in order of
preference and the first one served wins; none served is 406. podnet serves no
protobuf (a protobuf-only client gets 406) but reads protobuf bodies of built-in kinds
(:mod:`pbdecode`), which kubectl 1.3x and helm 4 send.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.apiserver import errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
META_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
SERVED = f"{JSON}, {YAML}"
READ = f"{JSON}, {YAML}, {PROTOBUF}"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


@dataclass(frozen=True)
class MediaRange:
    type: str  # "application/json", "*/*", ...
    params: dict[str, str]
    q: float


@dataclass(frozen=True)
class Output:
    """What to write: ``yaml`` or JSON; ``table_version`` set for a Table."""

    yaml: bool = False
    table_version: str | None = None

    @property
    def content_type(self) -> str:
        return YAML if self.yaml else JSON


PLAIN_JSON = Output()


def parse_accept(header: str) -> list[MediaRange]:
    """The clauses of an Accept header, most preferred first (stable for equal q)."""
    out: list[MediaRange] = []
    for clause in header.split(","):
        parts = [p.strip() for p in clause.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str] = {}
        q = 1.0
        for p in parts[1:]:
            key, _, value = p.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        if q > 0:
            out.append(MediaRange(parts[0].lower(), params, q))
    out.sort(key=lambda m: -m.q)
    return out


def _plain(m: MediaRange) -> Output | None:
    if m.type in (JSON, "application/*", "*/*"):
        return PLAIN_JSON
    if m.type in (YAML, "application/yml", "text/yaml"):
        return Output(yaml=True)
    return None


def output(accept: str | None, *, allow_table: bool) -> Output:
    """The response shape for ``accept`` (raises 406 when nothing offered is served).

    ``allow_table``: a get, list or watch, the only requests a Table answers.
    """
    if not accept or not accept.strip():
        return PLAIN_JSON
    for m in parse_accept(accept):
        as_ = m.params.get("as")
        if as_ is None:
            out = _plain(m)
            if out is not None:
                return out
            continue
        if (
            as_ == "Table"
            and allow_table
            and m.params.get("g") == META_GROUP
            and m.params.get("v") in TABLE_VERSIONS
            and m.type in (JSON, "application/*", "*/*")
        ):
            return Output(table_version=m.params["v"])
    raise errors.not_acceptable(f"only the following media types are accepted: {SERVED}")


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json`` (empty: JSON)."""
    if not content_type:
        return JSON
    return content_type.split(";", 1)[0].strip().lower() or JSON


def body_type(content_type: str | None, *, patch: bool = False) -> str:
    """The request body's media type if podnet reads it, else 415."""
    mt = media_type(content_type)
    if patch:
        if mt in PATCH_TYPES:
            return mt
        raise errors.unsupported_media_type(
            f"the server does not support patch type {mt!r}: "
            f"supported patch types are {', '.join(PATCH_TYPES)}"
        )
    if mt in (JSON, YAML, "application/yml", "text/yaml"):
        return YAML if mt != JSON else JSON
    if mt == PROTOBUF:
        return PROTOBUF  # built-in kinds only (pbdecode): kubectl 1.3x and helm 4 send it
    raise errors.unsupported_media_type(
        f"the body of the request was in an unknown format - accepted media types include: {READ}"
    )
