"""Resolve a name the way a container's stub resolver does, keeping every step.

A pod's ``/etc/resolv.conf`` under the default ``dnsPolicy: ClusterFirst`` is
(https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-config)::

    nameserver 10.96.0.10
    search <namespace>.svc.cluster.local svc.cluster.local cluster.local
    options ndots:5

glibc's resolver (resolv.conf(5), ``ndots``): a name ending in ``.`` is absolute and
asked once; a name with at least ``ndots`` dots is asked as is first, then with each
search domain; any other name is tried with each search domain first and as is last.
The first positive answer wins; NXDOMAIN and NODATA move on to the next candidate.

Names outside ``cluster.local`` are forwarded upstream by the cluster DNS; podnet has
no upstream, so they are reported as "outside the cluster" rather than as a verdict.
The answers themselves come from :mod:`podnet.control.dns.lookup` (shared with the live DNS
server, STYLE.md principle 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from podnet.control.dns import lookup as dns
from podnet.model.cluster import CLUSTER_DOMAIN, ClusterState

NDOTS = 5


@dataclass(frozen=True)
class Record:
    name: str
    type: str  # A, AAAA, CNAME, SRV, PTR
    data: str


@dataclass(frozen=True)
class Query:
    """One question the stub resolver asked, and what came back."""

    qname: str  # absolute, with the trailing dot
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, ... or UPSTREAM (outside the cluster)
    answers: tuple[Record, ...]

    @property
    def positive(self) -> bool:
        return self.rcode == "NOERROR" and bool(self.answers)


@dataclass(frozen=True)
class Lookup:
    """The whole lookup of ``name`` from a pod in ``namespace``."""

    name: str
    namespace: str
    queries: tuple[Query, ...]

    @property
    def answer(self) -> Query | None:
        """The query that produced the answer, None when the name did not resolve."""
        return next((q for q in self.queries if q.positive), None)

    @property
    def addresses(self) -> tuple[str, ...]:
        a = self.answer
        return tuple(r.data for r in a.answers if r.type == "A") if a else ()

    @property
    def cname(self) -> str | None:
        a = self.answer
        if a is None:
            return None
        return next((r.data for r in a.answers if r.type == "CNAME"), None)

    @property
    def went_upstream(self) -> bool:
        return any(q.rcode == "UPSTREAM" for q in self.queries)


QueryFn = Callable[[str], tuple[str, tuple[Record, ...]]]


def search_list(namespace: str) -> tuple[str, ...]:
    return (
        f"{namespace}.svc.{CLUSTER_DOMAIN}",
        f"svc.{CLUSTER_DOMAIN}",
        CLUSTER_DOMAIN,
    )


def candidates(name: str, namespace: str, ndots: int = NDOTS) -> tuple[str, ...]:
    """The absolute names the resolver tries, in order."""
    if name.endswith("."):
        return (name,)
    searched = tuple(f"{name}.{domain}." for domain in search_list(namespace))
    if name.count(".") >= ndots:
        return (f"{name}.", *searched)
    return (*searched, f"{name}.")


def in_cluster_zone(qname: str) -> bool:
    q = qname.rstrip(".").lower()
    return q == CLUSTER_DOMAIN or q.endswith("." + CLUSTER_DOMAIN)


def lookup(name: str, namespace: str, query: QueryFn) -> Lookup:
    """Resolve ``name`` from a pod in ``namespace``; ``query`` answers one qname (A)."""
    asked: list[Query] = []
    for qname in candidates(name, namespace):
        if not in_cluster_zone(qname):
            asked.append(Query(qname, "UPSTREAM", ()))
            continue
        rcode, answers = query(qname)
        asked.append(Query(qname, rcode, answers))
        if asked[-1].positive:
            break
    return Lookup(name, namespace, tuple(asked))


def cluster_query(state: ClusterState) -> QueryFn:
    """A :data:`QueryFn` over the cluster DNS records of ``state``."""
    records = dns.build_records(state)

    def query(qname: str) -> tuple[str, tuple[Record, ...]]:
        ans = dns.resolve(records, qname, "A")
        rrs = tuple(Record(rr.name, rr.type, str(rr.data)) for rr in ans.answers)
        return str(ans.rcode), rrs

    return query
