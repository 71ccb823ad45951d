"""The OpenAPI documents: ``/openapi/v2`` (JSON and gnostic protobuf) and ``/openapi/v3``
(an index and one document per group-version), built lazily on first request.

kubectl reads them to validate (``apply --validate``: v2 models by
``x-kubernetes-group-version-kind``; 1.27+ also asks v3 whether a PATCH operation takes
``fieldValidation`` and, if so, leaves validation to the server), to compute
strategic-merge patches (``x-kubernetes-patch-merge-key`` / ``-strategy``) and for
``kubectl explain``. Schemas are kubernetes-validate's shipped definitions turned back
into kube-apiserver's swagger form (single types, ``#/definitions/`` references,
IntOrString and Quantity as strings); AdminNetworkPolicy and its kin come from the
structural schemas podnet checks them with (:mod:`podnet.manifests.check_clusterpolicy`),
as kube-apiserver publishes a CRD's schema. Paths and their parameters follow
``apiserver/pkg/endpoints/installer.go``; caching headers follow kube-openapi
``pkg/handler`` (ETag: sha512 of the JSON) and ``pkg/handler3`` (``?hash=``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from podnet.apiserver import protobuf
from podnet.apiserver.crd import openapi as crd_openapi
from podnet.apiserver.discovery import subresource_kind
from podnet.apiserver.metrics import openapi as metrics_openapi
from podnet.apiserver.resources import Resource, all_resources, custom_generation, group_versions
from podnet.manifests import check_clusterpolicy as cp
from podnet.manifests import schema as shipped

Obj = dict[str, Any]

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V2_PROTOBUF_ACCEPTED = (V2_PROTOBUF, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_EXTRA_ROOTS = ("Status", "DeleteOptions", "WatchEvent", "Patch", "APIResourceList")

# ---------------------------------------------------------------- definitions


def _fix(s: Any, prefix: str) -> Any:
    """One schema from kubernetes-validate back in swagger form: ``["string", "null"]``
    becomes ``"string"`` (kube-openapi's proto parser refuses two types) and
    ``#/$defs/X`` references become ``<prefix>X``."""
    if isinstance(s, list):
        return [_fix(v, prefix) for v in s]
    if not isinstance(s, dict):
        return s
    out: Obj = {}
    for key, value in s.items():
        if key == "$ref":
            out[key] = prefix + value.rsplit("/", 1)[1]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out[key] = {name: _fix(v, prefix) for name, v in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
            out[key] = _fix(value, prefix)
        else:
            out[key] = value
    return out


def _definition(name: str, d: Obj, prefix: str) -> Obj:
    if name.endswith("util.intstr.IntOrString"):  # upstream: a string of format int-or-string
        return {
            "description": d.get("description", ""),
            "type": "string",
            "format": "int-or-string",
        }
    if name.endswith("api.resource.Quantity"):
        return {"description": d.get("description", ""), "type": "string"}
    out: Obj = _fix(d, prefix)
    if "x-kubernetes-group-version-kind" in out:  # openapi2jsonschema added these enums
        for field in ("apiVersion", "kind"):
            out.get("properties", {}).get(field, {}).pop("enum", None)
    return out


@functools.cache
def _shipped() -> dict[str, Obj]:
    """The non-strict definitions (the strict ones add ``additionalProperties: false``
    everywhere, which kube-apiserver's swagger does not say)."""
    version = shipped.kubernetes_version()
    schemas = shipped._package_dir() / "kubernetes-json-schema" / f"v{version}-local"
    defs: dict[str, Obj] = json.loads((schemas / "_definitions.json").read_bytes())["$defs"]
    return defs


def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, d in _shipped().items():
        for g in d.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((g["group"], g["version"], g["kind"]), name)
    return index


def _reverse_group(group: str) -> str:
    """``policy.networking.k8s.io`` -> ``io.k8s.networking.policy`` (the apiextensions
    builder's definition name prefix for a CRD's group)."""
    return ".".join(reversed(group.split(".")))


def _crd_schema(s: cp.Schema) -> Obj:
    """A structural schema of check_clusterpolicy as the CRD's ``openAPIV3Schema``."""
    if isinstance(s, cp.Int):
        return {"type": "integer", "format": "int32", "minimum": s.minimum, "maximum": s.maximum}
    if isinstance(s, cp.Str):
        out: Obj = {"type": "string"}
        if s.enum:
            out["enum"] = list(s.enum)
        if s.max_length is not None:
            out["maxLength"] = s.max_length
        if s.pattern is not None:
            out["pattern"] = s.pattern
        return out
    if isinstance(s, cp.Arr):
        out = {"type": "array", "items": _crd_schema(s.items)}
        if s.min_items:
            out["minItems"] = s.min_items
        if s.max_items is not None:
            out["maxItems"] = s.max_items
        if s.unique:
            out["x-kubernetes-list-type"] = "set"
        return out
    if isinstance(s, cp.MapOf):
        return {"type": "object", "additionalProperties": _crd_schema(s.values)}
    if s.opaque:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    out = {"type": "object", "properties": {k: _crd_schema(v) for k, v in s.props.items()}}
    if s.required:
        out["required"] = list(s.required)
    if s.exactly_one:
        out |= {"minProperties": 1, "maxProperties": 1}
    elif s.min_props:
        out["minProperties"] = s.min_props
    return out


def _policy_definitions(res: Resource, prefix: str) -> dict[str, Obj]:
    """A cluster policy kind and its List, from podnet's own checker's schema."""
    base = f"{_reverse_group(res.group)}.{res.version}."
    gvk = {"group": res.group, "kind": res.kind, "version": res.version}
    kind = _crd_schema(cp.SCHEMAS[res.kind])
    kind["properties"]["metadata"] = {"$ref": f"{prefix}{META}ObjectMeta"}
    kind |= {"x-kubernetes-group-version-kind": [gvk]}
    items = {"type": "array", "items": {"$ref": f"{prefix}{base}{res.kind}"}}
    return {
        base + res.kind: kind,
        base + res.list_kind: {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": items,
                "kind": {"type": "string"},
                "metadata": {"$ref": f"{prefix}{META}ListMeta"},
            },
            "x-kubernetes-group-version-kind": [gvk | {"kind": res.list_kind}],
        },
    }


def _refs(s: Any, found: set[str]) -> None:
    if isinstance(s, dict):
        for key, value in s.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[1])
            else:
                _refs(value, found)
    elif isinstance(s, list):
        for value in s:
            _refs(value, found)


