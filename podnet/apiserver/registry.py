"""The REST semantics of the API, in-process: what every request and every controller
goes through (kube-apiserver's ``registry/generic/registry/store.go`` and each kind's
strategy). HTTP handlers are thin over this; controllers call it directly.

INTERFACE SKETCH: the signatures below are the contract; bodies are being written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj, Store, Watch


@dataclass(frozen=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


@dataclass
class WatchEvent:
    type: str  # ADDED MODIFIED DELETED BOOKMARK ERROR
    object: Obj


@dataclass
class RegistryWatch:
    """A filtered watch: ``poll``/``get`` return :class:`WatchEvent`s already filtered by
    the selectors (an object leaving the selection arrives as DELETED, entering as
    ADDED, as the API server's watch cache filter does)."""

    inner: Watch
    filter: Callable[[Obj], bool]
    initial: list[WatchEvent] = field(default_factory=list)


class Registry:
    def __init__(self, store: Store, *, clock: Callable[[], float] | None = None) -> None:
        self.store = store

    def create(
        self,
        res: Resource,
        namespace: str | None,
        obj: Obj,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> Obj:
        raise NotImplementedError

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj:
        raise NotImplementedError

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
        raise NotImplementedError

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
    ) -> Obj:
        raise NotImplementedError

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
    ) -> Obj:
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError
