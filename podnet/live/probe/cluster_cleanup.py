"""What ``podnet probe --cluster`` created, and taking it away again: on success, on an
error, on Ctrl-C and on SIGTERM.

Every object podnet creates is recorded here before the create is sent (so a create
whose answer was lost is still cleaned up) and carries the label
``app.kubernetes.io/managed-by=podnet-probe`` plus the run's id
(``podnet.dev/probe-run``), so a run killed with SIGKILL leaves objects a person can
find and delete by label (docs/from-cluster.md). Nothing is deleted that this run did
not create (STYLE.md principle 10: clean up exactly what you created).

Order: the cluster-scoped policies first (they may select pods anywhere), then the
namespaces, whose deletion takes their pods, Services and NetworkPolicies with them
(the namespace controller empties a terminating namespace). Then it waits, bounded,
until the namespaces are gone, as ``kubectl delete namespace`` waits. While cleaning up,
SIGINT and SIGTERM are held off: a second Ctrl-C would otherwise leave half of it.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from podnet.kube.client import ApiResource, Client
from podnet.kube.errors import KubeError
from podnet.kube.read import NAMESPACES
from podnet.kube.write import delete, get

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "podnet-probe"
RUN_LABEL = "podnet.dev/probe-run"
CASE_LABEL = "podnet.dev/probe-case"
GONE_WAIT = 120.0  # seconds to wait for deleted namespaces to disappear

Say = Callable[[str], None]


class Stopped(KeyboardInterrupt):
    """SIGTERM arrived: unwind like Ctrl-C (so ``finally`` cleans up), keeping the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class Created:
    """The objects of one run, in creation order."""

    run_id: str = field(default_factory=new_run_id)
    namespaces: list[str] = field(default_factory=list)
    cluster_objects: list[tuple[ApiResource, str]] = field(default_factory=list)

    def labels(self, case: str = "") -> dict[str, str]:
        out = {MANAGED_BY: MANAGER, RUN_LABEL: self.run_id}
        if case:
            out[CASE_LABEL] = case
        return out


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM raises :class:`Stopped` (SIGINT already raises KeyboardInterrupt)."""

    def raise_stopped(signum: int, _frame: object) -> None:
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, raise_stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_held() -> Iterator[list[int]]:
    """SIGINT and SIGTERM recorded, not acted on, for the duration; the list says which
    arrived (the caller reports 128+N afterwards)."""
    seen: list[int] = []

    def note(signum: int, _frame: object) -> None:
        seen.append(signum)

    old = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def delete_cluster_objects(client: Client, created: Created, say: Say) -> list[str]:
    """Delete the cluster-scoped objects (cluster policies); errors, one line each."""
    errors: list[str] = []
    for res, name in reversed(created.cluster_objects):
        try:
            delete(client, res, name)
        except KubeError as e:
            errors.append(str(e))
    created.cluster_objects.clear()
    return errors


def cleanup(client: Client, created: Created, say: Say, wait: float = GONE_WAIT) -> list[str]:
    """Delete everything ``created`` holds and wait until its namespaces are gone;
    what could not be done, one line each (empty: all gone)."""
    errors = delete_cluster_objects(client, created, say)
    pending = []
    for ns in reversed(created.namespaces):
        try:
            delete(client, NAMESPACES, ns)
            pending.append(ns)
        except KubeError as e:
            errors.append(str(e))
    if pending:
        say(f"deleting namespace(s) {', '.join(sorted(pending))}")
    end = time.monotonic() + wait
    while pending and time.monotonic() < end:
        try:
            pending = [ns for ns in pending if get(client, NAMESPACES, ns) is not None]
        except KubeError as e:
            errors.append(str(e))
            break
        if pending:
            time.sleep(0.2)
    if pending:
        errors.append(
            f"namespace(s) {', '.join(sorted(pending))} still terminating after {wait:g} s "
            f"(delete by label: kubectl delete ns -l {RUN_LABEL}={created.run_id})"
        )
    created.namespaces.clear()
    return errors
