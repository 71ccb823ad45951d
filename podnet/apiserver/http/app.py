"""The API server: aiohttp over TLS on loopback, authenticated, every path answered.

One catch-all route: :func:`routes.request_info` parses the URL as kube-apiserver does,
non-resource paths (discovery, OpenAPI, health, version) are answered here, resource
requests by :class:`handlers.Handlers`. Every failure is a ``Status``: an
:class:`errors.ApiError` with its code, anything else a 500 (its traceback on stderr,
never to the client). :class:`ServerThread` runs it on its own event loop for
synchronous callers and tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import platform
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from podnet.apiserver import discovery, errors, openapi
from podnet.apiserver.auth import Authenticator, User, is_public
from podnet.apiserver.certs import ServerTLS
from podnet.apiserver.http import negotiate, routes, watch
from podnet.apiserver.http.handlers import USER, Handlers
from podnet.apiserver.http.podstreams import PodStreams
from podnet.apiserver.http.respond import decode_object, log_internal, respond, warning_headers
from podnet.apiserver.rbac import bootstrap, impersonation
from podnet.apiserver.rbac.authorizer import Authorizer, forbidden
from podnet.apiserver.rbac.reviews import Reviews, is_review_plural
from podnet.apiserver.rbac.rules import Attributes
from podnet.apiserver.rbac.source import RegistryPolicy
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import deprecation_warning
from podnet.apiserver.tokens import keys, oidc
from podnet.apiserver.tokens.issuer import (
    TokenAuthenticator,
    TokenIssuer,
    registry_getter,
    token_request,
)

VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0+podnet",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "",
    "goVersion": f"python{platform.python_version()}",
    "compiler": "podnet",
    "platform": "linux/"
    + {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
}
SERVER_VERSION = (int(VERSION["major"]), int(VERSION["minor"]))
DEPRECATION = web.RequestKey("deprecation", str)
# The checks /livez and /readyz report (``?verbose``), as kube-apiserver names its own.
HEALTH_CHECKS = ("ping", "log", "etcd")
REGISTRY_THREADS = 4
CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _serving_context(tls: ServerTLS) -> ssl.SSLContext:
    """The serving context, with the client's cipher order: Go's crypto/tls puts
    AES-128-GCM first where the CPU has AES instructions, as kube-apiserver's TLS 1.3
    server picks then (``crypto/tls/handshake_server_tls13.go``, ``aesgcmPreferred``);
    under Python's default server preference OpenSSL's order gives AES-256-GCM (14
    rounds a block, not 10) on both ends of every port-forward byte."""
    ctx = tls.ssl_context()
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    return ctx


def _status_response(request: web.Request, err: errors.ApiError) -> web.Response:
    resp = respond(request, err.status(), negotiate.PLAIN_JSON, err.code, err.headers)
    return resp


class ApiServer:
    """Serves ``registry`` at https://``host``:``port`` (0: any free port)."""

    def __init__(
        self,
        registry: Registry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ServerTLS,
        authenticator: Authenticator,
        pod_streams: PodStreams | None = None,
        extra_sockets: Sequence[socket.socket] = (),
        bootstrap_rbac: bool = True,
        token_issuer: TokenIssuer | None = None,
    ) -> None:
        self.registry = registry
        # ServiceAccount tokens: signed with pki/sa.key beside the CA (kubeadm's layout)
        self.token_issuer = token_issuer or TokenIssuer(keys.ensure(tls.ca_cert.parent))
        if authenticator.tokens is None:
            authenticator.tokens = TokenAuthenticator(self.token_issuer, registry_getter(registry))
        self.policy = RegistryPolicy(registry)
        self.authorizer = Authorizer(self.policy)
        # kube-apiserver's post-start hook rbac/bootstrap-roles (run here before the
        # listener opens, so no client sees the cluster without its default roles)
        self.bootstrap_rbac = bootstrap_rbac
        # Listening sockets made elsewhere, served too (e.g. one inside a node's network
        # namespace, so pods reach the API as the `kubernetes` Service's endpoint).
        self.extra_sockets = tuple(extra_sockets)
        self.host = host
        self.port = port
        self.tls = tls
        self.authenticator = authenticator
        self.stopper = watch.Stopper()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            REGISTRY_THREADS, thread_name_prefix="apiserver"
        )
        self.handlers = Handlers(
            registry,
            pod_streams=pod_streams,
            stopper=self.stopper,
            run=self._run,
            reviews=Reviews(self.authorizer, authenticator),
        )
        self._runner: web.AppRunner | None = None
        self._logged: set[tuple[str, str, int]] = set()

    @property
    def pod_streams(self) -> PodStreams | None:
        return self.handlers.pod_streams

    @pod_streams.setter
    def pod_streams(self, streams: PodStreams | None) -> None:
        """Set by the live cluster once it runs pods."""
        self.handlers.pod_streams = streams

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A registry call off the event loop (a store write may wait on a disk flush
        or another writer's lock; watches must keep flowing meanwhile)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._authenticate], client_max_size=16 * 1024 * 1024
        )
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        app.on_response_prepare.append(_deprecation_header)
        return app

    async def start(self) -> int:
        """Listen; returns the bound port."""
        if self.bootstrap_rbac:
            await self._run(
                bootstrap.ensure, self.policy.get, self.policy.create, self.policy.update
            )
        self._runner = web.AppRunner(
            self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        await self._runner.setup()
        ctx = _serving_context(self.tls)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ctx)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        for sock in self.extra_sockets:
            await web.SockSite(self._runner, sock, ssl_context=ctx).start()
        return self.port

    async def stop(self) -> None:
        """End every open watch, stop listening and close the connections."""
        self.stopper.stop_all()
        if self._runner is not None:
            server = self._runner.server
            conns = list(server.connections) if server is not None else []
            transports = [c.transport for c in conns if c.transport is not None]
            await self._runner.cleanup()
            # A TLS close waits for the peer's close_notify (up to 30 s): a client that
            # never reads again would keep the socket past the loop's end. Abort those.
            for transport in transports:
                transport.abort()
            await asyncio.sleep(0)
            self._runner = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- middlewares --------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.ApiError as e:
            return _status_response(request, e)
        except web.HTTPException as e:
            if e.status == 413:
                return _status_response(
                    request, errors.ApiError(413, "RequestEntityTooLarge", "request is too large")
                )
            raise
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as e:
            log_internal(e, self._logged)
            return _status_response(request, errors.internal(f"{type(e).__name__}: {e}"))

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_public(request.path):
            peercert = None
            transport = request.transport
            if transport is not None:
                peercert = transport.get_extra_info("peercert")
            authorization = request.headers.get("Authorization")
            if self.authenticator.needs_lookup(authorization):  # reads the registry
                user = await self._run(self.authenticator.authenticate, peercert, authorization)
            else:
                user = self.authenticator.authenticate(peercert, authorization)
            if user is None:
                raise errors.unauthorized()
            if impersonation.wanted(request.headers.items()):
                user = await self._impersonate(request, user)
            request[USER] = user
            if not user.is_master:
                for attrs in _attributes(request, user):
                    decision = await self._run(self.authorizer.authorize, attrs)
                    if not decision.allowed:
                        raise forbidden(attrs, decision.reason)
        return await handler(request)

    async def _impersonate(self, request: web.Request, user: User) -> User:
        """``Impersonate-*`` (filters/impersonation.go), checked before the request's
        own authorization, which then runs as the impersonated user."""
        headers = list(request.headers.items())
        if user.is_master:  # allowed everything: no policy read
            acting = impersonation.impersonate(user, headers, self.authorizer.authorize)
        else:
            acting = await self._run(
                impersonation.impersonate, user, headers, self.authorizer.authorize
            )
        return acting if acting is not None else user

    # --- dispatch -----------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        info = routes.request_info(request.method, request.path, request.query)
        if not info.is_resource:
            return await self._non_resource(request)
        if info.group == "" and info.resource == "serviceaccounts" and info.subresource == "token":
            return await self._token_request(request, info)
        if info.name and is_review_plural(info.group, info.resource):
            # a create-only kind has no item path (installer.go registers none)
            raise errors.path_not_found(info.path)
        target = routes.resolve(info)
        warning = deprecation_warning(target.res, SERVER_VERSION)
        if warning is not None:  # every verb, errors too (installer.go: AddWarningsHandler)
            request[DEPRECATION] = warning
        return await self.handlers.handle(request, target)

    async def _token_request(
        self, request: web.Request, info: routes.RequestInfo
    ) -> web.StreamResponse:
        """``POST serviceaccounts/<name>/token``: a TokenRequest answered, never stored
        (:func:`podnet.apiserver.tokens.issuer.token_request`)."""
        if info.api_prefix != "api" or info.version != "v1" or not info.namespace:
            raise errors.path_not_found(info.path)
        if info.verb != "create":
            raise errors.method_not_allowed(routes.METHOD_NOT_ALLOWED)
        body = decode_object(
            await request.read(), negotiate.body_type(request.headers.get("Content-Type"))
        )
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind not in (None, "", "TokenRequest") or api_version not in (
            None,
            "",
            "authentication.k8s.io/v1",
        ):
            raise errors.bad_request(
                f"the body of the request is a {api_version}, Kind={kind}, not a TokenRequest"
            )
        answer = await self._run(
            token_request,
            self.token_issuer,
            registry_getter(self.registry),
            info.namespace,
            info.name,
            body,
            time.time(),
        )
        return respond(request, answer, status=201)

    def _oidc(self, path: str) -> web.Response:
        found = oidc.document(path, self.token_issuer.issuer, [self.token_issuer.key])
        assert found is not None
        body, ctype = found
        return web.Response(
            body=body, headers={"Content-Type": ctype, "Cache-Control": oidc.CACHE_CONTROL}
        )

    async def _non_resource(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            if path in ("/api", "/apis") or path.startswith(("/api/", "/apis/")):
                raise errors.method_not_allowed(routes.METHOD_NOT_ALLOWED)
            raise errors.path_not_found(path)
        accept = request.headers.get("Accept", "")
        if path == "/version":
            return respond(request, VERSION)
        if path in oidc.PATHS:
            return self._oidc(path)
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        ):
            return self._health(request, path)
        if path == "/":
            return respond(request, {"paths": self._paths()})
        if path in ("/api", "/apis"):
            chosen = discovery.negotiate(accept)
            if chosen is not None:
                return _json(request, discovery.aggregated(chosen[0], path == "/api"), chosen[1])
            negotiate.output(accept, allow_table=False)
            if path == "/api":
                return respond(request, discovery.api_versions(request.host))
            return respond(request, discovery.api_group_list())
        parts = path.strip("/").split("/")
        if path == "/api/v1" or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", "v1") if path == "/api/v1" else (parts[1], parts[2])
            found = discovery.resource_list(group, version)
            if found is None:
                raise errors.path_not_found(path)
            return respond(request, found)
        if parts[0] == "apis" and len(parts) == 2:
            return respond(request, _api_group(parts[1], path))
        if parts[0] == "api" and len(parts) == 2:
            raise errors.path_not_found(path)
        if path == "/openapi/v2":
            return _openapi_v2(accept)
        if path == "/openapi/v3":
            return respond(request, openapi.v3_index())
        if path.startswith("/openapi/v3/"):
            doc = openapi.v3_document(path.removeprefix("/openapi/v3/"))
            if doc is None:
                raise errors.path_not_found(path)
            resp = web.Response(body=doc, headers={"Content-Type": "application/json"})
            etag = openapi.v3_etag(path.removeprefix("/openapi/v3/"))
            if etag is not None:
                resp.headers["Etag"] = f'"{etag}"'
                if request.query.get("hash") == etag:
                    resp.headers["Cache-Control"] = "public, immutable"
            return resp
        raise errors.path_not_found(path)

    def _health(self, request: web.Request, path: str) -> web.StreamResponse:
        """``ok``, one check's ``ok``, or with ``?verbose`` each check and the verdict
        (``apiserver/pkg/server/healthz/healthz.go``)."""
        endpoint, _, check = path.strip("/").partition("/")
        if check:
            if check not in HEALTH_CHECKS:
                raise errors.path_not_found(path)
            return web.Response(text="ok", content_type="text/plain")
        if "verbose" in request.query:
            lines = [f"[+]{c} ok" for c in HEALTH_CHECKS]
            text = "\n".join(lines) + f"\n{endpoint} check passed\n"
            return web.Response(text=text, content_type="text/plain")
        return web.Response(text="ok", content_type="text/plain")

    def _paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"}
        paths |= {"/openapi/v2", "/openapi/v3"}
        for group in discovery.api_group_list().get("groups", []):
            paths.add(f"/apis/{group['name']}")
            for v in group.get("versions", []):
                paths.add(f"/apis/{v['groupVersion']}")
        return sorted(paths)


