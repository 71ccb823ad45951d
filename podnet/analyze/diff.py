"""``podnet diff``: which connections and endpoints a change of manifests opens or closes.

Pods are matched across the two clusters by ``namespace/name`` (their IPs may differ:
IPs are allocated from the set of pods), and a workload's renamed pods by owner
(:func:`match_pods`); connections are listed under the new names. A connection is an
ordered pair of distinct pods plus a port the destination serves
(:mod:`podnet.control.served`, the same ports the connectivity matrix probes); it is
*opened* when the new manifests allow it and the old did not (including a port the
destination newly serves), *closed* the other way. Connections of pods that exist on
one side only are not listed pair by pair - the pod itself is listed as added or removed.
Each change carries both verdicts' reasons, and which cluster policy (AdminNetworkPolicy,
BaselineAdminNetworkPolicy, ClusterNetworkPolicy) denied it, so adding, removing or
editing one lists the policy and what it closes or opens.

The verdicts come from :func:`podnet.analyze.matrix.compute_matrix`, whose allowed
sources per (destination class, port) are bitsets, so this stays fast for large
Deployments: sets of source pods are built once per class and port, not per pod.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.model.cluster import ClusterState


@dataclass(frozen=True)
class ConnectionChange:
    src: str
    dst: str
    port: int
    protocol: str
    opened: bool
    reason: str  # the new verdict's reason
    was: str = ""  # the old verdict's reason: what the change undid or replaced
    denied_by: str = ""  # the cluster policy (Kind/name) whose rule denies on the denied side


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
    # the cluster admin's policies by Kind/name; "changed": same name, other spec
    cluster_policies_added: tuple[str, ...] = ()
    cluster_policies_removed: tuple[str, ...] = ()
    cluster_policies_changed: tuple[str, ...] = ()

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
                self.cluster_policies_added,
                self.cluster_policies_removed,
                self.cluster_policies_changed,
            )
        )

    def closes_and_opens(self, policy: str) -> tuple[int, int]:
        """How many listed connections ``policy``'s rules close and open (see denied_by)."""
        closed = sum(1 for c in self.closed if c.denied_by == policy)
        opened = sum(1 for c in self.opened if c.denied_by == policy)
        return closed, opened

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


def _endpoint_sets(
    state: ClusterState, rename: dict[str, str] | None = None
) -> dict[tuple[str, str], set[str]]:
    """``(service, port name) -> {"pod:port"}``, old pods renamed to their new names."""
    ren = rename or {}
    out: dict[tuple[str, str], set[str]] = {}
    for svc, by_port in state.endpoints.items():
        for name, eps in by_port.items():
            out[(svc, name)] = {f"{ren.get(e.pod, e.pod)}:{e.port}" for e in eps}
    return out


def _endpoint_changes(
    old: ClusterState, new: ClusterState, match: dict[str, str]
) -> tuple[EndpointChange, ...]:
    a, b = _endpoint_sets(old, match), _endpoint_sets(new)
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
    """Why each change happened: the new verdict, the old one, and the cluster policy
    whose rule denies on the denied side (new for a closed connection, old for an
    opened one), so a change of the cluster admin's policies shows what it closes or
    opens."""

    def __init__(self, old: Matrix, ao: _Allowed, new: Matrix, an: _Allowed) -> None:
        self.sides = ((old, ao), (new, an))
        self.by_key = [{p.key: p for c in m.classes for p in c.pods} for m in (old, new)]

    def verdict(self, side: int, src: str, dst: str, c: ConnectionChange) -> tuple[str, str]:
        """(reason, denying cluster policy) on one side (0 old, 1 new)."""
        m, allowed = self.sides[side]
        if (c.port, c.protocol) not in allowed.ports(dst):
            word = "did not serve" if side == 0 else "no longer serves"
            return f"{dst} {word} {c.port}/{c.protocol}", ""
        s, d = self.by_key[side][src], self.by_key[side][dst]
        v = m.verdict(s, d, c.port, c.protocol)
        denying = v.egress if not v.egress.allowed else v.ingress
        rule = None if v.allowed else denying.decided_by
        return v.reason, rule.policy if rule is not None else ""

    def __call__(self, c: ConnectionChange, back: dict[str, str]) -> ConnectionChange:
        reason, new_by = self.verdict(1, c.src, c.dst, c)
        was, old_by = self.verdict(0, back[c.src], back[c.dst], c)
        return replace(c, reason=reason, was=was, denied_by=old_by if c.opened else new_by)


