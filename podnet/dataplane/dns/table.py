"""The records file the cluster DNS pod serves, and a resolver over it (pure).

The DNS *decisions* belong to :mod:`podnet.control.dns.lookup` (``build_records`` and
``resolve``); the DNS pod is a separate process, so the orchestrator hands it the
records as a JSON file (written atomically, re-read on change or SIGHUP)::

    {"domain": "cluster.local",
     "pod_namespaces": ["default", "kube-system"],     # optional: pods insecure mode
     "rrs": [["my-service.default.svc.cluster.local", "A", 30, "10.96.0.20"], ...]}

``rrs`` is every record :func:`podnet.control.dns.lookup.build_records` made, flattened. This
module answers from such a table with the same NXDOMAIN/NODATA rules CoreDNS's
kubernetes plugin uses, so the pod answers as the in-process resolver would:

* a name with records of the asked type: NOERROR with them (CNAMEs chased in the table);
* a name that exists with other types only, or that is a parent of an existing name
  (an empty non-terminal such as ``svc.cluster.local``): NOERROR, no answer (NODATA)
  (RFC 8020 / CoreDNS ``plugin/kubernetes`` returning ``errNoItems`` -> NODATA);
* ``a-b-c-d.<namespace>.pod.<domain>`` for an existing namespace: an A record with that
  address, without checking a pod has it (CoreDNS ``pods insecure``, the default in
  kubeadm's Corefile);
* any other name in the zone: NXDOMAIN; a name outside the zone and the reverse zones
  is marked ``outside`` for the server to forward or refuse.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podnet.errors import (  # `X as X`: re-exported, defined in podnet.errors
    RecordsError as RecordsError,
)

REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


@dataclass(frozen=True)
class RR:
    name: str
    type: str
    ttl: int
    data: str


@dataclass(frozen=True)
class Answer:
    """Same shape as :class:`podnet.control.dns.lookup.DnsAnswer`."""

    rcode: str
    answers: tuple[RR, ...] = ()
    outside: bool = False


@dataclass(frozen=True)
class Table:
    domain: str
    by_name: Mapping[str, tuple[RR, ...]]
    names: frozenset[str]  # every owner name and every ancestor within the zone
    pod_namespaces: frozenset[str] = field(default_factory=frozenset)
    pod_ttl: int = 30


def canonical(name: str) -> str:
    return name.lower().rstrip(".")


def build_table(
    domain: str, rrs: Iterable[RR], pod_namespaces: Iterable[str] = (), pod_ttl: int = 30
) -> Table:
    domain = canonical(domain)
    by_name: dict[str, list[RR]] = {}
    names: set[str] = set()
    for rr in rrs:
        name = canonical(rr.name)
        by_name.setdefault(name, []).append(RR(name, rr.type.upper(), rr.ttl, rr.data))
        labels = name.split(".")
        for i in range(len(labels)):
            names.add(".".join(labels[i:]))
    return Table(
        domain,
        {k: tuple(v) for k, v in by_name.items()},
        frozenset(names),
        frozenset(pod_namespaces),
        pod_ttl,
    )


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _pod_a(table: Table, name: str) -> RR | None:
    suffix = f".pod.{table.domain}"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 2 or parts[1] not in table.pod_namespaces:
        return None
    try:
        ip = ipaddress.IPv4Address(parts[0].replace("-", "."))
    except ValueError:
        return None
    return RR(name, "A", table.pod_ttl, str(ip))


def resolve(table: Table, qname: str, qtype: str) -> Answer:
    """Answer ``qname``/``qtype`` from ``table`` (see the module docstring)."""
    name, qtype = canonical(qname), qtype.upper()
    if not in_zone(name, table.domain) and not any(in_zone(name, z) for z in REVERSE_ZONES):
        return Answer("REFUSED", outside=True)
    out: list[RR] = []
    for _ in range(8):  # CNAME chain bound
        rrs = table.by_name.get(name, ())
        hits = tuple(r for r in rrs if r.type == qtype or qtype == "ANY")
        if hits:
            return Answer("NOERROR", (*out, *hits))
        cname = next((r for r in rrs if r.type == "CNAME"), None)
        if cname is None:
            break
        out.append(cname)
        name = canonical(cname.data)
    if out:
        return Answer("NOERROR", tuple(out))
    pod = _pod_a(table, name)
    if pod is not None:
        return Answer("NOERROR", (pod,) if qtype in ("A", "ANY") else ())
    if name in table.names or name in (f"pod.{table.domain}", f"svc.{table.domain}"):
        return Answer("NOERROR")
    return Answer("NXDOMAIN")


def table_from_json(doc: Any) -> Table:
    try:
        rrs = [RR(str(n), str(t), int(ttl), str(d)) for n, t, ttl, d in doc["rrs"]]
        return build_table(
            str(doc.get("domain", "cluster.local")),
            rrs,
            [str(ns) for ns in doc.get("pod_namespaces", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RecordsError(f"bad DNS records document: {e}") from e


def load(path: Path) -> Table:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RecordsError(f"cannot read DNS records {path}: {e}") from e
    return table_from_json(doc)


def to_json(domain: str, rrs: Iterable[Any], pod_namespaces: Iterable[str] = ()) -> str:
    """The records document for ``rrs`` (anything with name/type/ttl/data)."""
    rows = sorted((r.name, r.type, int(r.ttl), r.data) for r in rrs)
    doc = {"domain": domain, "pod_namespaces": sorted(pod_namespaces), "rrs": rows}
    return json.dumps(doc, indent=1)


def write_atomic(path: Path, text: str) -> None:
    """Write via rename, so a reloading server never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
