"""A custom resource's OpenAPI definitions, from its CRD version's schema, as
apiextensions-apiserver publishes them (pkg/controller/openapi/builder/builder.go:
definition ``<reversed group>.<version>.<Kind>`` and its List, ``apiVersion``, ``kind``
and ``metadata`` (ObjectMeta) added; v2 through ``pkg/controller/openapi/v2/
conversion.go`` ToStructuralOpenAPIV2, which drops what swagger 2.0 cannot say).
``kubectl explain`` and kubectl's client-side validation read them.
"""

from __future__ import annotations

import copy
from typing import Any

from podnet.apiserver.resources import Resource

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. "
    "Servers should convert recognized schemas to the latest internal value, and may "
    "reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. "
    "Servers may infer this from the endpoint the client submits requests to. Cannot be "
    "updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def base(res: Resource) -> str:
    """``example.com`` v1 -> ``com.example.v1.`` (builder.go's definition prefix)."""
    return ".".join(reversed(res.group.split("."))) + f".{res.version}."


def names(res: Resource) -> dict[str, str]:
    return {res.kind: base(res) + res.kind, res.list_kind: base(res) + res.list_kind}


def _v2(s: Any) -> Any:
    """ToStructuralOpenAPIV2: no nullable, anyOf/oneOf/not; an int-or-string or a
    nullable node loses its type (swagger has neither)."""
    if isinstance(s, list):
        return [_v2(v) for v in s]
    if not isinstance(s, dict):
        return s
    out: Obj = {}
    for key, value in s.items():
        if key in ("nullable", "anyOf", "oneOf", "not", "x-kubernetes-validations"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _v2(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = _v2(value)
        else:
            out[key] = value
    if s.get("x-kubernetes-int-or-string") or s.get("nullable"):
        out.pop("type", None)
    return out


def definitions(res: Resource, prefix: str, *, v2: bool) -> dict[str, Obj]:
    """The kind's and its List's definitions."""
    assert res.custom is not None
    gvk = {"group": res.group, "kind": res.kind, "version": res.version}
    schema: Obj = copy.deepcopy(res.custom.schema) or {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    if v2:
        schema = _v2(schema)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": _API_VERSION_DOC}
    props["kind"] = {"type": "string", "description": _KIND_DOC}
    props["metadata"] = {"$ref": f"{prefix}{META}ObjectMeta"}
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [gvk]
    b = base(res)
    items = {"type": "array", "items": {"$ref": f"{prefix}{b}{res.kind}"}}
    return {
        b + res.kind: schema,
        b + res.list_kind: {
            "description": f"{res.kind}List is a list of {res.kind}",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string", "description": _API_VERSION_DOC},
                "items": items,
                "kind": {"type": "string", "description": _KIND_DOC},
                "metadata": {"$ref": f"{prefix}{META}ListMeta"},
            },
            "x-kubernetes-group-version-kind": [gvk | {"kind": res.list_kind}],
        },
    }
