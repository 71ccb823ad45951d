"""The DNS pod's records file: :class:`podnet.control.dns.lookup.DnsRecords` as JSON, and back.

The DNS pod is its own process inside the cluster, so the orchestrator cannot hand it
objects; it writes this file (atomically) and the pod re-reads it on change or SIGHUP.
Loading rebuilds the very same ``DnsRecords`` index, so the pod answers through
:func:`podnet.control.dns.lookup.resolve` - the one DNS decision function that ``explain``,
lint and the tests use too (STYLE.md principle 6). Format::

    {"format": "podnet.control.dns/1", "domain": "cluster.local", "ttl": 30,
     "namespaces": [...], "empty_nonterminals": [...],
     "rrs": [["my-service.default.svc.cluster.local.", "A", 30, "10.96.0.20"], ...]}

A document without ``format`` is the simpler stand-in table of
:mod:`podnet.dataplane.dns.table` (used by the benchmark and early tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podnet.control.dns.lookup import RR, DnsAnswer, DnsRecords, resolve
from podnet.dataplane.dns import table
from podnet.dataplane.dns.wire import AnswerLike
from podnet.errors import RecordsError

FORMAT = "podnet.control.dns/1"


def to_json(records: DnsRecords) -> str:
    doc = {
        "format": FORMAT,
        "domain": records.domain,
        "ttl": records.ttl,
        "namespaces": sorted(records.namespaces),
        "empty_nonterminals": sorted(records.empty_nonterminals),
        "rrs": [list(rr) for rr in records.all_rrs()],
    }
    return json.dumps(doc, separators=(",", ":"))


def from_json(doc: Any) -> DnsRecords:
    try:
        rrsets: dict[str, dict[str, list[RR]]] = {}
        for name, rtype, ttl, data in doc["rrs"]:
            rr = RR(str(name), str(rtype), int(ttl), str(data))
            key = rr.name.rstrip(".").lower()
            rrsets.setdefault(key, {}).setdefault(rr.type, []).append(rr)
        return DnsRecords(
            domain=str(doc["domain"]),
            ttl=int(doc["ttl"]),
            rrsets={n: {t: tuple(v) for t, v in ts.items()} for n, ts in rrsets.items()},
            empty_nonterminals=frozenset(str(n) for n in doc["empty_nonterminals"]),
            namespaces=frozenset(str(n) for n in doc["namespaces"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RecordsError(f"bad DNS records document: {e}") from e


def write(path: Path, records: DnsRecords) -> None:
    """Write ``records`` for the DNS pod (rename: a reader never sees half a file)."""
    table.write_atomic(path, to_json(records))


def resolve_any(records: Any, qname: str, qtype: str) -> AnswerLike:
    """Resolve with whichever resolver fits ``records`` (control.dns or the table)."""
    if isinstance(records, DnsRecords):
        answer: DnsAnswer = resolve(records, qname, qtype)
        return answer
    return table.resolve(records, qname, qtype)


def load(path: Path) -> DnsRecords | table.Table:
    """Either format, by the ``format`` key."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RecordsError(f"cannot read DNS records {path}: {e}") from e
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return from_json(doc)
    if isinstance(doc, dict) and "format" in doc:
        raise RecordsError(f"{path}: unknown records format {doc['format']!r}")
    return table.table_from_json(doc)
