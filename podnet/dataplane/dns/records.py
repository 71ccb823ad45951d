"""The DNS pod's records file: :class:`podnet.control.dns.DnsRecords` as JSON, and back.

The DNS pod is its own process, so the orchestrator cannot hand it objects: it writes
this file (atomically) and the pod re-reads it on change or SIGHUP. Loading rebuilds
the very same ``DnsRecords`` index, so the pod answers through
:func:`podnet.control.dns.resolve` like everything else. Format::

    {"format": "podnet.control.dns/1", "domain": "cluster.local", "ttl": 30,
     "namespaces": [...], "empty_nonterminals": [...],
     "rrs": [["my-service.default.svc.cluster.local.", "A", 30, "10.96.0.20"], ...]}
"""

from __future__ import annotations

import json
from pathlib import Path

from podnet.control.dns import RR, DnsRecords
from podnet.control.dns.records import canonical
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


def from_json(doc: object) -> DnsRecords:
    """The ``DnsRecords`` a parsed document describes; :class:`RecordsError` if malformed."""
    if not isinstance(doc, dict):
        raise RecordsError(f"bad DNS records document: a JSON object expected, got {doc!r:.40}")
    if doc.get("format") != FORMAT:
        raise RecordsError(f"unknown DNS records format {doc.get('format')!r} (want {FORMAT!r})")
    try:
        rrsets: dict[str, dict[str, list[RR]]] = {}
        for name, rtype, ttl, data in doc["rrs"]:
            rr = RR(str(name), str(rtype), int(ttl), str(data))
            rrsets.setdefault(canonical(rr.name), {}).setdefault(rr.type, []).append(rr)
        return DnsRecords(
            domain=canonical(str(doc["domain"])),
            ttl=int(doc["ttl"]),
            rrsets={n: {t: tuple(v) for t, v in ts.items()} for n, ts in rrsets.items()},
            empty_nonterminals=frozenset(str(n) for n in doc["empty_nonterminals"]),
            namespaces=frozenset(str(n) for n in doc["namespaces"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RecordsError(f"bad DNS records document: {e!r}") from e


def load(path: Path) -> DnsRecords:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RecordsError(f"cannot read DNS records {path}: {e}") from e
    try:
        return from_json(doc)
    except RecordsError as e:
        raise RecordsError(f"{path}: {e}") from e


def write(path: Path, records: DnsRecords) -> None:
    """Write ``records`` for the DNS pod."""
    write_atomic(path, to_json(records))


def write_atomic(path: Path, text: str) -> None:
    """Write via rename, so a reloading server never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