def _kind_names(res: Resource) -> dict[str, str]:
    """Definition name of the resource's kind, of its List and of its subresources'
    kinds (Scale, Eviction, Binding), by kind."""
    if res.custom is not None:
        names = crd_openapi.names(res)
        if "scale" in res.subresources:
            names["Scale"] = _gvk_index()[("autoscaling", "v1", "Scale")]
        return names
    if res.group == metrics_openapi.GROUP:
        return metrics_openapi.names(res)
    if res.kind in cp.SCHEMAS:
        base = f"{_reverse_group(res.group)}.{res.version}."
        return {res.kind: base + res.kind, res.list_kind: base + res.list_kind}
    index = _gvk_index()
    # A create-only kind (SelfSubjectAccessReview, TokenReview) has no List
    kinds = (res.kind, res.list_kind) if "list" in res.verbs else (res.kind,)
    names = {k: index[(res.group, res.version, k)] for k in kinds}
    for sub in res.subresources:
        group, version, kind, _ = subresource_kind(res, sub)
        name = index.get((group or res.group, version or res.version, kind))
        if name is not None:
            names[kind] = name
    return names


def _closure(roots: list[str], prefix: str, extra: dict[str, Obj]) -> dict[str, Obj]:
    """The roots and every definition they reference, sorted by name (as upstream)."""
    shipped_defs = _shipped()
    served = {(g, v) for g, v in group_versions()}
    out: dict[str, Obj] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        d = extra[name] if name in extra else _definition(name, shipped_defs[name], prefix)
        gvks = d.get("x-kubernetes-group-version-kind", ())
        if len(gvks) > 1:  # DeleteOptions, WatchEvent: one entry per served group-version
            d["x-kubernetes-group-version-kind"] = [
                {"group": g, "kind": gvks[0]["kind"], "version": v} for g, v in served
            ]
        out[name] = d
        found: set[str] = set()
        _refs(d, found)
        todo.extend(found - out.keys())
    return dict(sorted(out.items()))


