"""The REST semantics of the API, in-process: what every request and every controller
goes through (kube-apiserver's ``staging/src/k8s.io/apiserver/pkg/registry/generic/
registry/store.go`` and each kind's strategy, :mod:`podnet.apiserver.strategy`). HTTP
handlers are thin over this; controllers call it directly.

Objects returned are the store's own dicts (shared): callers copy before changing them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import importlib
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from podnet.apiserver import allocators, defaults, strategy, validation
from podnet.apiserver.errors import (
    STALE,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    gone,
    invalid,
    not_found,
)
from podnet.apiserver.registry_watch import RegistryWatch, WatchEvent
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.selectors import selector
from podnet.apiserver.store.base import (
    KeyExists,
    KeyMissing,
    Obj,
    Store,
    StoreError,
    TooOld,
    VersionMismatch,
)
from podnet.manifests.lines import prune_nulls

__all__ = ["ListResult", "Registry", "RegistryWatch", "WatchEvent"]

NAMESPACES = by_kind("", "Namespace")
SERVICES = by_kind("", "Service")
APPLY_PATCH = "application/apply-patch+yaml"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apiserver/pkg/storage/names/generate.go
_RETRIES = 5  # GuaranteedUpdate re-reads and retries a lost compare-and-swap
# AllowCreateOnUpdate: PUT of a missing object creates it (endpoints, event, lease strategies)
_CREATE_ON_UPDATE = frozenset({"Endpoints", "Event", "Lease"})

Warnings = list[str]  # a method named list shadows the builtin in the class body
Patcher = Callable[[Resource, Obj, str, Any], Obj]
Applier = Callable[[Resource, Obj | None, Obj, str, bool, str], Obj]


@dataclass(frozen=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


class Registry:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        patcher: Patcher | None = None,
        applier: Applier | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or time.time
        self._rng = rng or random.Random()
        self._patcher = patcher
        self._applier = applier
        self.allocators = allocators.ServiceAllocators(rng)
        assert SERVICES is not None and NAMESPACES is not None
        self.allocators.rebuild(store.list(SERVICES.prefix(None))[0])

    def now(self) -> str:
        return rfc3339(self.clock())

    # --- create ----------------------------------------------------------------------------

    def create(
        self,
        res: Resource,
        namespace: str | None,
        obj: Obj,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str = "",
        warnings: Warnings | None = None,
    ) -> Obj:
        """POST: name or generateName, namespace checks, system fields, defaults,
        validation, allocation, then the store (store.go Create, rest.BeforeCreate)."""
        obj = _body(obj)
        meta = obj["metadata"]
        ns = self._namespace_for(res, namespace, meta)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        generate = meta.get("generateName") if not meta.get("name") else None
        if not meta.get("name") and not generate:
            raise invalid(
                res.group,
                res.kind,
                "",
                [
                    (
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )
                ],
            )
        if ns is not None:
            self._check_namespace_open(res, ns, meta.get("name") or generate or "")
        for key in (
            "uid",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        for attempt in range(8):  # names.SimpleNameGenerator, retried on a taken name (KEP-4420)
            if generate:
                meta["name"] = generate[:58] + "".join(
                    self._rng.choice(_NAME_CHARS) for _ in range(5)
                )
            candidate = copy.deepcopy(obj) if generate else obj
            self._prepare_create(res, candidate, field_validation, warnings)
            try:
                return self._store_new(res, ns, candidate, dry_run)
            except ApiError as e:
                if not (generate and e.reason == "AlreadyExists" and attempt < 7):
                    raise
        raise AssertionError("unreachable")

    def _prepare_create(
        self, res: Resource, obj: Obj, field_validation: str, warnings: Warnings | None
    ) -> None:
        strategy.prepare_for_create(res, obj)
        defaults.apply_defaults(res.kind, obj)
        strategy.after_defaults_create(res, obj)
        found = validation.prune_unknown(obj, field_validation)
        if warnings is not None:
            warnings.extend(found)
        validation.validate(res, obj)

    def _store_new(self, res: Resource, ns: str | None, obj: Obj, dry_run: bool) -> Obj:
        name = obj["metadata"]["name"]
        key = res.key(ns, name)
        is_service = res.kind == "Service"
        if dry_run and self.store.get(key) is not None:
            raise already_exists(res.group, res.plural, name)
        if is_service:
            self.allocators.allocate(obj)
        if dry_run:
            if is_service:
                self.allocators.restore(obj, None)
            return obj
        try:
            return self.store.create(key, obj)
        except KeyExists:
            raise already_exists(res.group, res.plural, name) from None
        finally:
            if is_service and self.store.get(key) is not obj:
                self.allocators.restore(obj, None)

    def _namespace_for(self, res: Resource, namespace: str | None, meta: Obj) -> str | None:
        if not res.namespaced:
            meta.pop("namespace", None)
            return None
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        ns = body_ns or namespace
        if not ns:
            raise bad_request("an empty namespace may not be set during creation")
        meta["namespace"] = ns
        return str(ns)

    def _check_namespace_open(self, res: Resource, ns: str, name: str) -> None:
        """Admission NamespaceLifecycle (plugin/pkg/admission/namespace/lifecycle)."""
        assert NAMESPACES is not None
        found = self.store.get(NAMESPACES.key(None, ns))
        if found is None:
            raise not_found("", "namespaces", ns)
        if (found.get("status") or {}).get("phase") == "Terminating":
            what = f"{res.plural}.{res.group}" if res.group else res.plural
            raise ApiError(
                403,
                "Forbidden",
                f'{what} "{name}" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
                details={
                    "name": name,
                    "kind": res.plural,
                    **({"group": res.group} if res.group else {}),
                },
            )

    # --- reads -----------------------------------------------------------------------------

    def get(
        self, res: Resource, namespace: str | None, name: str, *, subresource: str | None = None
    ) -> Obj:
        obj = self.store.get(res.key(namespace, name))
        if obj is None:
            raise not_found(res.group, res.plural, name)
        return strategy.to_scale(res, obj) if subresource == "scale" else obj

    def list(
        self,
        res: Resource,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> ListResult:
        """Filtered, key-ordered, in pages of ``limit`` with an opaque continue token
        (etcd3 store.go GetList, ``encodeContinue``: base64 JSON {v, rv, start})."""
        sel = selector(res.kind, res.namespaced, label_selector, field_selector)
        prefix = res.prefix(namespace)
        start = ""
        items, rv = self.store.list(prefix)
        if continue_token:
            token_rv, start = _decode_continue(continue_token)
            self._check_not_compacted(prefix, token_rv)
            rv = token_rv
        matched: Iterator[Obj] = (
            o for o in items if (not start or _key_of(res, o) >= start) and sel.matches(o)
        )
        if limit <= 0:
            return ListResult(list(matched), str(rv))
        page: list[Obj] = []
        for obj in matched:
            if len(page) == limit:
                rest = 1 + sum(1 for _ in matched)
                token = _encode_continue(rv, _key_of(res, page[-1]) + "\x00")
                return ListResult(page, str(rv), token, rest if sel.empty else None)
            page.append(obj)
        return ListResult(page, str(rv))

    def _check_not_compacted(self, prefix: str, rv: int) -> None:
        try:
            self.store.watch(prefix, rv).close()
        except TooOld:
            raise gone(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            ) from None

    # --- update and patch ------------------------------------------------------------------

    def update(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str = "",
        warnings: Warnings | None = None,
    ) -> Obj:
        """PUT: compare-and-swap when the body carries a resourceVersion, else
        unconditional (store.go Update, AllowUnconditionalUpdate)."""
        obj = _body(obj)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name and subresource != "scale":
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        if (
            res.namespaced
            and meta.get("namespace")
            and namespace
            and meta["namespace"] != namespace
        ):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta.setdefault("name", name)
        if res.namespaced and namespace:
            meta["namespace"] = namespace
        given = _given_rv(meta)
        for _ in range(_RETRIES):
            current = self.store.get(res.key(namespace, name))
            if current is None:
                if res.kind in _CREATE_ON_UPDATE and subresource is None:
                    meta.pop("resourceVersion", None)
                    return self.create(res, namespace, obj, dry_run=dry_run)
                raise not_found(res.group, res.plural, name)
            if given is not None and given != _rv(current):
                raise conflict(res.group, res.plural, name, STALE)
            new = obj
            if subresource == "scale":
                new = strategy.from_scale(res, current, obj)
                subresource = None
            try:
                out = self._update(
                    res, namespace, current, new, subresource, dry_run, field_validation, warnings
                )
            except VersionMismatch:
                if given is not None:
                    raise conflict(res.group, res.plural, name, STALE) from None
                continue
            return strategy.to_scale(res, out) if obj.get("kind") == "Scale" else out
        raise conflict(res.group, res.plural, name, STALE)

    def _update(
        self,
        res: Resource,
        namespace: str | None,
        current: Obj,
        new: Obj,
        subresource: str | None,
        dry_run: bool,
        field_validation: str = "",
        warnings: Warnings | None = None,
    ) -> Obj:
        """One attempt: prepare, default, validate, allocate, CAS on ``current``'s rv
        (raises VersionMismatch for the caller to retry)."""
        out = strategy.prepare_for_update(res, current, new, subresource)
        out["apiVersion"], out["kind"] = res.group_version, res.kind
        if subresource is None:
            defaults.apply_defaults(res.kind, out)
        found = validation.prune_unknown(out, field_validation)
        if warnings is not None:
            warnings.extend(found)
        validation.validate_update(res, current, out)
        name, rv = out["metadata"]["name"], _rv(current)
        key = res.key(namespace, name)
        meta = out["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and _may_go(res, out):
            # store.go Update: ShouldDeleteDuringUpdate (the last finalizer removed)
            return current if dry_run else self._remove(res, key, current, rv)
        meta["resourceVersion"] = str(rv)
        if _same(out, current):
            return current  # no-op: no write, no new resourceVersion (GuaranteedUpdate)
        is_service = res.kind == "Service" and subresource is None
        if is_service:
            self.allocators.allocate(out, current)
        if dry_run:
            if is_service:
                self.allocators.restore(out, current)
            return out
        try:
            return self.store.update(key, out, expect_rv=rv)
        except KeyMissing:
            raise not_found(res.group, res.plural, name) from None
        except StoreError:
            if is_service:
                self.allocators.restore(out, current)
            raise

    def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool = False,
        field_validation: str = "",
        warnings: Warnings | None = None,
    ) -> Obj:
        """Apply the patch to the current object, then the update path, with
        GuaranteedUpdate's re-read and retry when another writer got in between."""
        for _ in range(_RETRIES):
            current = self.store.get(res.key(namespace, name))
            if current is None:
                if patch_type != APPLY_PATCH or subresource is not None:
                    raise not_found(res.group, res.plural, name)
                applied = self._apply(res, None, body, field_manager, force)
                return self.create(
                    res,
                    namespace,
                    applied,
                    dry_run=dry_run,
                    field_validation=field_validation,
                    warnings=warnings,
                )
            view = strategy.to_scale(res, current) if subresource == "scale" else current
            if patch_type == APPLY_PATCH:
                patched = self._apply(res, view, body, field_manager, force)
            else:
                patched = self._patch(res, view, patch_type, body)
            given = _given_rv(patched.get("metadata") or {})
            if given is not None and given != _rv(current):
                raise conflict(res.group, res.plural, name, STALE)
            sub = subresource
            if subresource == "scale":
                patched, sub = strategy.from_scale(res, current, patched), None
            try:
                out = self._update(
                    res, namespace, current, patched, sub, dry_run, field_validation, warnings
                )
            except VersionMismatch:
                continue
            return strategy.to_scale(res, out) if subresource == "scale" else out
        raise conflict(res.group, res.plural, name, STALE)

    def _patch(self, res: Resource, current: Obj, patch_type: str, body: Any) -> Obj:
        fn = self._patcher or importlib.import_module("podnet.apiserver.patch").apply_patch
        result: Obj = fn(res, current, patch_type, body)
        return result

    def _apply(
        self, res: Resource, current: Obj | None, body: Any, manager: str | None, force: bool
    ) -> Obj:
        if not manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        fn = self._applier or importlib.import_module("podnet.apiserver.apply").server_side_apply
        result: Obj = fn(res, current, body, manager, force, self.now())
        return result

    # --- delete ----------------------------------------------------------------------------

    def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        grace_period: int | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """store.go Delete: preconditions, graceful deletion (pods), finalizers and the
        garbage collector's finalizers; the object is returned (deleted or as updated)."""
        key = res.key(namespace, name)
        for _ in range(_RETRIES):
            current = self.store.get(key)
            if current is None:
                raise not_found(res.group, res.plural, name)
            meta = current["metadata"]
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                want = (preconditions or {}).get(field)
                if want and want != meta.get(field):
                    raise conflict(
                        res.group,
                        res.plural,
                        name,
                        f"Precondition failed: {label} in precondition: {want}, "
                        f"{label} in object meta: {meta.get(field, '')}",
                    )
            try:
                return self._delete_once(res, key, current, propagation, grace_period, dry_run)
            except VersionMismatch:
                continue
        raise conflict(res.group, res.plural, name, STALE)

    def _delete_once(
        self,
        res: Resource,
        key: str,
        current: Obj,
        propagation: str | None,
        grace_period: int | None,
        dry_run: bool,
    ) -> Obj:
        meta = current["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        new_finalizers = strategy.deletion_finalizers(res, finalizers, propagation)
        now = self.clock()
        grace = strategy.graceful_period(res, current, grace_period)
        pending = meta.get("deletionTimestamp")
        if pending:
            # A second delete only shortens a pod's grace (rest.BeforeDelete).
            left = meta.get("deletionGracePeriodSeconds") or 0
            grace = min(grace, left) if grace_period is not None else left
        if res.kind == "Namespace":
            grace = 0  # spec.finalizers holds the namespace controller's own finalizer
        keep = (
            bool(new_finalizers)
            or grace > 0
            or (res.kind == "Namespace" and bool((current.get("spec") or {}).get("finalizers")))
        )
        if not keep:
            return current if dry_run else self._remove(res, key, current, _rv(current))
        out = copy.deepcopy(current)
        ometa = out["metadata"]
        if not pending or grace < (meta.get("deletionGracePeriodSeconds") or 0):
            ometa["deletionTimestamp"] = rfc3339(now + grace)
            ometa["deletionGracePeriodSeconds"] = grace
        if new_finalizers:
            ometa["finalizers"] = new_finalizers
        else:
            ometa.pop("finalizers", None)
        if res.kind == "Namespace":
            out.setdefault("status", {})["phase"] = "Terminating"
        if _same(out, current) or dry_run:
            return out
        return self.store.update(key, out, expect_rv=_rv(current))

    def _remove(self, res: Resource, key: str, current: Obj, rv: int) -> Obj:
        gone_obj = self.store.delete(key, expect_rv=rv)
        if res.kind == "Service":
            self.allocators.release(gone_obj)
        return gone_obj

    # --- watch -----------------------------------------------------------------------------

    def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        send_initial_events: bool = False,
    ) -> RegistryWatch:
        """Watch semantics of api-concepts#semantics-for-watch: "" and "0" start with a
        synthetic ADDED per current object, "N" strictly after N (410 when compacted),
        ``send_initial_events`` adds the initial-events-end BOOKMARK."""
        sel = selector(res.kind, res.namespaced, label_selector, field_selector)
        prefix = res.prefix(namespace)
        initial: list[WatchEvent] = []
        if resource_version in ("", "0") or send_initial_events:
            items, rv = self.store.list(prefix)
            initial = [WatchEvent("ADDED", o) for o in items if sel.matches(o)]
        else:
            rv = _parse_rv(resource_version)
        try:
            inner = self.store.watch(prefix, rv)
        except TooOld as e:
            raise gone(f"too old resource version: {e.requested} ({e.oldest})") from None
        w = RegistryWatch(inner, sel, initial, rv, res)
        if send_initial_events:
            w.initial.append(w.bookmark(initial_events_end=True))
        return w


