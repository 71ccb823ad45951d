"""A small synchronous client for the Kubernetes REST API: GET, paged LIST, errors.

One keep-alive HTTPS connection (http.client + ssl), JSON only. Lists are read in
pages (``limit`` + ``continue``, as kubectl's 500) so a large cluster is never one
giant response; an expired continue token (410 Gone) restarts the list once without
paging, as client-go's pager falls back to a full list. Every request has a timeout.
Errors name the server and the missing permission (see :mod:`podnet.kube.errors`).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podnet.kube.config import KubeConfig
from podnet.kube.errors import (
    ApiStatusError,
    Forbidden,
    KubeError,
    NotFound,
    Unauthorized,
    Unreachable,
)
from podnet.kube.execauth import Credential, ExecAuth

Obj = dict[str, Any]
PAGE = 500  # kubectl's --chunk-size default
USER_AGENT = "podnet"


@dataclass(frozen=True)
class ApiResource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """As RBAC and kubectl name it: ``pods``, ``networkpolicies.networking.k8s.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{name}" if name else ""
        return f"{base}{ns}/{self.plural}{tail}"


def _reason(e: BaseException, timeout: float) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {e.verify_message}"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed: {e.reason or e}"
    if isinstance(e, socket.gaierror):
        return f"cannot resolve the host name ({e.strerror})"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e) or type(e).__name__


