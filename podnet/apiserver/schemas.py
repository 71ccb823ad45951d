"""Patch and apply metadata of the built-in kinds, read from the OpenAPI definitions
kubernetes-validate ships (the same ``x-kubernetes-*`` extensions kube-apiserver
publishes in ``/openapi/v2``).

Strategic merge patch reads ``x-kubernetes-patch-strategy`` / ``-patch-merge-key``
(``k8s.io/apimachinery/pkg/util/strategicpatch``); server-side apply reads
``x-kubernetes-list-type`` / ``-list-map-keys`` / ``-map-type``, falling back to the patch
metadata where a list has no list type, as ``managedfields/internal/typeconverter.go``
does. The 1.8 MB file is read once, on first use; nodes are resolved lazily through
``$ref``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from podnet.manifests.schema import kubernetes_version

# List-map keys that have a default in the API types: an applied item that leaves them
# out still names the live, defaulted item (structured-merge-diff reads the schema's
# default for key fields; the definitions file carries none, so they are listed here).
KEY_DEFAULTS = {"protocol": "TCP"}


@functools.cache
def _definitions() -> dict[str, Any]:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("kubernetes-validate is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "kubernetes-json-schema" / f"v{kubernetes_version()}-local" / "_definitions.json"
    defs: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return defs


@functools.cache
def _by_kind() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in _definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind", ()):
            out[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return out


class Node:
    """One place in a kind's schema: the property schema (carrying the list and patch
    extensions) merged with the definition it refers to."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    @functools.cached_property
    def _target(self) -> dict[str, Any]:
        s: dict[str, Any] = self.schema
        ref = s.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            t: dict[str, Any] = _definitions().get(ref[len("#/$defs/") :], {})
            return t
        return s

    def _ext(self, key: str) -> Any:
        v = self.schema.get(key)
        return self._target.get(key) if v is None else v

    @property
    def patch_strategies(self) -> tuple[str, ...]:
        """``merge``, ``retainKeys``, ``replace`` (``merge,retainKeys`` for volumes)."""
        v = self._ext("x-kubernetes-patch-strategy")
        return tuple(v.split(",")) if isinstance(v, str) and v else ()

    @property
    def merge_key(self) -> str:
        v = self._ext("x-kubernetes-patch-merge-key")
        return v if isinstance(v, str) else ""

    @property
    def list_type(self) -> str:
        """``map`` / ``set`` / ``atomic`` for server-side apply. A list with no list type
        is a map when its patch strategy merges by key, a set when it merges primitives,
        atomic otherwise (``typeconverter.go``, from the patch metadata)."""
        v = self._ext("x-kubernetes-list-type")
        if isinstance(v, str) and v:
            return v
        if "merge" in self.patch_strategies:
            return "map" if self.merge_key else "set"
        return "atomic"

    @property
    def map_keys(self) -> tuple[str, ...]:
        v = self._ext("x-kubernetes-list-map-keys")
        if isinstance(v, list) and v:
            return tuple(str(k) for k in v)
        return (self.merge_key,) if self.merge_key else ()

    @property
    def atomic_map(self) -> bool:
        return bool(self._ext("x-kubernetes-map-type") == "atomic")

    @property
    def is_struct(self) -> bool:
        """Declared fields (a Go struct), as opposed to a map of arbitrary keys."""
        return isinstance(self._target.get("properties"), dict)

    @property
    def description(self) -> str:
        v = self.schema.get("description") or self._target.get("description")
        return v if isinstance(v, str) else ""

    def field(self, name: str) -> Node | None:
        """The schema of field ``name`` of this struct, or of the values of this map."""
        t = self._target
        props = t.get("properties")
        if isinstance(props, dict) and isinstance(props.get(name), dict):
            return _node(props[name])
        extra = t.get("additionalProperties")
        return _node(extra) if isinstance(extra, dict) else None

    @property
    def zero(self) -> Any:
        """The JSON of this type's Go zero value: what a null list item decodes to (``""``,
        ``0``, ``False``, ``{}`` for a struct or map, ``0`` for an int-or-string)."""
        t = self._target
        kinds = t.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds:
            return ""
        if "integer" in kinds or "number" in kinds or "oneOf" in t:
            return 0
        if "boolean" in kinds:
            return False
        if "array" in kinds:
            return []
        return {}

    def declares(self, name: str) -> bool:
        props = self._target.get("properties")
        return isinstance(props, dict) and name in props

    def items(self) -> Node | None:
        it = self._target.get("items")
        return _node(it) if isinstance(it, dict) else None


_NODES: dict[int, Node] = {}


def _node(schema: dict[str, Any]) -> Node:
    """One Node per schema dict (the definitions live for the process)."""
    n = _NODES.get(id(schema))
    if n is None or n.schema is not schema:
        n = _NODES[id(schema)] = Node(schema)
    return n


@functools.cache
def for_kind(group: str, version: str, kind: str) -> Node | None:
    """The root schema of ``kind``, or None where none is shipped (custom resources:
    AdminNetworkPolicy and the like, which therefore have no strategic merge patch)."""
    name = _by_kind().get((group, version, kind))
    return None if name is None else _node({"$ref": f"#/$defs/{name}"})


def definition(name: str) -> Node | None:
    """A named definition (``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``)."""
    d = _definitions().get(name)
    return None if d is None else _node(d)