def _body(obj: Any) -> Obj:
    if not isinstance(obj, dict):
        raise bad_request("the body of the request must be a JSON object")
    out: Obj = prune_nulls(obj)
    if not isinstance(out.get("metadata"), dict):
        out["metadata"] = {}
    return out


def _given_rv(meta: Obj) -> int | None:
    rv = meta.get("resourceVersion")
    return _parse_rv(str(rv)) if rv else None


def _parse_rv(rv: str) -> int:
    try:
        value = int(rv)
    except ValueError:
        raise bad_request(f'invalid resource version: "{rv}"') from None
    if value < 0:
        raise bad_request(f'invalid resource version: "{rv}"')
    return value


def _same(a: Obj, b: Obj) -> bool:
    strip = ("resourceVersion", "managedFields")
    return {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    } and {k: v for k, v in a["metadata"].items() if k not in strip} == {
        k: v for k, v in b["metadata"].items() if k not in strip
    }


def _may_go(res: Resource, obj: Obj) -> bool:
    """Pods still in their grace period stay until the kubelet deletes them (pod
    strategy: graceful deletion wins over an emptied finalizer list); a Namespace goes
    once its spec.finalizers are empty too (namespace storage finalize)."""
    if res.kind == "Namespace":
        return not (obj.get("spec") or {}).get("finalizers")
    return res.kind != "Pod" or not obj["metadata"].get("deletionGracePeriodSeconds")


def _key_of(res: Resource, obj: Obj) -> str:
    meta = obj["metadata"]
    return res.key(meta.get("namespace"), meta["name"])


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = int(data["rv"]), str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or rv < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None
    return rv, start
