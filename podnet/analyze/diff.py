"""``podnet diff``: which connections and endpoints a change of manifests opens or closes.

Pods are matched across the two clusters by ``namespace/name`` (their IPs may differ:
IPs are allocated from the set of pods). A connection is an ordered pair of distinct
pods plus a port the destination serves (:mod:`podnet.analyze.served`, the same ports
the connectivity matrix probes); it is *opened* when the new manifests allow it and the
old did not (including a port the destination newly serves), *closed* the other way.
Connections of pods that exist on one side only are not listed pair by pair - the pod
itself is listed as added or removed.

The verdicts come from :func:`podnet.analyze.matrix.compute_matrix`, whose allowed
sources per (destination class, port) are bitsets, so this stays fast for large
Deployments: sets of source pods are built once per class and port, not per pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.model.cluster import ClusterState


@dataclass(frozen=True)
class ConnectionChange:
    src: str
    dst: str
    port: int
    protocol: str
    opened: bool
    reason: str  # the verdict's reason on the side where it is allowed


@dataclass(frozen=True)
class EndpointChange:
    service: str  # namespace/name
    port_name: str
    added: tuple[str, ...]  # "ns/pod:port"
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Diff:
    connections: tuple[ConnectionChange, ...]
    endpoints: tuple[EndpointChange, ...]
    pods_added: tuple[str, ...]
    pods_removed: tuple[str, ...]
    services_added: tuple[str, ...]
    services_removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return any(
            (
                self.connections,
                self.endpoints,
                self.pods_added,
                self.pods_removed,
                self.services_added,
                self.services_removed,
            )
        )

    @property
    def opened(self) -> tuple[ConnectionChange, ...]:
        return tuple(c for c in self.connections if c.opened)

    @property
    def closed(self) -> tuple[ConnectionChange, ...]:
        return tuple(c for c in self.connections if not c.opened)


class _Allowed:
    """``sources(dst_key, port, proto)``: keys of pods allowed to connect, memoised per class."""

    def __init__(self, m: Matrix) -> None:
        self.m = m
        self._cache: dict[tuple[int, int, str], frozenset[str]] = {}

    def ports(self, dst: str) -> tuple[tuple[int, str], ...]:
        ci = self.m.class_of.get(dst)
        return () if ci is None else self.m.classes[ci].ports

    def sources(self, dst: str, port: int, proto: str) -> frozenset[str]:
        ci = self.m.class_of.get(dst)
        if ci is None:
            return frozenset()
        key = (ci, port, proto)
        got = self._cache.get(key)
        if got is None:
            bits = self.m.allowed_from.get(key, 0)
            got = frozenset(p.key for c in self.m.classes if bits >> c.index & 1 for p in c.pods)
            self._cache[key] = got
        return got


def _endpoint_sets(state: ClusterState) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for svc, by_port in state.endpoints.items():
        for name, eps in by_port.items():
            out[(svc, name)] = {f"{e.pod}:{e.port}" for e in eps}
    return out


def _endpoint_changes(old: ClusterState, new: ClusterState) -> tuple[EndpointChange, ...]:
    a, b = _endpoint_sets(old), _endpoint_sets(new)
    out = []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, set()), b.get(key, set())
        if before != after:
            out.append(
                EndpointChange(
                    key[0], key[1], tuple(sorted(after - before)), tuple(sorted(before - after))
                )
            )
    return tuple(out)


class _Reasons:
    """Why each change happened, in the words of the *new* verdict (memoised per class)."""

    def __init__(self, new: Matrix, an: _Allowed) -> None:
        self.m = new
        self.an = an
        self.by_key = {p.key: p for c in new.classes for p in c.pods}

    def __call__(self, c: ConnectionChange) -> str:
        if (c.port, c.protocol) not in self.an.ports(c.dst):
            return f"{c.dst} no longer serves {c.port}/{c.protocol}"
        src, dst = self.by_key[c.src], self.by_key[c.dst]
        return self.m.verdict(src, dst, c.port, c.protocol).reason


def compute_diff(old: ClusterState, new: ClusterState) -> Diff:
    mo, mn = compute_matrix(old), compute_matrix(new)
    ao, an = _Allowed(mo), _Allowed(mn)
    old_keys, new_keys = set(mo.class_of), set(mn.class_of)
    common = sorted(old_keys & new_keys)
    changes: list[ConnectionChange] = []
    for dst in common:
        for port, proto in sorted(set(ao.ports(dst)) | set(an.ports(dst))):
            before = ao.sources(dst, port, proto) & new_keys
            after = an.sources(dst, port, proto) & old_keys
            for src in sorted(after - before):
                if src != dst:
                    changes.append(ConnectionChange(src, dst, port, proto, True, ""))
            for src in sorted(before - after):
                if src != dst:
                    changes.append(ConnectionChange(src, dst, port, proto, False, ""))
    why = _Reasons(mn, an)
    changes.sort(key=lambda c: (not c.opened, c.src, c.dst, c.port, c.protocol))
    with_reasons = tuple(
        ConnectionChange(c.src, c.dst, c.port, c.protocol, c.opened, why(c)) for c in changes
    )
    svc_old = {s.key for s in old.services}
    svc_new = {s.key for s in new.services}
    return Diff(
        connections=with_reasons,
        endpoints=_endpoint_changes(old, new),
        pods_added=tuple(sorted({p.key for p in new.pods} - {p.key for p in old.pods})),
        pods_removed=tuple(sorted({p.key for p in old.pods} - {p.key for p in new.pods})),
        services_added=tuple(sorted(svc_new - svc_old)),
        services_removed=tuple(sorted(svc_old - svc_new)),
    )