def _ssl_context(cfg: KubeConfig, cert: bytes | None, key: bytes | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if cfg.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cfg.ca_data:
        ctx.load_verify_locations(cadata=cfg.ca_data.decode(errors="replace"))
    if cert and key:
        # ssl loads a client certificate only from files: a private folder, gone at once
        with tempfile.TemporaryDirectory(prefix="podnet-kube-") as tmp:
            cpath, kpath = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cpath.write_bytes(cert)
            fd = os.open(kpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            try:
                ctx.load_cert_chain(cpath, kpath)
            except ssl.SSLError as e:
                raise KubeError(f"client certificate or key is not usable: {e.reason}") from e
    return ctx


class _NamedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection that checks the certificate for ``tls-server-name`` (and sends
    it as SNI) instead of the URL's host, as client-go's TLSClientConfig.ServerName."""

    def __init__(
        self, host: str, port: int, *, timeout: float, context: ssl.SSLContext, name: str
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._name = name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._name)


class Client:
    """Requests to one cluster. Not thread-safe; :meth:`close` when done (a context
    manager)."""

    def __init__(self, cfg: KubeConfig, timeout: float = 30.0, page: int = PAGE) -> None:
        self.cfg, self.timeout, self.page = cfg, timeout, page
        url = urllib.parse.urlsplit(cfg.server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise KubeError(f"context {cfg.context!r}: server {cfg.server!r} is not an https URL")
        self._scheme, self._host = url.scheme, url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._prefix = url.path.rstrip("/")  # e.g. Rancher's /k8s/clusters/c-xxxx
        self._exec = ExecAuth(cfg.exec, cfg) if cfg.exec else None
        self._static = Credential(
            token=cfg.token, client_cert=cfg.client_cert, client_key=cfg.client_key
        )
        self._conn: http.client.HTTPConnection | None = None
        self._ctx: ssl.SSLContext | None = None
        self._ctx_cred: Credential | None = None
        self.requests = 0

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _credential(self) -> Credential:
        """The same object while it is valid: a new one means a new TLS context and
        connection (an exec plugin's client certificate was renewed)."""
        if self._exec is not None:
            return self._exec.get()
        return self._static

    def _headers(self, cred: Credential) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = cred.token
        if token is None and self.cfg.token_file:
            try:  # re-read each time: projected tokens rotate (client-go does the same)
                token = Path(self.cfg.token_file).read_text().strip()
            except OSError as e:
                raise KubeError(f"cannot read tokenFile {self.cfg.token_file}: {e.strerror}") from e
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.cfg.username is not None:
            basic = f"{self.cfg.username}:{self.cfg.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
        return headers

    def stream_params(self) -> tuple[str, ssl.SSLContext | None, dict[str, str]]:
        """What a second transport (the WebSocket exec, :mod:`podnet.kube.wsexec`) needs
        to reach the same server as this client: base URL, TLS context, auth headers."""
        cred = self._credential()
        ctx = None
        if self._scheme == "https":
            if self._ctx is None or cred is not self._ctx_cred:
                self._ctx = _ssl_context(self.cfg, cred.client_cert, cred.client_key)
                self._ctx_cred = cred
                self.close()
            ctx = self._ctx
        base = f"{self._scheme}://{self._host}:{self._port}{self._prefix}"
        headers = self._headers(cred)
        headers.pop("Accept", None)
        return base, ctx, headers

    def _connection(self, cred: Credential) -> http.client.HTTPConnection:
        if self._conn is not None and cred is self._ctx_cred:
            return self._conn
        self.close()
        if self._scheme == "http":
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        else:
            if self._ctx is None or cred is not self._ctx_cred:
                self._ctx = _ssl_context(self.cfg, cred.client_cert, cred.client_key)
            if self.cfg.tls_server_name:
                self._conn = _NamedHTTPS(
                    self._host,
                    self._port,
                    timeout=self.timeout,
                    context=self._ctx,
                    name=self.cfg.tls_server_name,
                )
            else:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=self._ctx
                )
        self._ctx_cred = cred
        return self._conn

    def _send(
        self, path: str, method: str = "GET", body: bytes | None = None, ctype: str = ""
    ) -> tuple[int, bytes]:
        cred = self._credential()
        headers = self._headers(cred)
        if ctype:
            headers["Content-Type"] = ctype
        for attempt in (0, 1):
            conn = self._connection(cred)
            fresh = conn.sock is None
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.requests += 1
                return resp.status, body
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()  # a kept-alive connection the server closed: once more
                if fresh or attempt:
                    raise Unreachable(self._unreachable(e)) from e
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise Unreachable(self._unreachable(e)) from e
        raise AssertionError("unreachable")

    def _unreachable(self, e: BaseException) -> str:
        return (
            f"cannot reach the Kubernetes API at {self.cfg.server} "
            f"(context {self.cfg.context}): {_reason(e, self.timeout)}"
        )

    def get_json(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        verb: str = "get",
        resource: str = "",
        namespace: str | None = None,
    ) -> Obj:
        """GET ``path`` (with ``query``) as JSON; ``verb``/``resource``/``namespace``
        only word the errors."""
        return self.request("GET", path, query, verb=verb, resource=resource, namespace=namespace)

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Obj | None = None,
        *,
        content_type: str = "application/json",
        verb: str = "get",
        resource: str = "",
        namespace: str | None = None,
    ) -> Obj:
        """``method`` on ``path`` with a JSON ``body`` (POST, PUT, PATCH with
        ``content_type`` a patch type, DELETE with DeleteOptions); the answer as JSON."""
        full = path + ("?" + urllib.parse.urlencode(query) if query else "")
        raw = json.dumps(body).encode() if body is not None else None
        ctype = content_type if raw is not None else ""
        status, answer = self._send(full, method, raw, ctype)
        if status == 401 and self._exec is not None:
            self._exec.invalidate()  # client-go: a 401 refreshes the plugin's credential
            status, answer = self._send(full, method, raw, ctype)
        return self._decode(status, answer, path, verb, resource, namespace)

    def _decode(
        self, status: int, body: bytes, path: str, verb: str, resource: str, namespace: str | None
    ) -> Obj:
        if 200 <= status < 300:
            try:
                data = json.loads(body)
            except ValueError as e:
                raise KubeError(f"{self.cfg.server}{path}: answer is not JSON") from e
            if not isinstance(data, dict):
                raise KubeError(f"{self.cfg.server}{path}: answer is not a JSON object")
            return data
        raise self._error(status, body, path, verb, resource or path, namespace)

    def _error(
        self, status: int, body: bytes, path: str, verb: str, resource: str, ns: str | None
    ) -> KubeError:
        try:
            said = str(json.loads(body).get("message") or "")
        except (ValueError, AttributeError):
            said = body[:200].decode(errors="replace").strip()
        where = f"in namespace {ns}" if ns else "cluster-wide"
        if status == 403:
            needs = "get/list" if verb in ("get", "list") else verb
            return Forbidden(
                f"cannot {verb} {resource} {where}: needs {needs} on {resource} "
                f"(server {self.cfg.server}, context {self.cfg.context}; "
                f"the API server said: {said})",
                verb=verb,
                resource=resource,
                namespace=ns,
            )
        if status == 401:
            return Unauthorized(
                f"the Kubernetes API at {self.cfg.server} rejected the credentials of "
                f"context {self.cfg.context} (401 Unauthorized): {said}"
            )
        if status == 404:
            return NotFound(f"{resource} {where}: not found at {self.cfg.server} ({said})")
        return ApiStatusError(
            f"{verb} {resource} {where} at {self.cfg.server}: HTTP {status}: {said}", status
        )

    def list(self, res: ApiResource, namespace: str | None = None) -> list[Obj]:
        """Every object of ``res`` (in ``namespace``, or all), each with its kind and
        apiVersion (list items carry neither on the wire)."""
        items: list[Obj] = []
        token = ""
        path = res.path(namespace)
        kw: dict[str, Any] = {"verb": "list", "resource": res.name, "namespace": namespace}
        while True:
            query = {"limit": str(self.page)}
            if token:
                query["continue"] = token
            try:
                page = self.get_json(path, query, **kw)
            except ApiStatusError as e:
                if e.code != 410 or not token:
                    raise
                items, token = [], ""  # the continue token expired: one full list
                page = self.get_json(path, None, **kw)
            items.extend(page.get("items") or [])
            previous, token = token, str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                break
            if token == previous:  # a broken proxy or server: never loop on one page
                raise KubeError(f"list {res.name} at {self.cfg.server}: continue token repeated")
        for item in items:
            item.setdefault("kind", res.kind)
            item.setdefault("apiVersion", res.api_version)
        return items
