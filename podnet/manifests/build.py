"""Documents -> :class:`Manifests`: validate everything, then default and convert.

One bad document means nothing is loaded: every document is checked first (schema,
then the API server's semantic checks), all errors are raised together, and only a
fully valid input is converted (STYLE.md principle 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from podnet.errors import Location, ManifestError
from podnet.manifests.check_clusterpolicy import check_cluster_policy
from podnet.manifests.check_meta import check_metadata
from podnet.manifests.check_pod import check_pod_spec
from podnet.manifests.check_policy import check_policy_spec
from podnet.manifests.check_service import check_service_spec
from podnet.manifests.check_workload import check_workload
from podnet.manifests.convert import (
    NAMESPACE_NAME_LABEL,
    labels_of,
    to_namespace,
    to_pod,
    to_service,
)
from podnet.manifests.convert_clusterpolicy import to_cluster_policy
from podnet.manifests.convert_policy import to_policy
from podnet.manifests.kinds import KINDS, Kind
from podnet.manifests.lines import LineDict, LineList, Path, prune_nulls
from podnet.manifests.report import MAX_CHECKED_ERRORS, DocContext, raise_all
from podnet.manifests.schema import has_schema, schema_errors
from podnet.manifests.skipped import Skipped
from podnet.manifests.workloads import expand
from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.meta import Meta
from podnet.model.objects import Manifests, Namespace, NetworkPolicy, Pod, Service

# The API server creates these itself (pkg/controlplane/controller/systemnamespaces).
SYSTEM_NAMESPACES = ("default", "kube-system")

Valid = tuple[Kind, dict[str, Any], DocContext, Meta]


def from_documents(
    docs: Sequence[tuple[dict[str, Any], Location]],
    *,
    served: Callable[[str, str], bool] | None = None,
) -> Manifests:
    """Validate, default and convert manifest documents (dicts) into :class:`Manifests`;
    ``served``: the kinds the caller uses although podnet does not model them (no
    "skipped" warning for those).

    Raises :class:`ManifestError` (carrying file:line, object and field of the first
    problem, and listing all of them) if anything is invalid; then nothing is loaded.
    """
    errors: list[ManifestError] = []
    warnings: list[str] = []
    valid: list[Valid] = []
    skipped = Skipped()
    unchecked = 0
    for raw, loc in _flatten(docs, errors):
        if len(errors) >= MAX_CHECKED_ERRORS:
            unchecked += 1  # counted, not checked: the answer is "bad" already
            continue
        null_items: list[Path] = []
        doc = prune_nulls(raw, (), null_items)
        ctx = DocContext(doc, loc, _ref(doc))
        for path in null_items:
            ctx.error(path, "Invalid value: null is not allowed as a list item")
        item = _check(ctx, skipped)
        errors += ctx.errors
        warnings += ctx.warnings
        if item is not None and not ctx.errors:
            valid.append(item)
    warnings += skipped.warnings(KINDS, served)
    valid = _check_unique(valid, errors, warnings)
    raise_all(errors, unchecked)
    return _convert(valid, warnings)


def _flatten(
    docs: Sequence[tuple[Any, Location]], errors: list[ManifestError]
) -> Iterator[tuple[Any, Location]]:
    """Expand ``kind: List`` (and ``*List``) documents into their items, keeping lines.

    An item of a typed list (``PodList`` from ``kubectl get pods -o json``) carries no
    kind: like the API machinery (apimachinery unstructured.go ``decodeToList``: "For
    typed lists, e.g., a PodList, API server doesn't set each item's APIVersion and
    Kind"), an item with neither gets the list's kind less ``List`` and its apiVersion.
    An item of a plain ``List`` has no kind to inherit and stays an error.
    """
    for doc, loc in docs:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if not (isinstance(kind, str) and kind.endswith("List") and "items" in doc):
            yield doc, loc
            continue
        items = doc["items"]
        if not isinstance(items, list):
            errors.append(
                ManifestError("items must be a list", location=loc, obj=kind, field="items")
            )
            continue
        item_kind = kind.removesuffix("List")
        for i, item in enumerate(items):
            line = items.item_lines[i] if isinstance(items, LineList) else loc.line
            if item_kind and isinstance(item, dict) and not item.get("kind"):
                item = _with_type(item, item_kind, doc.get("apiVersion"))
            yield from _flatten([(item, Location(loc.file, line))], errors)


def _with_type(item: dict[str, Any], kind: str, api_version: Any) -> dict[str, Any]:
    """``item`` with the list's kind and apiVersion, when it has neither (a copy)."""
    if item.get("apiVersion"):
        return item
    out: dict[str, Any] = LineDict(item.line) if isinstance(item, LineDict) else {}
    out.update(item)
    if isinstance(item, LineDict) and isinstance(out, LineDict):
        out.key_lines = dict(item.key_lines)
    out["kind"] = kind
    if api_version is not None:
        out["apiVersion"] = api_version
    return out


def _ref(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else "?"
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    name = meta.get("name") or "?"
    known = KINDS.get(str(kind))
    if known is None or not known.namespaced:
        return f"{kind}/{name}"
    return f"{kind}/{meta.get('namespace') or 'default'}/{name}"


def _check(
    ctx: DocContext, skipped: Skipped, schema: Sequence[tuple[Path, str]] | None = None
) -> Valid | None:
    """Check one document; ``schema``: its schema errors when the caller has them
    already (the API server's prune step), so they are not computed twice."""
    doc = ctx.doc
    if not isinstance(doc, dict):
        ctx.error((), f"a manifest must be a mapping (object), got {type(doc).__name__}")
        return None
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        ctx.error(("kind",), "Required value: kind must be set")
        return None
    if not isinstance(api, str) or not api:
        ctx.error(("apiVersion",), "Required value: apiVersion must be set")
        return None
    known = KINDS.get(kind)
    if known is None:
        skipped.add(ctx, kind, api, schema_known=has_schema(kind, api))
        return None
    if api != known.api_version:
        ctx.error(
            ("apiVersion",), f"Unsupported value {api!r}: {kind} is served as {known.api_version!r}"
        )
        return None
    if not known.own_schema:  # own_schema kinds: check_cluster_policy below
        for path, message in schema_errors(doc) if schema is None else schema:
            ctx.error(path, message)
    if ctx.errors:
        return None  # semantic checks assume the schema's shapes
    check_metadata(ctx, kind, known.namespaced)
    spec = doc.get("spec")
    if kind == "Pod":
        check_pod_spec(ctx, ("spec",), spec)
    elif kind == "Service":
        check_service_spec(ctx, spec)
    elif kind == "NetworkPolicy":
        check_policy_spec(ctx, spec)
    elif known.workload:
        check_workload(ctx, kind, spec)
    elif known.own_schema:
        check_cluster_policy(ctx, kind)
    if ctx.errors:
        return None  # not loaded anyway; metadata may not even be a mapping
    meta = doc.get("metadata") or {}
    namespace = (meta.get("namespace") or "default") if known.namespaced else ""
    return known, doc, ctx, Meta(kind, namespace, str(meta.get("name")), ctx.location)


def _check_unique(
    valid: list[Valid], errors: list[ManifestError], warnings: list[str]
) -> list[Valid]:
    """Drop exact repeats of an object (with a warning), refuse conflicting ones.

    ``kubectl apply -f dir/`` applies an identical second copy as "unchanged", so the
    same object in two files is harmless (the seed's Service stands alone and again in
    its example); two *different* objects of one name would silently overwrite each
    other in a cluster, which is almost always a mistake, so that is an error here.
    """
    seen: dict[str, tuple[Meta, dict[str, Any]]] = {}
    kept: list[Valid] = []
    for item in valid:
        _, doc, ctx, meta = item
        first = seen.setdefault(meta.ref, (meta, doc))
        if first[0] is meta:
            kept.append(item)
        elif first[1] == doc:
            warnings.append(
                f"{meta.location}: {meta.ref} repeats the identical object at "
                f"{first[0].location}; using it once"
            )
        else:
            ctx.error(
                ("metadata", "name"),
                f"Duplicate value: {meta.ref} is already defined differently at "
                f"{first[0].location}",
            )
            errors.append(ctx.errors[-1])
    return kept


def _convert(valid: list[Valid], warnings: list[str]) -> Manifests:
    namespaces: dict[str, Namespace] = {n: _system(n) for n in SYSTEM_NAMESPACES}
    pods: list[Pod] = []
    daemonsets: list[Pod] = []
    services: list[Service] = []
    policies: list[NetworkPolicy] = []
    cluster_policies: list[ClusterNetworkPolicy] = []
    generated: dict[str, set[str]] = {}  # namespace -> generated pod names (never twice)
    for kind, doc, ctx, meta in valid:
        before = len(ctx.warnings)
        if kind.name == "Namespace":
            namespaces[meta.name] = to_namespace(doc, meta)
        elif kind.name == "Pod":
            pods.append(
                to_pod(
                    ctx,
                    ("spec",),
                    doc["spec"],
                    namespace=meta.namespace,
                    name=meta.name,
                    labels=labels_of(doc.get("metadata")),
                    meta=meta,
                )
            )
        elif kind.name == "Service":
            services.append(to_service(doc, meta))
        elif kind.name == "NetworkPolicy":
            policies.append(to_policy(doc, meta))
        elif kind.own_schema:
            cluster_policies.append(to_cluster_policy(ctx, doc, meta))
        elif kind.name == "DaemonSet":
            daemonsets += expand(ctx, kind.name, doc, meta)
        else:
            pods += expand(ctx, kind.name, doc, meta, generated)
        warnings += ctx.warnings[before:]  # conversion warnings (valueFrom, probes)
    _check_generated_names(pods)
    for _, _, _, meta in valid:
        if meta.namespace and meta.namespace not in namespaces:
            # A real API server rejects objects in a namespace that does not exist; podnet
            # is a sandbox, so it creates the namespace and says so.
            namespaces[meta.namespace] = _system(meta.namespace)
            warnings.append(
                f"{meta.location}: namespace {meta.namespace!r} is not declared; "
                "created implicitly (a real cluster would reject the object)"
            )
    return Manifests(
        namespaces=tuple(namespaces.values()),
        pods=tuple(pods),
        services=tuple(services),
        policies=tuple(policies),
        cluster_policies=tuple(cluster_policies),
        warnings=tuple(dict.fromkeys(warnings)),  # replicas repeat their template's
        daemonsets=tuple(daemonsets),
    )


def _system(name: str) -> Namespace:
    return Namespace(
        name=name, labels={NAMESPACE_NAME_LABEL: name}, meta=Meta("Namespace", "", name)
    )


def _check_generated_names(pods: list[Pod]) -> None:
    """A workload's pod may collide with a declared Pod (``web-0`` twice)."""
    seen: dict[str, Pod] = {}
    errors = []
    for pod in pods:
        first = seen.setdefault(pod.key, pod)
        if first is not pod:
            where = first.owner or (first.meta.location if first.meta else None)
            errors.append(
                ManifestError(
                    f"Duplicate value: pod {pod.key} is also created by {where}",
                    location=pod.meta.location if pod.meta else None,
                    obj=pod.owner or (pod.meta.ref if pod.meta else None),
                )
            )
    raise_all(errors)
