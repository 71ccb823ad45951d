"""The Node objects of podnet's nodes: node-0 .. node-(N-1), as each node's kubelet
registers itself (pkg/kubelet/kubelet_node_status.go initialNode / setNodeStatus).

podnet's nodes are network namespaces it creates itself, so this controller creates
their Node objects at start and again if one is deleted (a kubelet re-registers); the
kubelet may refresh the Ready heartbeat. Names, pod CIDRs and addresses are
:func:`podnet.control.scheduler.make_nodes`', the ones the data plane uses.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.control.scheduler import HOSTNAME_LABEL, MAX_PODS, OS_LABEL, make_nodes
from podnet.controllers.base import Controller, rfc3339

NODES: Resource = by_kind("", "Node")  # type: ignore[assignment]
LEASES: Resource = by_kind("coordination.k8s.io", "Lease")  # type: ignore[assignment]
LEASE_NAMESPACE = "kube-node-lease"
# kubelet's --node-lease-duration-seconds default, renewed every quarter of it
# (pkg/kubelet/kubelet.go: renewInterval = leaseDuration * 0.25)
LEASE_DURATION = 40
LEASE_RENEW = LEASE_DURATION * 0.25
_LEASE_KEY = "lease/"
KUBELET_VERSION = "v1.37.0"
ARCH_LABEL = "kubernetes.io/arch"
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def binary_si(count: int) -> str:
    """A byte count as resource.NewQuantity(n, BinarySI) prints it: the largest power
    of 1024 that divides it exactly (apimachinery pkg/api/resource quantity.go)."""
    suffix = 0
    while count and count % 1024 == 0 and suffix < len(_BINARY) - 1:
        count //= 1024
        suffix += 1
    return f"{count}{_BINARY[suffix]}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class HostInfo:
    """What kubelet reads of its machine (cadvisor's MachineInfo and VersionInfo),
    which every podnet node shares: they are namespaces of this one machine."""

    arch: str
    cpu: str
    memory: str
    ephemeral_storage: str
    hugepages: dict[str, str]
    machine_id: str
    system_uuid: str
    boot_id: str
    os_image: str


def host_info(root_dir: str = "/") -> HostInfo:
    """This machine, as kubelet's setNodeStatusMachineInfo and setNodeStatusVersionInfo
    report it (pkg/kubelet/nodestatus/setters.go) from cadvisor (machine/info.go,
    machine/machine.go): memory is MemTotal, ephemeral-storage the size of the filesystem
    holding kubelet's root dir (``root_dir``: kubelet's default /var/lib/kubelet lives on
    the root filesystem), hugepages-<size> per page size the kernel offers, machine-id
    from /etc/machine-id (or dbus's), the DMI product UUID (readable by root only, else
    empty as cadvisor leaves it), the boot id, and the OS image from /etc/os-release's
    PRETTY_NAME (cadvisor getContainerOsVersion)."""
    arch = _GO_ARCH.get(platform.machine(), platform.machine() or "amd64")
    memory = "0"
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory = binary_si(int(line.split()[1]) * 1024)
            break
    try:
        fs = os.statvfs(root_dir)
        storage = binary_si(fs.f_blocks * fs.f_frsize)
    except OSError:
        storage = "0"
    hugepages: dict[str, str] = {}
    try:
        sizes = sorted(os.listdir("/sys/kernel/mm/hugepages"))
    except OSError:
        sizes = []
    for entry in sizes:  # hugepages-2048kB
        kb = entry.removeprefix("hugepages-").removesuffix("kB")
        pages = _read(f"/sys/kernel/mm/hugepages/{entry}/nr_hugepages")
        if kb.isdigit() and pages.isdigit():
            hugepages[f"hugepages-{binary_si(int(kb) * 1024)}"] = binary_si(
                int(pages) * int(kb) * 1024
            )
    os_image = "Linux"  # cadvisor's fallback when os-release has no PRETTY_NAME
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_image = line.partition("=")[2].strip().strip('"')
            break
    return HostInfo(
        arch=arch,
        cpu=str(os.cpu_count() or 1),
        memory=memory,
        ephemeral_storage=storage,
        hugepages=hugepages,
        machine_id=_read("/etc/machine-id") or _read("/var/lib/dbus/machine-id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        os_image=os_image,
    )


def node_objects(
    count: int,
    now: float,
    *,
    arch: str = "amd64",
    cpu: str = "2",
    memory: str = "4Gi",
    host: HostInfo | None = None,
) -> list[Obj]:
    """The Node object of every podnet node, as its kubelet would register it; ``host``
    (:func:`host_info`) gives what it reads of the machine, else ``arch``, ``cpu`` and
    ``memory`` alone (tests)."""
    stamp = rfc3339(now)
    if host is not None:
        arch, cpu, memory = host.arch, host.cpu, host.memory
    out: list[Obj] = []
    for node in make_nodes(count):
        resources = {
            "cpu": cpu,
            "ephemeral-storage": host.ephemeral_storage if host else "0",
            **(host.hugepages if host else {}),
            "memory": memory,
            "pods": str(MAX_PODS),
        }
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "labels": {
                        "beta.kubernetes.io/arch": arch,
                        "beta.kubernetes.io/os": "linux",
                        ARCH_LABEL: arch,
                        HOSTNAME_LABEL: node.labels[HOSTNAME_LABEL],
                        OS_LABEL: node.labels[OS_LABEL],
                    },
                    "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
                },
                "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]},
                "status": {
                    # podnet evicts nothing and reserves nothing: allocatable is the
                    # capacity, as on kind's nodes (evictionHard 0%)
                    "capacity": dict(resources),
                    "allocatable": dict(resources),
                    "conditions": _conditions(stamp),
                    "addresses": [
                        {"type": "InternalIP", "address": node.address},
                        {"type": "Hostname", "address": node.name},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "machineID": host.machine_id if host else "",
                        "systemUUID": host.system_uuid if host else "",
                        "bootID": host.boot_id if host else "",
                        "kernelVersion": platform.release(),
                        "osImage": host.os_image if host else "podnet",
                        "containerRuntimeVersion": "podnet://0",
                        "kubeletVersion": KUBELET_VERSION,
                        "kubeProxyVersion": "",
                        "operatingSystem": "linux",
                        "architecture": arch,
                    },
                },
            }
        )
    return out


def micro_time(t: float) -> str:
    """metav1.MicroTime on the wire: RFC 3339 with microseconds, UTC."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_lease(node: Obj, now: float) -> Obj:
    """The Lease a node's kubelet holds in kube-node-lease (component-helpers
    apimachinery/lease/controller.go newLease: holder and name are the node's, owned
    by the Node, renewTime now), which ``kubectl describe node`` shows."""
    node_name = str(node["metadata"]["name"])
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": node_name,
                    "uid": node["metadata"].get("uid", ""),
                }
            ],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION,
            "renewTime": micro_time(now),
        },
    }


