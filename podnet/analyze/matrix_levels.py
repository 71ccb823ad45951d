"""The connectivity matrix as a list of allowed flows, per pod or per workload.

netpol-analyzer's connlist formats (np-guard/netpol-analyzer, pkg/netpol/connlist:
``txt``, ``csv``, ``md``, ``json``, ``dot``) list the allowed connections only, one line
per (source, destination) with the ports joined (``TCP 80,UDP 53``), and name workloads
as ``namespace/name[Kind]``. The same here, from the verdicts of the matrix:

* pod level: one flow per ordered pair of distinct pods with at least one allowed port;
* workload level: pods grouped by their owner (a Deployment's pods, also when they name
  its ReplicaSet ``web-<pod-template-hash>`` as on a real cluster; bare pods stand for
  themselves). A port is listed when at least one pod pair of the two workloads is
  allowed; when only some are, the port carries ``(n/m pod pairs)`` so a partly blocked
  workload is never shown as open.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from podnet.analyze.matrix import Matrix
from podnet.model.objects import Pod

LEVELS = ("pod", "workload")


@dataclass(frozen=True)
class Endpoint:
    """A pod, or a workload standing for its pods."""

    namespace: str
    name: str
    kind: str  # Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ...
    pods: tuple[str, ...]  # namespace/name of the pods, sorted

    @property
    def key(self) -> str:
        """``ns/name`` for a pod (as in -o json at pod level), ``ns/name[Kind]`` else."""
        base = f"{self.namespace}/{self.name}"
        return base if self.kind == "Pod" and self.pods == (base,) else f"{base}[{self.kind}]"


@dataclass(frozen=True)
class PortFlow:
    port: int
    protocol: str
    allowed_pairs: int
    pairs: int

    @property
    def label(self) -> str:
        """``TCP 80``, or ``TCP 80 (3/4 pod pairs)`` when only some pairs are allowed."""
        text = f"{self.protocol} {self.port}"
        if self.allowed_pairs < self.pairs:
            text += f" ({self.allowed_pairs}/{self.pairs} pod pairs)"
        return text


@dataclass(frozen=True)
class Flow:
    """Allowed traffic from one endpoint to another (at least one port)."""

    src: Endpoint
    dst: Endpoint
    ports: tuple[PortFlow, ...]

    @property
    def connection(self) -> str:
        return ",".join(p.label for p in self.ports)


def workload_of(pod: Pod) -> tuple[str, str]:
    """(Kind, name) of the workload ``pod`` belongs to; (``Pod``, its name) when none.

    A ReplicaSet named ``<deployment>-<pod-template-hash>`` stands for its Deployment,
    as kubectl's ``deploy/x`` does (the hash is the pod's ``pod-template-hash`` label,
    pkg/controller/deployment/sync.go)."""
    if not pod.owner or "/" not in pod.owner:
        return "Pod", pod.name
    kind, name = pod.owner.split("/", 1)
    h = pod.labels.get("pod-template-hash", "")
    if kind == "ReplicaSet" and h and name.endswith(f"-{h}"):
        return "Deployment", name[: -len(h) - 1]
    return kind, name


def endpoints(pods: Sequence[Pod], level: str) -> tuple[list[Endpoint], dict[str, int]]:
    """The endpoints at ``level`` (sorted by key) and the index of each pod's endpoint."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in pods:
        kind, name = ("Pod", p.name) if level == "pod" else workload_of(p)
        groups.setdefault((p.namespace, name, kind), []).append(p.key)
    eps = sorted(
        (
            Endpoint(ns, name, kind, tuple(sorted(keys)))
            for (ns, name, kind), keys in groups.items()
        ),
        key=lambda e: (e.namespace, e.name, e.kind),
    )
    index = {k: i for i, e in enumerate(eps) for k in e.pods}
    return eps, index


@dataclass(frozen=True)
class Cell:
    """One (source, destination, port) of the matrix at a level, allowed or not."""

    src: Endpoint
    dst: Endpoint
    port: PortFlow


def _order(e: Endpoint) -> tuple[str, str, str]:
    return (e.namespace, e.name, e.kind)


