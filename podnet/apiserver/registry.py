"""The REST semantics of the API, in-process: what every request and every controller
goes through (kube-apiserver's ``staging/src/k8s.io/apiserver/pkg/registry/generic/
registry/store.go`` and each kind's strategy, :mod:`podnet.apiserver.strategy`). HTTP
handlers are thin over this; controllers call it directly.

Objects returned are the store's own dicts (shared): callers copy before changing them.
"""

from __future__ import annotations

import copy
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from podnet.apiserver import allocators, defaults, schemas, strategy, validation
from podnet.apiserver import apply as ssa
from podnet.apiserver import patch as patches
from podnet.apiserver.errors import (
    STALE,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    gone,
    not_found,
)
from podnet.apiserver.registry_watch import RegistryWatch, WatchEvent
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.selectors import decode_continue, encode_continue, selector
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
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apiserver/pkg/storage/names/generate.go
# GuaranteedUpdate re-reads and retries a lost compare-and-swap for as long as it keeps
# losing (each loss is another writer's progress); the bound only guards against a bug.
_RETRIES = 10_000
# AllowCreateOnUpdate: PUT of a missing object creates it (endpoints, event, lease strategies)
_CREATE_ON_UPDATE = frozenset({"Endpoints", "Event", "Lease"})

Warnings = list[str]  # a method named list shadows the builtin in the class body
Patcher = Callable[[Resource, Obj, str, Any], Obj]  # patch.apply_patch
Applier = Callable[..., Obj]  # apply.server_side_apply


@dataclass(frozen=True)
class _Opts:
    """A write's request options, passed down whole."""

    dry_run: bool
    field_manager: str | None
    field_validation: str
    warnings: Warnings | None


