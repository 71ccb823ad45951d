"""The RBAC objects read from the Registry (the listers upstream's authorizer reads
from its informers; here each read is a store read, made only for identities that
are not in ``system:masters``)."""

from __future__ import annotations

from collections.abc import Sequence

from podnet.apiserver import errors, resources
from podnet.apiserver.rbac.resolver import Obj
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource

GROUP = "rbac.authorization.k8s.io"


def _res(plural: str) -> Resource:
    res = resources.by_path(GROUP, "v1", plural)
    assert res is not None, plural
    return res


class RegistryPolicy:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.roles = _res("roles")
        self.role_bindings_res = _res("rolebindings")
        self.cluster_roles_res = _res("clusterroles")
        self.cluster_role_bindings_res = _res("clusterrolebindings")

    def _get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        try:
            found: Obj = self.registry.get(res, namespace, name)
        except errors.ApiError as e:
            if e.code == 404:
                return None
            raise
        return found

    def cluster_role_bindings(self) -> Sequence[Obj]:
        return self.registry.list(self.cluster_role_bindings_res, None).items

    def role_bindings(self, namespace: str) -> Sequence[Obj]:
        return self.registry.list(self.role_bindings_res, namespace).items

    def cluster_roles(self) -> Sequence[Obj]:
        return self.registry.list(self.cluster_roles_res, None).items

    def cluster_role(self, name: str) -> Obj | None:
        return self._get(self.cluster_roles_res, None, name)

    def role(self, namespace: str, name: str) -> Obj | None:
        return self._get(self.roles, namespace, name)

    def get(self, plural: str, name: str) -> Obj | None:
        """For the bootstrap: a cluster-scoped RBAC object by name."""
        return self._get(_res(plural), None, name)

    def update(self, plural: str, obj: Obj) -> None:
        self.registry.update(_res(plural), None, obj["metadata"]["name"], obj)

    def create(self, plural: str, obj: Obj) -> None:
        try:
            self.registry.create(_res(plural), None, obj)
        except errors.ApiError as e:
            if e.code != 409:  # created meanwhile: the bootstrap's job is done
                raise