def _definitions(resources: list[Resource], prefix: str) -> dict[str, Obj]:
    extra: dict[str, Obj] = {}
    roots = [META + k for k in _EXTRA_ROOTS]
    for res in resources:
        if res.custom is not None:
            extra |= crd_openapi.definitions(res, prefix, v2=prefix == "#/definitions/")
        elif res.kind in cp.SCHEMAS:
            extra |= _policy_definitions(res, prefix)
        elif res.group == metrics_openapi.GROUP:
            extra |= metrics_openapi.definitions(res, prefix)
        roots.extend(_kind_names(res).values())
    return _closure(roots, prefix, extra)


# ---------------------------------------------------------------- paths


def _param(name: str, where: str, kind: str, description: str, required: bool = False) -> Obj:
    p: Obj = {"name": name, "in": where, "description": description, "type": kind}
    if required:
        p["required"] = True
    p["uniqueItems"] = True
    return p


_Q = "query"
PRETTY = _param("pretty", _Q, "string", "If 'true', then the output is pretty printed.")
DRY_RUN = _param("dryRun", _Q, "string", "When present, modifications are not persisted (All).")
FIELD_MANAGER = _param("fieldManager", _Q, "string", "Name of the actor making the change.")
FIELD_VALIDATION = _param(
    "fieldValidation",
    _Q,
    "string",
    "How to handle unknown or duplicate fields: Ignore, Warn (default) or Strict.",
)
FORCE = _param("force", _Q, "boolean", "Force an apply request over conflicts.")
LIST = [
    _param("allowWatchBookmarks", _Q, "boolean", "Ask for BOOKMARK watch events."),
    _param("continue", _Q, "string", "The continue token of the previous page."),
    _param("fieldSelector", _Q, "string", "Restrict the list by fields."),
    _param("labelSelector", _Q, "string", "Restrict the list by labels."),
    _param("limit", _Q, "integer", "The maximum number of items to return."),
    _param("resourceVersion", _Q, "string", "The resourceVersion to list or watch from."),
    _param("resourceVersionMatch", _Q, "string", "How resourceVersion applies to a list."),
    _param("sendInitialEvents", _Q, "boolean", "Start a watch with the current objects."),
    _param("timeoutSeconds", _Q, "integer", "Timeout of the list or watch call."),
    _param("watch", _Q, "boolean", "Watch for changes instead of listing."),
]
DELETE = [
    DRY_RUN,
    _param("gracePeriodSeconds", _Q, "integer", "Seconds before the object is deleted."),
    _param("orphanDependents", _Q, "boolean", "Deprecated: use propagationPolicy."),
    _param("propagationPolicy", _Q, "string", "Orphan, Background or Foreground."),
]
LOG = [
    _param("container", _Q, "string", "The container to stream logs of."),
    _param("follow", _Q, "boolean", "Follow the log stream."),
    _param("limitBytes", _Q, "integer", "Bytes to read from the server before stopping."),
    _param("previous", _Q, "boolean", "The logs of the previous terminated container."),
    _param("sinceSeconds", _Q, "integer", "Only logs newer than this many seconds."),
    _param("sinceTime", _Q, "string", "Only logs after this RFC3339 time."),
    _param("tailLines", _Q, "integer", "Lines from the end of the log to show."),
    _param("timestamps", _Q, "boolean", "Prefix every line with its RFC3339 timestamp."),
]
STREAMS = [
    _param("container", _Q, "string", "The container to attach to."),
    _param("stderr", _Q, "boolean", "Redirect standard error."),
    _param("stdin", _Q, "boolean", "Redirect standard input."),
    _param("stdout", _Q, "boolean", "Redirect standard output."),
    _param("tty", _Q, "boolean", "Allocate a terminal."),
]
CONNECT = {
    "exec": [_param("command", _Q, "string", "The command to run."), *STREAMS],
    "attach": STREAMS,
    "portforward": [_param("ports", _Q, "integer", "Pod ports to forward to.")],
    "proxy": [_param("path", _Q, "string", "Path to the resource.")],
}
PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
PRODUCES = ["application/json", "application/yaml"]


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