def _attributes(request: web.Request, user: User) -> list[Attributes]:
    """``filters.GetAuthorizerAttributes`` from the RequestInfo: a resource request's
    verb, group, namespace, resource, subresource and name; else the lower-case
    method and the path. A GET (WebSocket) on pods/exec, attach or portforward is also
    checked as ``create`` (the AuthorizePodWebsocketUpgradeCreatePermission compound
    check, on by default since 1.35: ``get`` alone must not open a shell)."""
    info = routes.request_info(request.method, request.path, request.query)
    if not info.is_resource:
        return [Attributes(user, request.method.lower(), False, path=request.path)]
    attrs = Attributes(
        user,
        info.verb,
        True,
        namespace=info.namespace,
        api_group=info.group,
        api_version=info.version,
        resource=info.resource,
        subresource=info.subresource,
        name=info.name,
        path=request.path,
    )
    if (
        attrs.verb == "get"
        and info.group == ""
        and info.resource == "pods"
        and info.subresource in CONNECT_SUBRESOURCES
    ):
        return [attrs, dataclasses.replace(attrs, verb="create")]
    return [attrs]


def _json(request: web.Request, body: Any, content_type: str) -> web.Response:
    resp = respond(request, body)
    resp.headers["Content-Type"] = content_type
    return resp


