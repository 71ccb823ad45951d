"""autoscaling/v1 HorizontalPodAutoscaler requests, served over the stored v2 object:
bodies converted to v2 before the registry, answers back to v1 (the apiserver's
conversion on decode and encode, pkg/apis/autoscaling/v1/conversion.go). A patch is
applied to the v1 view, as the patch handler applies it to the object in the request's
version. A watch's objects are converted as they are sent (:func:`watch_converter`);
a delete answers with the stored (v2) object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from podnet.apiserver import errors, resources
from podnet.apiserver import patch as patches
from podnet.apiserver.autoscaling.convert import to_v1, to_v2
from podnet.apiserver.http import negotiate
from podnet.apiserver.http.options import dry_run
from podnet.apiserver.http.respond import respond, warning_headers
from podnet.apiserver.http.routes import Target
from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj


def is_v1(res: Resource) -> bool:
    return (
        res.group == "autoscaling" and res.version == "v1" and res.kind == "HorizontalPodAutoscaler"
    )


def watch_converter(target: Target) -> Callable[[Obj], Obj] | None:
    """The conversion of a watch's objects: to v1 for a watch asked at the v1 path
    (served from the stored v2 resource), else none."""
    res = target.res
    if target.info.version == "v1" and res.group == "autoscaling" and res.version == "v2":
        return to_v1
    return None


def _v2() -> Resource:
    r = resources.by_kind("autoscaling", "HorizontalPodAutoscaler")
    assert r is not None and r.version == "v2"
    return r


async def serve(h: Any, request: web.Request, target: Target) -> web.StreamResponse:
    """``h``: the :class:`~podnet.apiserver.http.handlers.Handlers` calling (not
    imported: it imports this module)."""
    response: web.StreamResponse
    v2 = _v2()
    stored = Target(target.info, v2, target.namespace)
    verb, name, ns = target.verb, target.info.name, target.namespace
    sub = target.info.subresource or None
    q = request.query
    if verb in ("watch", "delete", "deletecollection"):
        response = await h.handle(request, stored)
        return response
    if verb == "get":
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        obj = await h.call(h.registry.get, v2, ns, name)
        if out.table_version is not None and not sub:
            return respond(request, h._table(out, v2, [obj], request), out)
        return respond(request, to_v1(obj), out)
    if verb == "list":
        out = negotiate.output(request.headers.get("Accept"), allow_table=True)
        result = await h.call(
            h.registry.list,
            v2,
            ns,
            label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""),
            limit=max(int(q.get("limit") or 0), 0),
            continue_token=q.get("continue", ""),
        )
        if out.table_version is not None:
            table = h._table(
                out,
                v2,
                result.items,
                request,
                resource_version=result.resource_version,
                continue_token=result.continue_token,
            )
            return respond(request, table, out)
        meta: dict[str, str] = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        body = {
            "kind": target.res.list_kind,
            "apiVersion": target.res.group_version,
            "metadata": meta,
            "items": [to_v1(o) for o in result.items],
        }
        return respond(request, body, out)
    out = negotiate.output(request.headers.get("Accept"), allow_table=False)
    manager = q.get("fieldManager") or None
    if verb in ("create", "update"):
        obj, warnings = await h._body(request, target)
        if verb == "create":
            done = await h.call(
                h.registry.create, v2, ns, to_v2(obj), dry_run=dry_run(q), field_manager=manager
            )
            return respond(request, to_v1(done), out, 201, warning_headers(warnings))
        done = await h.call(
            h.registry.update,
            v2,
            ns,
            name,
            to_v2(obj),
            subresource=sub,
            dry_run=dry_run(q),
            field_manager=manager,
        )
        return respond(request, to_v1(done), out, 200, warning_headers(warnings))
    if verb == "patch":
        patch_type = negotiate.body_type(request.headers.get("Content-Type"), patch=True)
        if patches.media_type(patch_type) == patches.APPLY_PATCH:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                "server-side apply of autoscaling/v1 is not served here: apply autoscaling/v2",
            )
        raw = await request.read()
        current = await h.call(h.registry.get, v2, ns, name)
        patched = patches.apply_patch(target.res, to_v1(current), patch_type, raw)
        done = await h.call(
            h.registry.update,
            v2,
            ns,
            name,
            to_v2(patched),
            subresource=sub,
            dry_run=dry_run(q),
            field_manager=manager,
        )
        return respond(request, to_v1(done), out)
    raise errors.method_not_allowed(
        "the server does not allow this method on the requested resource"
    )