@dataclass(frozen=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


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
        # admission plugins switched off, as kube-apiserver's --disable-admission-plugins:
        # a cluster without an API server to talk to (`podnet run`) runs no ServiceAccount
        self.disabled_admission: frozenset[str] = frozenset()
        assert SERVICES is not None and NAMESPACES is not None
        self.allocators.rebuild(store.list(SERVICES.prefix(None))[0])

    def now(self) -> str:
        return strategy.rfc3339(self.clock())

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
        opts = _Opts(dry_run, field_manager, field_validation, warnings)
        obj = _body(res, obj)
        meta = obj["metadata"]
        ns = strategy.request_namespace(res, namespace, meta)
        generate = strategy.check_create_meta(res, meta)
        if ns is not None:
            self._check_namespace_open(res, ns, meta.get("name") or generate or "")
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        obj = {"apiVersion": res.group_version, "kind": res.kind, **obj}
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        for attempt in range(8):  # names.SimpleNameGenerator, retried on a taken name (KEP-4420)
            if generate:
                suffix = "".join(self._rng.choice(_NAME_CHARS) for _ in range(5))
                obj["metadata"]["name"] = generate[:58] + suffix
            candidate = self._prepare_create(res, copy.deepcopy(obj) if generate else obj, opts)
            try:
                return self._store_new(res, ns, candidate, dry_run)
            except ApiError as e:
                if not (generate and e.reason == "AlreadyExists" and attempt < 7):
                    raise
        raise AssertionError("unreachable")

    def _prepare_create(self, res: Resource, obj: Obj, opts: _Opts) -> Obj:
        strategy.prepare_for_create(res, obj)
        defaults.apply_defaults(res.kind, obj)
        defaults.admit(self, res, obj)  # admission: Priority, DefaultIngressClass, kinds
        strategy.after_defaults_create(res, obj)
        found, schema = validation.prune(obj, opts.field_validation)
        if opts.warnings is not None:
            opts.warnings.extend(found)
        validation.validate_create(res, obj, schema)
        if opts.field_manager:  # a create is recorded as an Update (fieldmanager.go)
            obj = ssa.track_update(res, None, obj, opts.field_manager, self.now())
        return obj

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
        except (KeyExists, StoreError) as e:
            if is_service:
                self.allocators.restore(obj, None)
            if isinstance(e, KeyExists):
                raise already_exists(res.group, res.plural, name) from None
            raise

    def _check_namespace_open(self, res: Resource, ns: str, name: str) -> None:
        """Admission NamespaceLifecycle (plugin/pkg/admission/namespace/lifecycle)."""
        assert NAMESPACES is not None
        found = self.store.get(NAMESPACES.key(None, ns))
        if found is None:
            raise not_found("", "namespaces", ns)
        if (found.get("status") or {}).get("phase") == "Terminating":
            raise strategy.terminating(res, ns, name)

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
            token_rv, start = decode_continue(continue_token)
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
                token = encode_continue(rv, _key_of(res, page[-1]) + "\x00")
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
        unconditional (store.go Update, AllowUnconditionalUpdate); ``scale`` takes and
        returns an autoscaling/v1 Scale."""
        opts = _Opts(dry_run, field_manager, field_validation, warnings)
        request = obj
        obj = _put_body(res, namespace, name, request, subresource)
        given = _given_rv(obj["metadata"])
        for attempt in range(_RETRIES):
            if attempt:  # the lost attempt may have changed the body it owned: afresh
                obj = _put_body(res, namespace, name, request, subresource)
            current = self.store.get(res.key(namespace, name))
            if current is None:
                if res.kind in _CREATE_ON_UPDATE and subresource is None:
                    obj["metadata"].pop("resourceVersion", None)
                    return self.create(res, namespace, obj, dry_run=dry_run)
                raise not_found(res.group, res.plural, name)
            if given is not None and given != _rv(current):
                raise conflict(res.group, res.plural, name, STALE)
            try:
                # the body is this call's own copy (_body): prepared in place
                return self._update(res, namespace, current, obj, subresource, opts, owned=True)
            except VersionMismatch:
                if given is not None:
                    raise conflict(res.group, res.plural, name, STALE) from None
        raise conflict(res.group, res.plural, name, STALE)

    def _update(
        self,
        res: Resource,
        namespace: str | None,
        current: Obj,
        new: Obj,
        subresource: str | None,
        opts: _Opts,
        *,
        owned: bool = False,
    ) -> Obj:
        """One attempt: prepare, default, validate, allocate, CAS on ``current``'s rv
        (raises VersionMismatch for the caller to retry). ``owned``: ``new`` is the
        caller's private copy, shared with nothing (a PUT's decoded body), so it is
        prepared in place rather than copied; a patch's result may share subtrees with
        the stored object and is copied."""
        if subresource == "scale":
            scaled = self._update(
                res, namespace, current, strategy.from_scale(res, current, new), None, opts
            )
            return strategy.to_scale(res, scaled)
        out = strategy.prepare_for_update(res, current, new, subresource, owned=owned)
        out["apiVersion"], out["kind"] = res.group_version, res.kind
        if subresource == "status":  # the kubelet's and controllers' frequent write
            out, found = validation.validate_status_update(res, current, out, opts.field_validation)
        else:
            if subresource is None:
                defaults.apply_defaults(res.kind, out)
                strategy.set_generation(res, current, out)
                defaults.admit(self, res, out, current)
            elif subresource == "ephemeralcontainers":
                defaults.ephemeral_containers(out["spec"])
            found, schema = validation.prune(out, opts.field_validation)
            validation.validate_update(res, current, out, subresource, schema)
        if opts.warnings is not None:
            opts.warnings.extend(found)
        name, rv = out["metadata"]["name"], _rv(current)
        key = res.key(namespace, name)
        meta = out["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and strategy.may_go(res, out)
        ):
            # store.go Update: ShouldDeleteDuringUpdate (the last finalizer removed)
            return current if opts.dry_run else self._remove(res, key, current, rv)
        meta["resourceVersion"] = str(rv)
        if strategy.same(out, current):
            return current  # no-op: no write, no new resourceVersion (GuaranteedUpdate)
        if opts.field_manager:
            out = ssa.track_update(
                res, current, out, opts.field_manager, self.now(), subresource=subresource or ""
            )
        is_service = res.kind == "Service" and subresource is None
        if is_service:
            self.allocators.allocate(out, current)
        if opts.dry_run:
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
        """Apply the patch (or server-side apply) to the current object, then the update
        path, re-read and retried when another writer got in between (GuaranteedUpdate)."""
        apply = patches.media_type(patch_type) == patches.APPLY_PATCH
        # the apply result carries its own managedFields: no Update entry on top
        opts = _Opts(dry_run, None if apply else field_manager, field_validation, warnings)
        for _ in range(_RETRIES):
            current = self.store.get(res.key(namespace, name))
            if current is None:
                if not apply or subresource is not None:
                    raise not_found(res.group, res.plural, name)
                applied = self._apply(res, None, body, field_manager, force, "")
                applied.setdefault("metadata", {}).setdefault("name", name)
                return self.create(
                    res,
                    namespace,
                    applied,
                    dry_run=dry_run,
                    field_validation=field_validation,
                    warnings=warnings,
                )
            view = strategy.to_scale(res, current) if subresource == "scale" else current
            if apply:
                patched = self._apply(res, view, body, field_manager, force, subresource or "")
            else:
                patched = (self._patcher or patches.apply_patch)(res, view, patch_type, body)
                if patch_type == patches.JSON_PATCH:
                    # a JSON patch may write nulls (kubectl 1.20's rollout undo: a template
                    # with creationTimestamp: null); decoding into the typed object drops
                    # them, as a request body's (an RS template would else never match it)
                    patched = prune_nulls(patched)
            given = _given_rv(patched.get("metadata") or {})
            if given is not None and given != _rv(current):
                raise conflict(res.group, res.plural, name, STALE)
            try:
                return self._update(res, namespace, current, patched, subresource, opts)
            except VersionMismatch:
                continue
        raise conflict(res.group, res.plural, name, STALE)

    def _apply(
        self,
        res: Resource,
        current: Obj | None,
        body: Any,
        manager: str | None,
        force: bool,
        sub: str,
    ) -> Obj:
        if not manager:
            raise bad_request("PATCH apply requests need a fieldManager")
        fn = self._applier or ssa.server_side_apply
        return fn(res, current, body, manager, force=force, now=self.now(), subresource=sub)

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
            except KeyMissing:
                # Deleted by another writer since the read: store.go's Delete answers
                # NotFound then, as update does above.
                raise not_found(res.group, res.plural, name) from None
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
        out = strategy.plan_delete(res, current, propagation, grace_period, self.clock())
        if out is None:
            return current if dry_run else self._remove(res, key, current, _rv(current))
        if strategy.same(out, current) or dry_run:
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


def _body(res: Resource, obj: Any, only: tuple[str, ...] | None = None) -> Obj:
    """The request's object without nulls; ``only``: just those fields are read (a
    status write's spec is dropped unread, so it is not copied)."""
    if not isinstance(obj, dict):
        raise bad_request("the body of the request must be a JSON object")
    if only is not None:
        obj = {k: v for k, v in obj.items() if k in only}
    try:
        out: Obj = _without_nulls(obj)
    except _NullItem:
        out = _typed_nulls(obj, schemas.for_kind(res.group, res.version, res.kind))
    if not isinstance(out.get("metadata"), dict):
        out["metadata"] = {}
    return out


