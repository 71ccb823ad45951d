"""A ``default`` ServiceAccount in every namespace (pkg/controller/serviceaccount/
serviceaccounts_controller.go: ensured when a namespace appears or the account is
deleted; never in a namespace being deleted)."""

from __future__ import annotations

from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.apiserver.tokens import legacy
from podnet.apiserver.tokens.issuer import TokenIssuer
from podnet.controllers.base import Clock, Controller, deleting, name, namespace
from podnet.controllers.informer import Informers

NAMESPACES: Resource = by_kind("", "Namespace")  # type: ignore[assignment]
SERVICEACCOUNTS: Resource = by_kind("", "ServiceAccount")  # type: ignore[assignment]
DEFAULT = "default"


def default_service_account(ns: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT, "namespace": ns},
    }


class ServiceAccountController(Controller):
    name = "serviceaccount"

    def setup(self) -> None:
        self.namespaces = self.informers.get(NAMESPACES)
        self.accounts = self.informers.get(SERVICEACCOUNTS)
        self.namespaces.add_handler(self._on_namespace)
        self.accounts.add_handler(self._on_account)

    def _on_namespace(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ != "DELETED" and new is not None:
            self.queue.add(name(new))

    def _on_account(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ == "DELETED" and new is not None and name(new) == DEFAULT:
            self.queue.add(namespace(new))

    def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or deleting(ns) or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        if self.accounts.get(f"{key}/{DEFAULT}") is not None:
            return
        try:
            self.registry.create(SERVICEACCOUNTS, key, default_service_account(key))
        except ApiError as e:
            if e.reason not in ("AlreadyExists", "Forbidden", "NotFound"):
                raise


SECRETS: Resource = by_kind("", "Secret")  # type: ignore[assignment]


class TokensController(Controller):
    """Legacy token Secrets filled, and deleted with their account
    (pkg/controller/serviceaccount/tokens_controller.go; the work is in
    :mod:`podnet.apiserver.tokens.legacy`). Keys: ``secret/<ns>/<name>`` and
    ``account/<ns>/<name>``."""

    name = "serviceaccount-token"

    def __init__(
        self, registry: Any, informers: Informers, *, issuer: TokenIssuer, ca_pem: str, clock: Clock
    ) -> None:
        super().__init__(registry, informers, clock=clock)
        self.issuer, self.ca_pem = issuer, ca_pem
        self._gone: dict[str, Obj] = {}  # deleted accounts, until their Secrets are

    def setup(self) -> None:
        self.accounts = self.informers.get(SERVICEACCOUNTS)
        self.secrets = self.informers.get(SECRETS)
        self.accounts.add_handler(self._on_account_tokens)
        self.secrets.add_handler(self._on_secret)

    def _on_account_tokens(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if new is None:
            return
        key = f"{namespace(new)}/{name(new)}"
        if type_ == "DELETED":
            self._gone[key] = new
            self.queue.add("account/" + key)
        else:  # a Secret that raced ahead of its account's create (if not deleted yet)
            for secret in self._secrets_in(namespace(new)):
                if legacy.account_ref(secret)[0] == name(new):
                    self.queue.add(f"secret/{namespace(secret)}/{name(secret)}")

    def _on_secret(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and type_ != "DELETED" and legacy.is_token_secret(new):
            self.queue.add(f"secret/{namespace(new)}/{name(new)}")

    def sync(self, key: str) -> None:
        what, _, rest = key.partition("/")
        ns, _, obj_name = rest.partition("/")
        if what == "account":
            sa = self._gone.pop(rest, None)
            if sa is not None and self.accounts.get(rest) is None:
                for old in self._secrets_in(ns):
                    if legacy.references(old, sa):
                        self._delete(ns, name(old))
            return
        secret = self.secrets.get(rest)
        if secret is None or not legacy.is_token_secret(secret) or deleting(secret):
            return
        sa_name, sa_uid = legacy.account_ref(secret)
        sa = self.accounts.get(f"{ns}/{sa_name}") if sa_name else None
        if sa is None and sa_name:  # the cache may be behind a create (fetchOnCacheMiss)
            try:
                sa = self.registry.get(SERVICEACCOUNTS, ns, sa_name)
            except ApiError as e:
                if e.code != 404:
                    raise
        if sa is None or (sa_uid and sa_uid != (sa.get("metadata") or {}).get("uid")):
            self._delete(ns, obj_name)
            return
        want = legacy.filled(secret, sa, self.issuer.sign, self.ca_pem)
        if want is None:
            return
        try:
            self.registry.update(SECRETS, ns, obj_name, want)
        except ApiError as e:
            if e.reason == "Conflict":  # changed meanwhile: its event comes
                return
            if e.reason != "NotFound":
                raise

    def _secrets_in(self, ns: str) -> list[Obj]:
        return [s for s in self.secrets.objects() if namespace(s) == ns]

    def _delete(self, ns: str, secret_name: str) -> None:
        try:
            self.registry.delete(SECRETS, ns, secret_name)
        except ApiError as e:
            if e.reason != "NotFound":
                raise