def _conditions(stamp: str) -> list[dict[str, Any]]:
    """kubelet's node conditions: the pressure ones False, Ready True (KubeletReady)."""

    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    return [
        cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


class NodeController(Controller):
    """Keeps every podnet node's Node object in the API."""

    name = "node-registration"

    def __init__(
        self, registry: Any, informers: Any, *, nodes: int, root_dir: str = "/", **kw: Any
    ) -> None:
        super().__init__(registry, informers, **kw)
        self.count = nodes
        self.host = host_info(root_dir)
        self.names = frozenset(n.name for n in make_nodes(nodes))

    def setup(self) -> None:
        self.nodes = self.informers.get(NODES)
        self.nodes.add_handler(self._on_node)

    def _on_node(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ == "DELETED" and new is not None:
            self.queue.add(str(new["metadata"]["name"]))
        elif type_ == "ADDED" and new is not None and new["metadata"]["name"] in self.names:
            self.queue.add(_LEASE_KEY + str(new["metadata"]["name"]))  # its kubelet's lease

    def prepare(self) -> None:
        self.register_all()

    def register_all(self) -> None:
        for obj in self.desired():
            self.queue.add(obj["metadata"]["name"])

    def desired(self) -> list[Obj]:
        return node_objects(self.count, self.clock(), host=self.host)

    def sync(self, key: str) -> None:
        if key.startswith(_LEASE_KEY):
            self.renew_lease(key.removeprefix(_LEASE_KEY))
            return
        if self.nodes.get(key) is not None:
            return
        for obj in self.desired():
            if obj["metadata"]["name"] != key:
                continue
            try:  # the node strategy keeps a registering kubelet's status
                created = self.registry.create(NODES, None, obj)
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    raise
                return
            if not created.get("status"):
                fresh = dict(created)
                fresh["status"] = obj["status"]
                self.registry.update(NODES, None, key, fresh, subresource="status")

    def renew_lease(self, node_name: str) -> None:
        """Create or renew the node's Lease, then come back in LEASE_RENEW seconds, as
        the kubelet's lease controller does while it runs."""
        node = self.nodes.get(node_name)
        if node is not None:
            lease = node_lease(node, self.clock())
            try:
                current: Obj | None = self.registry.get(LEASES, LEASE_NAMESPACE, node_name)
            except ApiError as e:
                if e.code != 404:
                    raise
                current = None
            if current is None:
                try:
                    self.registry.create(LEASES, LEASE_NAMESPACE, lease)
                except ApiError as e:
                    if e.reason not in ("AlreadyExists", "NotFound", "Forbidden"):
                        raise
            else:
                fresh = dict(current)
                fresh["spec"] = {**(current.get("spec") or {}), **lease["spec"]}
                if not current["metadata"].get("ownerReferences"):
                    meta = dict(current["metadata"])
                    meta["ownerReferences"] = lease["metadata"]["ownerReferences"]
                    fresh["metadata"] = meta
                self.registry.update(LEASES, LEASE_NAMESPACE, node_name, fresh)
        self.queue.add_after(_LEASE_KEY + node_name, LEASE_RENEW)