def _put_body(
    res: Resource, namespace: str | None, name: str, obj: Any, subresource: str | None
) -> Obj:
    """A PUT's body as :func:`_body` reads it, its name and namespace checked against
    the URL's and set from them (a new copy each call: ``obj`` is never changed)."""
    out = _body(res, obj, ("metadata", "status") if subresource == "status" else None)
    meta = out["metadata"]
    if meta.get("name") and meta["name"] != name:
        raise bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    if res.namespaced and namespace and meta.get("namespace") not in (None, "", namespace):
        raise bad_request(strategy.NS_MISMATCH)
    meta["name"] = name
    if res.namespaced and namespace:
        meta["namespace"] = namespace
    return out


def _without_nulls(value: Any) -> Any:
    """:func:`prune_nulls` for what JSON decodes to (plain dicts and lists): the same
    copy without null mapping values, without the line bookkeeping and the path it
    builds for every node; anything else (a manifest's LineDict) goes to it. Strings,
    numbers and booleans are taken as they are, without a call each (half the cost of
    copying an EndpointSlice)."""
    cls = value.__class__
    if cls is dict:
        out = {}
        for k, v in value.items():
            if v.__class__ in _LEAVES:
                out[k] = v
            elif v is not None:
                out[k] = _without_nulls(v)
        return out
    if cls is list:
        return [v if v.__class__ in _LEAVES else _without_nulls(v) for v in value]
    if isinstance(value, (dict, list)):
        return prune_nulls(value)
    if value is None:  # a list item: a mapping's nulls were dropped above
        raise _NullItem
    return value


_LEAVES = frozenset({str, int, float, bool})


class _NullItem(Exception):
    """A null list item in a request's body: :func:`_typed_nulls` reads it."""


def _typed_nulls(value: Any, node: schemas.Node | None) -> Any:
    """:func:`_without_nulls` for a body with a null list item, which upstream's typed
    decode (sigs.k8s.io/json, as encoding/json) stores as the item type's zero value:
    ``args: [null]`` is ``[""]``, ``containers: [null]`` is ``[{}]``, which validation
    then refuses naming the field. Where no schema gives the type (custom resources,
    whose decode is untyped) the null stays, for validation to judge."""
    if isinstance(value, dict):
        return {
            k: _typed_nulls(v, node.field(k) if node else None)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        item = node.items() if node else None
        return [
            (None if item is None else item.zero) if v is None else _typed_nulls(v, item)
            for v in value
        ]
    return value


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


def _key_of(res: Resource, obj: Obj) -> str:
    meta = obj["metadata"]
    return res.key(meta.get("namespace"), meta["name"])