def _group_tag(group: str) -> str:
    """``networking.k8s.io`` -> ``networking``, ``policy.networking.k8s.io`` ->
    ``policyNetworking``, core -> ``core`` (kube-apiserver's operation-id prefixes)."""
    parts = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return parts[0] + "".join(_title(p) for p in parts[1:])


class _Ops:
    """The paths of one resource, in one document's reference style."""

    def __init__(self, res: Resource, names: dict[str, str], prefix: str) -> None:
        self.res, self.names, self.prefix = res, names, prefix
        self.tag = f"{_group_tag(res.group)}_{res.version}"
        self.id_part = _title(_group_tag(res.group)) + _title(res.version)
        self.gvk = {"group": res.group, "kind": res.kind, "version": res.version}

    def ref(self, kind: str) -> Obj:
        return {"$ref": self.prefix + self.names.get(kind, META + kind)}

    def op(
        self,
        verb: str,
        action: str,
        name: str,
        params: list[Obj],
        response: Obj,
        gvk: Obj | None = None,
        body: Obj | None = None,
        consumes: list[str] | None = None,
    ) -> Obj:
        if body is not None:
            params = [{"name": "body", "in": "body", "required": True, "schema": body}, *params]
        codes = {"200": {"description": "OK", "schema": response}}
        if action in ("post",):
            codes |= {"201": {"description": "Created", "schema": response}}
        if action in ("post", "delete"):
            codes |= {"202": {"description": "Accepted", "schema": response}}
        return {
            "description": f"{verb} {name}",
            "consumes": consumes or ["*/*"],
            "produces": PRODUCES,
            "schemes": ["https"],
            "tags": [self.tag],
            "operationId": f"{verb}{self.id_part}{name}",
            "parameters": params,
            "responses": codes | {"401": {"description": "Unauthorized"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk or self.gvk,
        }

    def paths(self) -> dict[str, Obj]:
        res = self.res
        root = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
        scope = "Namespaced" if res.namespaced else ""
        collection = (
            f"{root}/namespaces/{{namespace}}/{res.plural}"
            if res.namespaced
            else f"{root}/{res.plural}"
        )
        ns = [_param("namespace", "path", "string", "object name and auth scope", True)]
        ns = ns if res.namespaced else []
        name = [_param("name", "path", "string", f"name of the {res.kind}", True)]
        kind, obj = f"{scope}{res.kind}", self.ref(res.kind)
        writes = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
        status = self.ref("Status")
        verbs = set(res.verbs)
        coll: Obj = {"parameters": [*ns, PRETTY]}
        if "list" in verbs:
            coll["get"] = self.op("list", "list", kind, LIST, self.ref(res.list_kind))
        if "create" in verbs:
            coll["post"] = self.op("create", "post", kind, writes, obj, body=obj)
        if "deletecollection" in verbs:
            coll["delete"] = self.op(
                "delete",
                "deletecollection",
                f"Collection{kind}",
                [*DELETE, *LIST],
                status,
                body=self.ref("DeleteOptions"),
            )
        item: Obj = {"parameters": [*name, *ns, PRETTY]}
        if "get" in verbs:
            item["get"] = self.op("read", "get", kind, [], obj)
        if "update" in verbs:
            item["put"] = self.op("replace", "put", kind, writes, obj, body=obj)
        if "patch" in verbs:
            item["patch"] = self.op(
                "patch",
                "patch",
                kind,
                [*writes, FORCE],
                obj,
                body=self.ref("Patch"),
                consumes=self._patch_types(),
            )
        if "delete" in verbs:
            item["delete"] = self.op(
                "delete", "delete", kind, DELETE, status, body=self.ref("DeleteOptions")
            )
        out = {collection: coll}
        if len(item) > 1:  # a create-only kind (the reviews) has no item path upstream
            out[f"{collection}/{{name}}"] = item
        if res.namespaced and "list" in verbs:
            out[f"{root}/{res.plural}"] = {
                "parameters": [PRETTY],
                "get": self.op(
                    "list", "list", f"{res.kind}ForAllNamespaces", LIST, self.ref(res.list_kind)
                ),
            }
        for sub in sorted(res.subresources):
            out[f"{collection}/{{name}}/{sub}"] = self._sub(sub, kind, [*name, *ns])
        return out

    def _patch_types(self) -> list[str]:
        if self.res.kind in cp.SCHEMAS or self.res.custom is not None:
            # custom resources take no strategic merge patch
            return [t for t in PATCH_TYPES if "strategic" not in t]
        return PATCH_TYPES

    def _sub(self, sub: str, kind: str, path_params: list[Obj]) -> Obj:
        group, version, sub_kind, verbs = subresource_kind(self.res, sub)
        gvk = {
            "group": group or self.res.group,
            "kind": sub_kind,
            "version": version or self.res.version,
        }
        name = kind + _title(sub)
        item: Obj = {"parameters": [*path_params, PRETTY]}
        if sub in CONNECT:
            text = {"type": "string"}
            for method in ("get", "post") if sub != "proxy" else ("get", "post", "put", "delete"):
                verb = f"connect{_title(method)}"
                item[method] = self.op(verb, "connect", name, CONNECT[sub], text, gvk)
            return item
        if sub == "log":
            item["get"] = self.op("read", "get", name, LOG, {"type": "string"}, gvk)
            return item
        obj = self.ref(sub_kind)
        writes = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
        if "get" in verbs:
            item["get"] = self.op("read", "get", name, [], obj, gvk)
        if "update" in verbs:
            item["put"] = self.op("replace", "put", name, writes, obj, gvk, body=obj)
        if "patch" in verbs:
            item["patch"] = self.op(
                "patch",
                "patch",
                name,
                [*writes, FORCE],
                obj,
                gvk,
                body=self.ref("Patch"),
                consumes=self._patch_types(),
            )
        if "create" in verbs:
            item["post"] = self.op("create", "post", name, writes, obj, gvk, body=obj)
        return item


def _paths(resources: list[Resource], prefix: str) -> dict[str, Obj]:
    paths: dict[str, Obj] = {}
    for res in resources:
        paths |= _Ops(res, _kind_names(res), prefix).paths()
    return dict(sorted(paths.items()))


# ---------------------------------------------------------------- v2


def _info() -> Obj:
    return {"title": "Kubernetes", "version": f"v{shipped.kubernetes_version()}"}


# Every document is cached per generation of the CRD-served resources (a CRD's schema
# is published once it is Established, as the apiextensions openapi controllers do).


def v2_document() -> Obj:
    """The swagger 2.0 document of every served resource."""
    return _v2_document(custom_generation())


@functools.lru_cache(maxsize=2)
def _v2_document(generation: int) -> Obj:
    prefix = "#/definitions/"
    resources = list(all_resources())
    return {
        "swagger": "2.0",
        "info": _info(),
        "paths": _paths(resources, prefix),
        "definitions": _definitions(resources, prefix),
    }


def _etag(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest().upper()


v2_document.cache_info = _v2_document.cache_info  # type: ignore[attr-defined]


def v2_json() -> bytes:
    return _v2_json(custom_generation())


@functools.lru_cache(maxsize=2)
def _v2_json(generation: int) -> bytes:
    return json.dumps(_v2_document(generation), separators=(",", ":")).encode()


def v2_protobuf() -> bytes:
    return _v2_protobuf(custom_generation())


@functools.lru_cache(maxsize=2)
def _v2_protobuf(generation: int) -> bytes:
    return protobuf.document(_v2_document(generation))


def v2_etag() -> str:
    """Both encodings' ETag (kube-openapi: the JSON's sha512; clients send Vary: Accept)."""
    return _v2_etag(custom_generation())


@functools.lru_cache(maxsize=2)
def _v2_etag(generation: int) -> str:
    return _etag(_v2_json(generation))


# ---------------------------------------------------------------- v3


def _v3_param(p: Obj) -> Obj:
    out: Obj = {k: p[k] for k in ("name", "in", "description") if k in p}
    if p.get("required"):
        out["required"] = True
    return out | {"schema": {"type": p["type"], "uniqueItems": True}}


def _v3_operation(op: Obj, patch: bool) -> Obj:
    out: Obj = {k: op[k] for k in ("tags", "description", "operationId")}
    params = [_v3_param(p) for p in op["parameters"] if p["in"] != "body"]
    if params:
        out["parameters"] = params
    for p in op["parameters"]:
        if p["in"] == "body":
            types = op["consumes"] if patch else ["*/*"]
            out["requestBody"] = {
                "content": {t: {"schema": p["schema"]} for t in types},
                "required": True,
            }
    responses: Obj = {}
    for code, r in op["responses"].items():
        responses[code] = {"description": r["description"]}
        if "schema" in r:
            responses[code]["content"] = {t: {"schema": r["schema"]} for t in op["produces"]}
    out["responses"] = responses
    return out | {k: v for k, v in op.items() if k.startswith("x-")}


def _v3_path(item: Obj) -> Obj:
    out: Obj = {}
    for method in ("get", "put", "post", "delete", "patch"):
        if method in item:
            out[method] = _v3_operation(item[method], method == "patch")
    out["parameters"] = [_v3_param(p) for p in item.get("parameters", ())]
    return out


@functools.lru_cache(maxsize=2)
def _v3_documents(generation: int) -> dict[str, bytes]:
    docs: dict[str, bytes] = {}
    prefix = "#/components/schemas/"
    served = all_resources()
    for group, version in group_versions():
        resources = [r for r in served if (r.group, r.version) == (group, version)]
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        doc = {
            "openapi": "3.0.0",
            "info": _info(),
            "paths": {p: _v3_path(i) for p, i in _paths(resources, prefix).items()},
            "components": {"schemas": _definitions(resources, prefix)},
        }
        docs[key] = json.dumps(doc, separators=(",", ":")).encode()
    return docs


@functools.lru_cache(maxsize=2)
def _v3_etags(generation: int) -> dict[str, str]:
    return {key: _etag(doc) for key, doc in _v3_documents(generation).items()}


def v3_document(path: str) -> bytes | None:
    """The JSON document of ``/openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``)."""
    return _v3_documents(custom_generation()).get(path.strip("/"))


def v3_etag(path: str) -> str | None:
    """The document's hash: its ETag, and the ``hash`` its index URL carries. kube-openapi
    ``handler3``: a request with that hash is answered with ``Cache-Control: public,
    immutable`` (and an Expires a year on); with another hash, a 301 to the current URL."""
    return _v3_etags(custom_generation()).get(path.strip("/"))


def v3_index_etag() -> str:
    """The index's ETag (sha512 of its JSON, as ``handler3.HandleDiscovery``)."""
    return _etag(json.dumps(v3_index(), separators=(",", ":")).encode())


def v3_index() -> Obj:
    """``/openapi/v3``: each group-version's document URL, with its hash."""
    return _v3_index(custom_generation())


@functools.lru_cache(maxsize=2)
def _v3_index(generation: int) -> Obj:
    return {
        "paths": {
            key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={etag}"}
            for key, etag in _v3_etags(generation).items()
        }
    }
