"""The resource verbs over the Registry: decode the request, call, encode the answer.

Thin, as kube-apiserver's ``endpoints/handlers/{get,create,update,patch,delete,watch}.go``
are over the generic store: query parameters and bodies are decoded and checked here
(with the Status errors those handlers give), the REST semantics are the Registry's.
Lists are encoded with one ``json.dumps`` over the store's shared objects (no copies).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from podnet.apiserver import binding, errors, tables
from podnet.apiserver.auth import User
from podnet.apiserver.http import fields, hpa_v1, negotiate, streams, watch
from podnet.apiserver.http.negotiate import Output
from podnet.apiserver.http.objects import delete_answer
from podnet.apiserver.http.options import (
    bool_param,
    check_rv_match,
    dry_run,
    int_param,
    log_options,
)
from podnet.apiserver.http.podstreams import PodStreams
from podnet.apiserver.http.respond import (
    content_type,
    decode_object,
    respond,
    warning_headers,
)
from podnet.apiserver.http.routes import Target, parse_bool
from podnet.apiserver.metrics import serve as metrics_api
from podnet.apiserver.metrics.storage import Storage as MetricsStorage
from podnet.apiserver.rbac import escalation
from podnet.apiserver.rbac.reviews import Reviews, is_review
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj

# kube-apiserver's --min-request-timeout: a watch without timeoutSeconds ends after a
# random 1-2x of it, spreading reconnects (endpoints/handlers/get.go, ListResource).
MIN_REQUEST_TIMEOUT = 1800
PROPAGATION = ("Orphan", "Background", "Foreground")
# Who the request runs as (after impersonation), set by the authentication middleware.
USER = web.RequestKey("user", User)
RBAC_PLURALS = frozenset({"roles", "clusterroles", "rolebindings", "clusterrolebindings"})


class Handlers:
    def __init__(
        self,
        registry: Registry,
        *,
        pod_streams: PodStreams | None,
        stopper: watch.Stopper,
        run: Callable[..., Any],
        reviews: Reviews | None = None,
    ) -> None:
        self.registry = registry
        self.reviews = reviews
        self.pod_streams = pod_streams
        self.stopper = stopper
        self._run = run  # runs a blocking registry call off the event loop
        # metrics.k8s.io's usage (podnet.apiserver.metrics), set by `podnet up`
        self.metrics: MetricsStorage | None = None

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self._run(fn, *args, **kwargs)

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        info = target.info
        if info.subresource == "log":
            return await self.logs(request, target)
        if info.subresource == "eviction":
            return await self.evict(request, target)
        if info.subresource in ("exec", "attach", "portforward"):
            return await self.pod_stream(request, target)
        if info.subresource in ("proxy", "binding"):
            raise errors.path_not_found(info.path)
        if target.res.group == metrics_api.GROUP:
            return await self.metrics_api(request, target)
        if hpa_v1.is_v1(target.res):  # served by conversion to the stored v2
            return await hpa_v1.serve(self, request, target)
        verb = target.verb
        if verb == "create" and is_review(target.res.group, target.res.kind):
            return await self.review(request, target)
        if verb == "create" and info.name and not info.subresource:
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        method = getattr(self, "do_" + verb)
        result: web.StreamResponse = await method(request, target)
        return result

    # --- reads ------------------------------------------------------------------------

    def _table(
        self,
        out: Output,
        res: Resource,
        objs: list[Obj],
        request: web.Request,
        *,
        resource_version: str = "",
        continue_token: str = "",
    ) -> Obj:
        include = request.query.get("includeObject", "Metadata")
        if include not in ("None", "Metadata", "Object"):
            raise errors.bad_request(f'includeObject: Unsupported value: "{include}"')
        table: Obj = tables.table(
            res,
            objs,
            include_object=include,
            now=time.time(),
            resource_version=resource_version,
            continue_token=continue_token,
        )
        table["apiVersion"] = f"meta.k8s.io/{out.table_version}"
        return table

    async def do_get(self, request: web.Request, target: Target) -> web.StreamResponse:
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        res = target.res
        # the registry makes the Scale (a custom resource's from its CRD's replica paths)
        obj: Obj = await self.call(
            self.registry.get,
            res,
            target.namespace,
            target.info.name,
            subresource=target.info.subresource or None,
        )
        if out.table_version is not None and not target.info.subresource:
            return respond(request, self._table(out, res, [obj], request), out)
        return respond(request, obj, out)

    async def do_list(self, request: web.Request, target: Target) -> web.StreamResponse:
        q = request.query
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        check_rv_match(q)
        limit = int_param(q, "limit") or 0
        if limit < 0:
            limit = 0
        res = target.res
        result = await self.call(
            self.registry.list,
            res,
            target.namespace,
            label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""),
            limit=limit,
            continue_token=q.get("continue", ""),
        )
        if out.table_version is not None:
            body = self._table(
                out,
                res,
                result.items,
                request,
                resource_version=result.resource_version,
                continue_token=result.continue_token,
            )
            return respond(request, body, out)
        meta: Obj = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining:
            meta["remainingItemCount"] = result.remaining
        body = {
            "kind": res.list_kind,
            "apiVersion": res.group_version,
            "metadata": meta,
            "items": result.items,
        }
        return respond(request, body, out)

    async def do_watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        q = request.query
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        if out.yaml:
            out = negotiate.PLAIN_JSON  # watch streams are JSON lines
        res = target.res
        field_selector = q.get("fieldSelector", "")
        if target.info.name:  # the deprecated /watch/.../<name>: one object
            name_sel = f"metadata.name={target.info.name}"
            field_selector = f"{field_selector},{name_sel}" if field_selector else name_sel
        timeout = int_param(q, "timeoutSeconds")
        if timeout is None or timeout <= 0:
            timeout = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
        send_initial = bool_param(q, "sendInitialEvents")
        rv = q.get("resourceVersion", "")
        if send_initial:
            # validation.go ValidateListOptions: watch-list needs NotOlderThan + bookmarks
            if q.get("resourceVersionMatch") != "NotOlderThan":
                raise errors.invalid(
                    "meta.k8s.io",
                    "ListOptions",
                    "",
                    [
                        (
                            "FieldValueForbidden",
                            "resourceVersionMatch",
                            "sendInitialEvents requires setting resourceVersionMatch to "
                            "NotOlderThan",
                        )
                    ],
                )
            if not bool_param(q, "allowWatchBookmarks"):
                raise errors.invalid(
                    "meta.k8s.io",
                    "ListOptions",
                    "",
                    [
                        (
                            "FieldValueForbidden",
                            "allowWatchBookmarks",
                            "sendInitialEvents requires setting allowWatchBookmarks to true",
                        )
                    ],
                )
        elif q.get("resourceVersionMatch"):
            raise errors.invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                [
                    (
                        "FieldValueForbidden",
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless "
                        "sendInitialEvents is provided",
                    )
                ],
            )
        try:
            rwatch = await self.call(
                self.registry.watch,
                res,
                target.namespace,
                resource_version=rv,
                label_selector=q.get("labelSelector", ""),
                field_selector=field_selector,
                send_initial_events=send_initial,
            )
        except errors.ApiError as e:
            if e.code != 410:
                raise
            # cacher.go: errors after the request was accepted are watch events
            return await _expired_stream(request, e, content_type(out))
        table_version = out.table_version
        include = q.get("includeObject", "Metadata")
        convert = hpa_v1.watch_converter(target)  # autoscaling/v1 watches see v1 objects

        def encode_event(type_: str, obj: Obj) -> Any:
            """The event's object, or a Table of it for ``kubectl get -w`` (a BOOKMARK:
            a Table without rows at the bookmark's resourceVersion)."""
            if table_version is None or type_ == "ERROR":
                return obj if convert is None or type_ == "ERROR" else convert(obj)
            table = tables.table(
                res,
                [] if type_ == "BOOKMARK" else [obj],
                include_object=include,
                now=time.time(),
                resource_version=str(obj.get("metadata", {}).get("resourceVersion", "")),
            )
            table["apiVersion"] = f"meta.k8s.io/{table_version}"
            return table

        return await watch.serve(
            request,
            rwatch,
            content_type=content_type(out),
            encode=encode_event,
            bookmarks=bool_param(q, "allowWatchBookmarks"),
            timeout=float(timeout),
            stopper=self.stopper,
        )

    # --- writes -----------------------------------------------------------------------

    async def _body(self, request: web.Request, target: Target) -> tuple[Obj, list[str]]:
        """The request's object, checked against the URL as the create/update handlers
        do, with unknown fields handled per ``fieldValidation``; and the warnings."""
        mt = negotiate.body_type(request.headers.get("Content-Type"))
        raw = await request.read()
        obj = decode_object(raw, mt)
        res = target.res
        if target.info.subresource == "scale":  # an autoscaling/v1 Scale, not the URL's kind
            kind = obj.get("kind")
            if kind and kind != "Scale":
                raise errors.bad_request(
                    f"{kind} cannot be handled as a Scale: the kind in the data ({kind}) "
                    "does not match the expected kind (Scale)"
                )
            return obj, []
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != res.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({res.group_version})"
            )
        if kind and kind != res.kind:
            raise errors.bad_request(
                f'{kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                f"the kind in the data ({kind}) does not match the kind of the URL ({res.kind})"
            )
        obj.pop("apiVersion", None)
        obj.pop("kind", None)
        obj = {"apiVersion": res.group_version, "kind": res.kind, **obj}
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata: expected a mapping")
        if res.namespaced and target.namespace is not None:
            ns = meta.get("namespace")
            if ns and ns != target.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace "
                    "sent on the request"
                )
            meta["namespace"] = target.namespace
        name = target.info.name
        if name and not target.info.subresource and meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on "
                f"the URL ({name})"
            )
        if name and not meta.get("name"):
            meta["name"] = name
        warnings = fields.apply_validation(obj, request.query.get("fieldValidation", ""))
        return obj, warnings

    async def do_create(self, request: web.Request, target: Target) -> web.StreamResponse:
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        q = request.query
        dry = dry_run(q)
        obj, warnings = await self._body(request, target)
        await self._no_escalation(request, target, obj)
        created = await self.call(
            self.registry.create,
            target.res,
            target.namespace,
            obj,
            dry_run=dry,
            field_manager=q.get("fieldManager") or None,
        )
        return respond(request, created, out, 201, warning_headers(warnings))

    async def do_update(self, request: web.Request, target: Target) -> web.StreamResponse:
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        q = request.query
        dry = dry_run(q)
        obj, warnings = await self._body(request, target)
        await self._no_escalation(request, target, obj)
        sub = target.info.subresource or None
        updated = await self.call(
            self.registry.update,
            target.res,
            target.namespace,
            target.info.name,
            obj,
            subresource=sub,
            dry_run=dry,
            field_manager=q.get("fieldManager") or None,
        )
        return respond(request, updated, out, 200, warning_headers(warnings))

    async def do_patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        q = request.query
        dry = dry_run(q)
        patch_type = negotiate.body_type(request.headers.get("Content-Type"), patch=True)
        manager = q.get("fieldManager") or None
        force = bool_param(q, "force")
        if patch_type == "application/apply-patch+yaml":
            if not manager:
                raise errors.invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    [
                        (
                            "FieldValueRequired",
                            "fieldManager",
                            "Required value: is required for apply patch",
                        )
                    ],
                )
        elif "force" in q:
            raise errors.invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [
                    (
                        "FieldValueForbidden",
                        "force",
                        "Forbidden: may not be specified for non-apply patch",
                    )
                ],
            )
        body = await request.read()
        sub = target.info.subresource or None
        if self._guards_escalation(request, target):
            would_be = await self.call(
                self.registry.patch,
                target.res,
                target.namespace,
                target.info.name,
                patch_type,
                body,
                dry_run=True,
                field_manager=manager,
                force=force,
            )
            await self._no_escalation(request, target, would_be)
        warnings: list[str] = []  # unknown fields of the patched object (Warn)
        patched = await self.call(
            self.registry.patch,
            target.res,
            target.namespace,
            target.info.name,
            patch_type,
            body,
            subresource=sub,
            dry_run=dry,
            field_manager=manager,
            force=force,
            field_validation=fields.validation_mode(q.get("fieldValidation", "")),
            warnings=warnings,
        )
        return respond(request, patched, out, 200, warning_headers(warnings))

    async def _delete_options(self, request: web.Request) -> Obj:
        raw = await request.read() if request.can_read_body else b""
        if not raw.strip():
            return {}
        opts = decode_object(raw, negotiate.body_type(request.headers.get("Content-Type")))
        kind = opts.get("kind")
        if kind not in (None, "DeleteOptions"):
            raise errors.bad_request(f"the body of the request is a {kind}, not DeleteOptions")
        return opts

    def _delete_args(self, request: web.Request, opts: Obj) -> dict[str, Any]:
        q = request.query
        propagation = q.get("propagationPolicy") or opts.get("propagationPolicy")
        orphan = opts.get("orphanDependents")
        if "orphanDependents" in q:
            orphan = parse_bool(q["orphanDependents"])
        if propagation is None and orphan is not None:
            propagation = "Orphan" if orphan else "Background"
        if propagation is not None and propagation not in PROPAGATION:
            raise errors.invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                [
                    (
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        f'Unsupported value: "{propagation}": supported values: "Foreground", '
                        f'"Background", "Orphan", "nil"',
                    )
                ],
            )
        grace = int_param(q, "gracePeriodSeconds")
        if grace is None and opts.get("gracePeriodSeconds") is not None:
            grace = int(opts["gracePeriodSeconds"])
        pre = opts.get("preconditions") or None
        if pre is not None and not isinstance(pre, dict):
            raise errors.bad_request("preconditions: expected a mapping")
        return {
            "propagation": propagation,
            "grace_period": grace,
            "preconditions": {k: str(v) for k, v in pre.items() if v is not None} if pre else None,
            "dry_run": dry_run(q, opts),
        }

    async def do_delete(self, request: web.Request, target: Target) -> web.StreamResponse:
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        opts = await self._delete_options(request)
        res = target.res
        deleted: Obj = await self.call(
            self.registry.delete,
            res,
            target.namespace,
            target.info.name,
            **self._delete_args(request, opts),
        )
        return respond(request, delete_answer(res, deleted), out)

    async def do_deletecollection(self, request: web.Request, target: Target) -> web.StreamResponse:
        """List with the selectors, delete each (one gone meanwhile is skipped), answer
        the list of what was deleted (``registry/generic/registry/store.go``
        ``DeleteCollection``)."""
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        q = request.query
        opts = await self._delete_options(request)
        args = self._delete_args(request, opts)
        res = target.res
        listed = await self.call(
            self.registry.list,
            res,
            target.namespace,
            label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""),
        )
        items: list[Obj] = []
        for obj in listed.items:
            meta = obj.get("metadata", {})
            try:
                items.append(
                    await self.call(
                        self.registry.delete, res, meta.get("namespace"), meta["name"], **args
                    )
                )
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        body = {
            "kind": res.list_kind,
            "apiVersion": res.group_version,
            "metadata": {"resourceVersion": listed.resource_version},
            "items": items,
        }
        return respond(request, body, out)

    async def evict(self, request: web.Request, target: Target) -> web.StreamResponse:
        """``pods/<name>/eviction`` (``kubectl drain``): the pod is deleted with the
        Eviction's DeleteOptions, answered 201 Status Success
        (``registry/core/pod/storage/eviction.go``: :func:`binding.evict_pod`)."""
        mt = negotiate.body_type(request.headers.get("Content-Type"))
        raw = await request.read()
        eviction = decode_object(raw, mt) if raw.strip() else {}
        name = (eviction.get("metadata") or {}).get("name") or target.info.name
        if name != target.info.name:
            raise errors.bad_request(
                f"name in URL does not match name in Eviction object: {target.info.name} != {name}"
            )
        opts = eviction.get("deleteOptions") or {}
        if not isinstance(opts, dict):
            raise errors.bad_request("deleteOptions: expected a mapping")
        args = self._delete_args(request, opts)
        await self.call(
            binding.evict_pod,  # PodDisruptionBudgets first (429 when none may go)
            self.registry,
            target.namespace or "",
            name,
            lambda: self.registry.delete(target.res, target.namespace, name, **args),
            dry_run=bool(args.get("dry_run")),
        )
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return respond(request, status, negotiate.PLAIN_JSON, 201)

    # --- RBAC writes -----------------------------------------------------------------

    def _guards_escalation(self, request: web.Request, target: Target) -> bool:
        user = request.get(USER)
        return (
            user is not None
            and not user.is_master
            and target.res.group == escalation.GROUP
            and target.res.plural in RBAC_PLURALS
        )

    async def _no_escalation(self, request: web.Request, target: Target, obj: Obj) -> None:
        """A Role or binding written by a non-master grants nothing it does not hold
        (:mod:`podnet.apiserver.rbac.escalation`)."""
        if self.reviews is None or not self._guards_escalation(request, target):
            return
        await self.call(
            escalation.check,
            self.reviews.authorizer,
            request[USER],
            target.res.plural,
            target.namespace or "",
            obj,
        )

    # --- the review kinds ------------------------------------------------------------

    async def review(self, request: web.Request, target: Target) -> web.StreamResponse:
        """An access, rules, self-subject or token review: answered, never stored
        (:mod:`podnet.apiserver.rbac.reviews`); 201 as every create."""
        if self.reviews is None:
            raise errors.method_not_allowed("reviews are not answered by this server")
        out = negotiate.output(request.headers.get("Accept"), allow_table=False)
        obj, warnings = await self._body(request, target)
        user = request.get(USER)
        if user is None:
            raise errors.unauthorized()
        answer = await self.call(self.reviews.answer, target.res.kind, target.namespace, obj, user)
        return respond(request, answer, out, 201, warning_headers(warnings))

    # --- metrics.k8s.io ----------------------------------------------------------------

    async def metrics_api(self, request: web.Request, target: Target) -> web.StreamResponse:
        """NodeMetrics and PodMetrics (:mod:`podnet.apiserver.metrics.serve`); with no
        scraper (no pods run here) every object is NotFound and every list empty."""
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        storage = self.metrics if self.metrics is not None else MetricsStorage()
        plural, ns = target.res.plural, target.namespace
        if target.verb == "get":
            items = [
                await self.call(
                    metrics_api.get, storage, self.registry, plural, ns, target.info.name
                )
            ]
        else:
            q = request.query
            items = await self.call(
                metrics_api.list_items,
                storage,
                self.registry,
                plural,
                ns,
                q.get("labelSelector", ""),
                q.get("fieldSelector", ""),
            )
        if out.table_version is not None:
            include = request.query.get("includeObject", "Metadata")
            return respond(request, metrics_api.table(items, include, out.table_version), out)
        if target.verb == "get":
            return respond(request, items[0], out)
        res = target.res
        body: Obj = {"kind": res.list_kind, "apiVersion": res.group_version, "metadata": {}}
        body["items"] = items
        return respond(request, body, out)

    # --- pods/exec, attach, portforward --------------------------------------------------

    async def pod_stream(self, request: web.Request, target: Target) -> web.StreamResponse:
        """The streaming subresources (:mod:`podnet.apiserver.http.streams`)."""
        if target.res.plural != "pods" or request.method not in ("GET", "POST"):
            raise errors.path_not_found(target.info.path)
        pod = await self.call(self.registry.get, target.res, target.namespace, target.info.name)
        if self.pod_streams is None:
            raise errors.ApiError(
                404,
                "NotFound",
                f'pod "{target.info.name}" runs no processes here: podnet serves '
                f"{target.info.subresource} only while the cluster runs pods (podnet up)",
            )
        return await streams.serve(
            request, self.pod_streams, target.info.subresource, target.namespace or "", pod
        )

    # --- pods/log ---------------------------------------------------------------------

    async def logs(self, request: web.Request, target: Target) -> web.StreamResponse:
        """``kubectl logs``: text/plain, streamed while ``follow``
        (``registry/core/pod/rest/log.go``, ``LogREST``)."""
        opts = log_options(request.query, target.info.name)  # 422 before the pod's 404
        await self.call(self.registry.get, target.res, target.namespace, target.info.name)
        if self.pod_streams is None:
            raise errors.ApiError(
                404,
                "NotFound",
                f'the logs of pod "{target.info.name}" are not served: podnet serves pod '
                f"logs only while the cluster runs pods (podnet up)",
            )
        chunks = self.pod_streams.logs(
            target.namespace or "",
            target.info.name,
            container=opts.container,
            follow=opts.follow,
            tail_lines=opts.tail_lines,
            since_seconds=opts.since_seconds,
            timestamps=opts.timestamps,
            previous=opts.previous,
            since_time=opts.since_time,
            limit_bytes=opts.limit_bytes,
        )
        resp = web.StreamResponse(status=200)
        resp.content_type = "text/plain"
        try:
            first = await anext(chunks, b"")  # errors (no such container) before the 200
            await resp.prepare(request)
            if first:
                await resp.write(first)
            async for chunk in chunks:
                await resp.write(chunk)
            await resp.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        return resp


async def _expired_stream(
    request: web.Request, err: errors.ApiError, content_type: str
) -> web.StreamResponse:
    resp = web.StreamResponse(status=200)
    resp.headers["Content-Type"] = content_type
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    await resp.write(watch.error_event(err))
    await resp.write_eof()
    return resp
