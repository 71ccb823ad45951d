"""Cluster DNS as pure data: the records a cluster serves and the one answer function.

``build_records`` indexes a :class:`~podnet.model.cluster.ClusterState` once;
``resolve`` answers a question from that index, as CoreDNS's kubernetes plugin does.
The DNS pod (:mod:`podnet.dataplane.dns`), ``explain`` and lint all answer through it.
"""

from podnet.control.dns.lookup import DnsAnswer, Rcode, resolve
from podnet.control.dns.records import RR, DnsRecords, build_records, empty_records

__all__ = ["RR", "DnsAnswer", "DnsRecords", "Rcode", "build_records", "empty_records", "resolve"]
