"""A ``default`` ServiceAccount in every namespace (pkg/controller/serviceaccount/
serviceaccounts_controller.go: ensured when a namespace appears or the account is
deleted; never in a namespace being deleted)."""

from __future__ import annotations

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, deleting, name, namespace

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