def _api_group(name: str, path: str) -> dict[str, Any]:
    for group in discovery.api_group_list().get("groups", []):
        if group.get("name") == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
    raise errors.path_not_found(path)


def _openapi_v2(accept: str) -> web.Response:
    if any(t in accept for t in openapi.V2_PROTOBUF_ACCEPTED):
        body, ctype = openapi.v2_protobuf(), openapi.V2_PROTOBUF
    else:
        body, ctype = openapi.v2_json(), "application/json"
    return web.Response(
        body=body, headers={"Content-Type": ctype, "Etag": f'"{openapi.v2_etag()}"'}
    )


class ServerThread:
    """An :class:`ApiServer` on its own thread and event loop, for synchronous callers."""

    def __init__(self, registry: Registry, **kwargs: Any) -> None:
        self.registry = registry
        self.kwargs = kwargs
        self.server: ApiServer | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30.0) -> int:
        self._thread = threading.Thread(target=self._main, name="apiserver", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the API server did not start in time")
        if self._error is not None:
            raise self._error
        return self.port

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.server = ApiServer(self.registry, **self.kwargs)
            self.port = loop.run_until_complete(self.server.start())
        except BaseException as e:
            self._error = e
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the server's loop (e.g. to set ``pod_streams``)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def stop(self, timeout: float = 30.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            print("podnet apiserver: the server thread did not stop in time", file=sys.stderr)
        self._thread = None


async def _deprecation_header(request: web.Request, response: web.StreamResponse) -> None:
    """The deprecated resource's warning first, before the handler's own ones."""
    warning = request.get(DEPRECATION)
    if warning is None:
        return
    headers = warning_headers([warning]) or {}
    old = response.headers.get("Warning")
    response.headers["Warning"] = headers["Warning"] + (f", {old}" if old else "")
