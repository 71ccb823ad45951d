"""Service ClusterIP and NodePort allocation, held in memory and rebuilt from the stored
Services when the registry starts (so no second copy of the truth is persisted).

Upstream: ``pkg/registry/core/service/ipallocator`` (random free address; since KEP-3070
dynamic allocation prefers the upper band, leaving the first ``min(max(16, size/16),
256)`` addresses to static requests such as 10.96.0.1 and kube-dns' 10.96.0.10) and
``portallocator`` (random free port in 30000-32767). The messages are upstream's, so a
clash reads ``failed to allocate IP 10.96.0.5: provided IP is already allocated``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import random
import threading
from collections.abc import Iterable
from typing import Any

from podnet.apiserver.errors import ApiError, invalid
from podnet.model.cluster import SERVICE_CIDR

Obj = dict[str, Any]
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767


def _invalid(name: str, field: str, message: str) -> ApiError:
    return invalid("", "Service", name, [("FieldValueInvalid", field, message)])


class ClusterIPAllocator:
    def __init__(self, cidr: str = SERVICE_CIDR, rng: random.Random | None = None) -> None:
        net = ipaddress.ip_network(cidr)
        self.cidr = net
        self._first = int(net.network_address) + 1
        self._last = int(net.broadcast_address) - 1
        size = self._last - self._first + 1
        self._static_end = self._first + min(max(16, size // 16), 256)  # exclusive
        self._used: set[int] = set()
        self._rng = rng or random.Random()

    def allocate(self, requested: str | None) -> str:
        """The requested address if free and in range, else a random free one."""
        if requested is not None:
            try:
                addr = int(ipaddress.ip_address(requested))
            except ValueError:
                raise ValueError(f"failed to allocate IP {requested}: not an IP") from None
            if not self._first <= addr <= self._last:
                raise ValueError(
                    f"failed to allocate IP {requested}: provided IP is not in the valid "
                    f"range. The range of valid IPs is {self.cidr}"
                )
            if addr in self._used:
                raise ValueError(
                    f"failed to allocate IP {requested}: provided IP is already allocated"
                )
            self._used.add(addr)
            return requested
        for lo, hi in ((self._static_end, self._last), (self._first, self._static_end - 1)):
            free = _random_free(self._rng, lo, hi, self._used)
            if free is not None:
                self._used.add(free)
                return str(ipaddress.ip_address(free))
        raise ValueError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str) -> None:
        with contextlib.suppress(ValueError):
            self._used.discard(int(ipaddress.ip_address(ip)))

    def used(self) -> int:
        return len(self._used)


class NodePortAllocator:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._used: set[int] = set()
        self._rng = rng or random.Random()

    def allocate(self, requested: int | None) -> int:
        if requested is not None:
            if not NODE_PORT_MIN <= requested <= NODE_PORT_MAX:
                raise ValueError(
                    "provided port is not in the valid range. The range of valid ports "
                    f"is {NODE_PORT_MIN}-{NODE_PORT_MAX}"
                )
            if requested in self._used:
                raise ValueError("provided port is already allocated")
            self._used.add(requested)
            return requested
        port = _random_free(self._rng, NODE_PORT_MIN, NODE_PORT_MAX, self._used)
        if port is None:
            raise ValueError("range is full")
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        self._used.discard(port)


def _random_free(rng: random.Random, lo: int, hi: int, used: set[int]) -> int | None:
    """A random free value in [lo, hi]: random probes, then a scan from a random start."""
    if hi < lo:
        return None
    for _ in range(32):
        v = rng.randint(lo, hi)
        if v not in used:
            return v
    start = rng.randint(lo, hi)
    for v in itertools.chain(range(start, hi + 1), range(lo, start)):
        if v not in used:
            return int(v)
    return None


def _has_ip(spec: Obj) -> bool:
    return spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None"


def _node_ports(spec: Obj) -> list[int]:
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return []
    ports: list[Any] = spec["ports"] if isinstance(spec.get("ports"), list) else []
    return [p["nodePort"] for p in ports if isinstance(p, dict) and p.get("nodePort")]


class ServiceAllocators:
    """Both allocators and the per-Service bookkeeping (thread-safe)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.ips = ClusterIPAllocator(rng=rng)
        self.ports = NodePortAllocator(rng=rng)
        self._lock = threading.Lock()

    def rebuild(self, services: Iterable[Obj]) -> None:
        """Mark what the stored Services hold (the registry's start)."""
        with self._lock:
            for svc in services:
                spec = svc.get("spec") or {}
                for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                    if isinstance(ip, str) and ip not in ("", "None"):
                        self.ips._used.add(int(ipaddress.ip_address(ip)))
                self.ports._used.update(_node_ports(spec))

    def allocate(self, svc: Obj, old: Obj | None = None) -> None:
        """Fill ``spec.clusterIP(s)`` and each ``nodePort`` of ``svc`` (in place), keeping
        what ``old`` (the stored version, on update) holds; releases what ``old`` held and
        ``svc`` no longer does. All or nothing: on a 422 nothing stays allocated."""
        name = (svc.get("metadata") or {}).get("name", "")
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        taken_ips: list[str] = []
        taken_ports: list[int] = []
        with self._lock:
            try:
                self._allocate(name, spec, old_spec, taken_ips, taken_ports)
            except ApiError:
                for ip in taken_ips:
                    self.ips.release(ip)
                for port in taken_ports:
                    self.ports.release(port)
                raise
            if old is not None:
                self._release_unused(old_spec, spec)

    def _allocate(
        self, name: str, spec: Obj, old_spec: Obj, taken_ips: list[str], taken_ports: list[int]
    ) -> None:
        if _has_ip(spec):
            old_ip = old_spec.get("clusterIP") if _has_ip(old_spec) else None
            want = spec.get("clusterIP") or None
            if old_ip and want in (None, old_ip):
                spec["clusterIP"] = old_ip
            else:
                try:
                    ip = self.ips.allocate(want)
                except ValueError as e:
                    shown = json.dumps([want] if want else [])
                    raise _invalid(
                        name, "spec.clusterIPs", f"Invalid value: {shown}: {e}"
                    ) from None
                taken_ips.append(ip)
                spec["clusterIP"] = ip
            spec["clusterIPs"] = [spec["clusterIP"]]
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        held = set(_node_ports(old_spec))
        # A PUT that leaves nodePort out keeps the stored one of the same port
        # (service/storage/storage.go patchAllocatedValues).
        old_ports = old_spec.get("ports") if held else None
        by_port = {
            (p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
            for p in (old_ports if isinstance(old_ports, list) else [])
            if isinstance(p, dict) and p.get("nodePort")
        }
        ports: list[Any] = spec["ports"] if isinstance(spec.get("ports"), list) else []
        used_here: set[int] = set()
        for i, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            want_port = port.get("nodePort") or None
            if want_port is None:
                kept = by_port.get((port.get("port"), port.get("protocol", "TCP")))
                if kept is not None and kept not in used_here:
                    want_port = port["nodePort"] = kept
            if want_port is not None and want_port in held and want_port not in used_here:
                used_here.add(want_port)
                continue  # kept from the stored version
            try:
                got = self.ports.allocate(want_port)
            except ValueError as e:
                msg = (
                    f"Invalid value: {want_port}: {e}"
                    if want_port
                    else f"failed to allocate a nodePort: {e}"
                )
                raise _invalid(name, f"spec.ports[{i}].nodePort", msg) from None
            taken_ports.append(got)
            port["nodePort"] = got

    def _release_unused(self, old_spec: Obj, spec: Obj) -> None:
        old_ip = old_spec.get("clusterIP") if _has_ip(old_spec) else None
        if old_ip and old_ip != (spec.get("clusterIP") if _has_ip(spec) else None):
            self.ips.release(old_ip)
        for port in set(_node_ports(old_spec)) - set(_node_ports(spec)):
            self.ports.release(port)

    def release(self, svc: Obj) -> None:
        """Give back what a deleted Service held (or a create that was not stored)."""
        spec = svc.get("spec") or {}
        with self._lock:
            if _has_ip(spec) and spec.get("clusterIP"):
                self.ips.release(spec["clusterIP"])
            for port in _node_ports(spec):
                self.ports.release(port)

    def restore(self, svc: Obj, old: Obj | None) -> None:
        """Undo :meth:`allocate` (a failed or dry-run write): give back what ``svc``
        holds, then take again what ``old`` held."""
        self.release(svc)
        if old is not None:
            self.rebuild([old])