def cells(matrix: Matrix, level: str = "pod") -> tuple[list[Endpoint], list[Cell]]:
    """The endpoints at ``level`` and every (source, destination, port) with its pairs
    counted, sorted by source key, destination key, protocol, port.

    Verdicts come from the class bitsets (no reasons rendered), so this stays cheap
    where :meth:`Matrix.connections` would build a million reason strings."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: want one of {', '.join(LEVELS)}")
    eps, index = endpoints(matrix.pods, level)
    # (src endpoint, dst endpoint, port, proto) -> [allowed pairs, pairs]
    tally: dict[tuple[int, int, int, str], list[int]] = {}
    members = [(index[p.key], matrix.class_of[p.key]) for p in matrix.pods]
    for d, (de, di) in zip(matrix.pods, members, strict=True):
        ports = matrix.classes[di].ports
        for s, (se, si) in zip(matrix.pods, members, strict=True):
            if s is d:
                continue
            for port, proto in ports:
                cell = tally.setdefault((se, de, port, proto), [0, 0])
                cell[0] += matrix.allowed_from[(di, port, proto)] >> si & 1
                cell[1] += 1
    out = [
        Cell(eps[se], eps[de], PortFlow(port, proto, ok, n))
        for (se, de, port, proto), (ok, n) in tally.items()
    ]
    out.sort(key=lambda c: (_order(c.src), _order(c.dst), c.port.protocol, c.port.port))
    return eps, out


def flows(matrix: Matrix, level: str = "pod") -> Iterator[Flow]:
    """The allowed flows (a port listed when at least one pod pair is allowed), sorted by
    source then destination. Lazy: at pod level 1,000 pods are a million pairs, each
    looked up by class pair, never all held at once."""
    if level != "pod":
        last: Flow | None = None
        for c in cells(matrix, level)[1]:
            if not c.port.allowed_pairs:
                continue
            if last is not None and last.src is c.src and last.dst is c.dst:
                last = Flow(c.src, c.dst, (*last.ports, c.port))
            else:
                if last is not None:
                    yield last
                last = Flow(c.src, c.dst, (c.port,))
        if last is not None:
            yield last
        return
    eps, index = endpoints(matrix.pods, "pod")
    by_classes: dict[tuple[int, int], tuple[PortFlow, ...]] = {}
    order = sorted(matrix.pods, key=lambda p: (p.namespace, p.name))
    members = [(eps[index[p.key]], matrix.class_of[p.key]) for p in order]
    for s, (se, si) in zip(order, members, strict=True):
        for d, (de, di) in zip(order, members, strict=True):
            if s is d:
                continue
            ports = by_classes.get((si, di))
            if ports is None:
                ports = by_classes[(si, di)] = tuple(
                    PortFlow(port, proto, 1, 1)
                    for port, proto in sorted(matrix.classes[di].ports, key=lambda x: (x[1], x[0]))
                    if matrix.allowed_from[(di, port, proto)] >> si & 1
                )
            if ports:
                yield Flow(se, de, ports)


def write_csv(flow_iter: Iterable[Flow], out: TextIO) -> None:
    """netpol-analyzer's csv: a header, then ``from,to,connection`` per allowed flow."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["from", "to", "connection"])
    for f in flow_iter:
        w.writerow([f.src.key, f.dst.key, f.connection])


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_md(flow_iter: Iterable[Flow], out: TextIO) -> None:
    """netpol-analyzer's md: a GitHub table ``| from | to | connection |``."""
    out.write("| from | to | connection |\n|------|----|------------|\n")
    for f in flow_iter:
        out.write(f"| {_md_cell(f.src.key)} | {_md_cell(f.dst.key)} | {_md_cell(f.connection)} |\n")


def cell_dict(c: Cell) -> dict[str, object]:
    """A connection of ``analyze --level workload -o json``."""
    return {
        "from": c.src.key,
        "to": c.dst.key,
        "port": c.port.port,
        "protocol": c.port.protocol,
        "allowed": c.port.allowed_pairs == c.port.pairs,
        "allowed_pairs": c.port.allowed_pairs,
        "pairs": c.port.pairs,
    }


def endpoint_dict(e: Endpoint) -> dict[str, object]:
    return {
        "key": e.key,
        "namespace": e.namespace,
        "name": e.name,
        "kind": e.kind,
        "pods": list(e.pods),
    }


# kubectl -o name: resource/name with the group for grouped kinds (printers/name.go)
KUBECTL_RESOURCE = {
    "Pod": "pod",
    "Deployment": "deployment.apps",
    "StatefulSet": "statefulset.apps",
    "DaemonSet": "daemonset.apps",
    "ReplicaSet": "replicaset.apps",
    "ReplicationController": "replicationcontroller",
    "Job": "job.batch",
    "CronJob": "cronjob.batch",
}


def kubectl_name(e: Endpoint) -> str:
    """``pod/web``, ``deployment.apps/web``: as ``kubectl get -o name`` prints it."""
    return f"{KUBECTL_RESOURCE.get(e.kind, e.kind.lower())}/{e.name}"