def match_pods(old: ClusterState, new: ClusterState) -> dict[str, str]:
    """Old pod key -> new pod key for the pods that are "the same pod" on both sides.

    By ``namespace/name`` first. A Deployment whose template changed gets a new
    pod-template-hash, so every pod name changes though the workload is the same; the
    leftover pods of one workload (same namespace and owner) are then paired in name
    order, so the diff shows what the change does rather than N pods replaced.
    """
    new_keys = {p.key for p in new.pods}
    match = {p.key: p.key for p in old.pods if p.key in new_keys}
    left_old: dict[tuple[str, str], list[str]] = {}
    left_new: dict[tuple[str, str], list[str]] = {}
    for pods, acc in ((old.pods, left_old), (new.pods, left_new)):
        for p in pods:
            if p.owner and p.key not in match and p.key not in match.values():
                acc.setdefault((p.namespace, p.owner), []).append(p.key)
    for owner, keys in left_old.items():
        for a, b in zip(sorted(keys), sorted(left_new.get(owner, [])), strict=False):
            match[a] = b
    return match


def compute_diff(old: ClusterState, new: ClusterState) -> Diff:
    mo, mn = compute_matrix(old), compute_matrix(new)
    ao, an = _Allowed(mo), _Allowed(mn)
    match = {a: b for a, b in match_pods(old, new).items() if a in mo.class_of and b in mn.class_of}
    back = {b: a for a, b in match.items()}
    matched_new = set(back)
    changes: list[ConnectionChange] = []
    for dst in sorted(matched_new):
        odst = back[dst]
        for port, proto in sorted(set(ao.ports(odst)) | set(an.ports(dst))):
            before = {match[s] for s in ao.sources(odst, port, proto) if s in match}
            after = an.sources(dst, port, proto) & matched_new
            for src in sorted(after - before):
                if src != dst:
                    changes.append(ConnectionChange(src, dst, port, proto, True, ""))
            for src in sorted(before - after):
                if src != dst:
                    changes.append(ConnectionChange(src, dst, port, proto, False, ""))
    why = _Reasons(mo, ao, mn, an)
    changes.sort(key=lambda c: (not c.opened, c.src, c.dst, c.port, c.protocol))
    with_reasons = tuple(why(c, back) for c in changes)
    cp_old = {p.key: replace(p, meta=None) for p in old.cluster_policies}
    cp_new = {p.key: replace(p, meta=None) for p in new.cluster_policies}
    svc_old = {s.key for s in old.services}
    svc_new = {s.key for s in new.services}
    all_match = match_pods(old, new)
    return Diff(
        connections=with_reasons,
        endpoints=_endpoint_changes(old, new, all_match),
        pods_added=tuple(sorted({p.key for p in new.pods} - set(all_match.values()))),
        pods_removed=tuple(sorted({p.key for p in old.pods} - set(all_match))),
        services_added=tuple(sorted(svc_new - svc_old)),
        services_removed=tuple(sorted(svc_old - svc_new)),
        cluster_policies_added=tuple(sorted(set(cp_new) - set(cp_old))),
        cluster_policies_removed=tuple(sorted(set(cp_old) - set(cp_new))),
        cluster_policies_changed=tuple(
            sorted(k for k in set(cp_old) & set(cp_new) if cp_old[k] != cp_new[k])
        ),
    )
