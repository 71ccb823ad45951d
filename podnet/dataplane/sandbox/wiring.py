"""Applying the link plan (:mod:`podnet.dataplane.sandbox.links`) to namespaces held by pids.

The only place the sandbox runs ``ip``: one ``ip -batch`` in the cluster root netns to
attach nodes, one per node for its routes and for its pods' veth pairs, and rtnetlink
(:mod:`podnet.dataplane.sandbox.rtnl`) for the pod ends. Every namespace is named by the pid of
the process holding it, as ``/proc/<pid>/ns/<kind>`` (podnet's /proc is the host's, so
the pids are host pids); ``nsenter`` enters it, ``ip`` takes the path for ``netns``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from podnet.dataplane import execs
from podnet.dataplane.sandbox import links, rtnl
from podnet.errors import CommandError, NotSupportedError
from podnet.model.cluster import Node

PT_INTERP = 3  # elf(5): the program header naming the dynamic linker


def ns_path(pid: int, kind: str = "net") -> str:
    return f"/proc/{pid}/ns/{kind}"


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the programs used, resolved once (a missing one fails early).

    ``pod_nsenter``: busybox's ``nsenter`` applet where busybox is a static binary
    (Debian's busybox-static), for a program named by its absolute path in a pod (every
    container's ``crun run``, :meth:`Sandbox.pod_exec_argv`): same options, same no-fork
    exec, but no dynamic linking, ~0.4 ms of CPU less per start than util-linux's (perf
    stat, bench/README.md). A bare name keeps util-linux's: busybox would run its own
    applet of that name (``sleep``, ``ip``) instead of the program PATH finds. Empty:
    util-linux's everywhere."""

    ip: str
    nsenter: str
    pod_nsenter: tuple[str, ...] = ()

    @classmethod
    def find(cls) -> Tools:
        found = {name: shutil.which(name) for name in ("ip", "nsenter")}
        for name, path in found.items():
            if path is None:
                raise NotSupportedError(f"{name} is not installed")
        return cls(ip=str(found["ip"]), nsenter=str(found["nsenter"]), pod_nsenter=_busybox())

    def enter(
        self,
        pid: int,
        kinds: Sequence[str],
        argv: Sequence[str],
        wd: str | None = None,
        *,
        pod: bool = False,
    ) -> list[str]:
        """``nsenter`` into ``pid``'s namespaces of ``kinds``, then exec ``argv``;
        ``pod``: with :attr:`pod_nsenter` when there is one and ``argv[0]`` is absolute.

        Without ``--pid``/``--user`` nsenter does not fork: the resulting process is
        ``argv`` itself, so its pid and exit status are the command's.
        """
        # nsenter says --mount where /proc says ns/mnt
        opts = [f"--{kind}={ns_path(pid, 'mnt' if kind == 'mount' else kind)}" for kind in kinds]
        if wd is not None:
            opts.append(f"--wd={wd}")
        fast = pod and self.pod_nsenter and argv and argv[0].startswith("/")
        prefix = list(self.pod_nsenter) if fast else [self.nsenter]
        return [*prefix, *opts, "--", *argv]

    def ip_batch(self, pid: int) -> list[str]:
        return self.enter(pid, ["net"], [self.ip, "-batch", "-"])


def _busybox() -> tuple[str, ...]:
    """``(busybox, "nsenter")`` when busybox is a static binary with that applet."""
    path = shutil.which("busybox")
    if path is None or not is_static_elf(path):
        return ()
    try:
        ok = subprocess.run(
            [path, "nsenter", "--help"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return (path, "nsenter") if ok.returncode == 0 else ()


def is_static_elf(path: str) -> bool:
    """Whether ``path`` is a 64-bit little-endian ELF with no program interpreter
    (PT_INTERP): statically linked, nothing for ld.so to load at exec."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:6] != b"\x7fELF\x02\x01":
                return False
            (phoff,) = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    if phentsize < 4 or len(table) < phentsize * phnum:
        return False
    types = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    return PT_INTERP not in types


def make_root(tools: Tools, root_pid: int) -> None:
    """The cluster root netns: loopback and the node bridge."""
    execs.run(tools.ip_batch(root_pid), links.batch_text(links.root_batch()))


def attach_nodes(tools: Tools, root_pid: int, nodes: Sequence[tuple[Node, int]]) -> None:
    """In the root netns: a veth per node onto the bridge, ``eth0`` moved into the node."""
    lines: list[str] = []
    for node, pid in nodes:
        lines += links.node_attach_batch(node, ns_path(pid))
    execs.run(tools.ip_batch(root_pid), links.batch_text(lines))


def route_nodes(tools: Tools, nodes: Sequence[tuple[Node, int]], new: Sequence[Node]) -> None:
    """Configure the ``new`` nodes fully and teach the others the new pod CIDRs."""
    everyone = [node for node, _ in nodes]
    new_names = {n.name for n in new}
    jobs = []
    for node, pid in nodes:
        if node.name in new_names:
            lines = links.node_config_batch(node, everyone)
        else:
            lines = [f"route add {n.pod_cidr} via {n.address} dev {links.POD_IFACE}" for n in new]
        jobs.append((tools.ip_batch(pid), links.batch_text(lines)))
    execs.run_all(jobs)


@dataclass(frozen=True)
class PlacedPod:
    """A pod to wire: its key and IP, its node, and the pids holding both netns."""

    key: str
    ip: str
    node: Node
    node_pid: int
    pod_pid: int


def wire_pods(tools: Tools, pods: Sequence[PlacedPod]) -> None:
    """veth pairs and node sides in one ``ip -batch`` per node; pod sides by rtnetlink."""
    per_node: dict[int, list[str]] = {}
    for p in pods:
        per_node.setdefault(p.node_pid, []).extend(
            links.pod_attach_batch(p.key, p.ip, p.node, ns_path(p.pod_pid))
        )
    execs.run_all(
        [(tools.ip_batch(pid), links.batch_text(lines)) for pid, lines in per_node.items()]
    )
    rtnl.configure_pods(
        [rtnl.PodSide(ns_path(p.pod_pid), p.ip, links.pod_gateway(p.node)) for p in pods]
    )


def unwire_pod(tools: Tools, pod_key: str, node_pid: int) -> None:
    """Delete the pod's veth pair from the node side, now.

    Deleting one end removes the pair and the node's /32 route synchronously; the
    pod's dying netns would release them only later, from a kernel workqueue, and a pod
    re-created under the same key would then collide with its old interface name.
    A pair that was never created (a failed add) is not an error.
    """
    with contextlib.suppress(CommandError):
        execs.run(
            tools.enter(node_pid, ["net"], [tools.ip, "link", "del", links.pod_iface(pod_key)])
        )


def pids_in_netns(inode: int) -> list[int]:
    """Host pids of every process in the netns ``inode`` (all ours: the netns is)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                    found.append(int(entry))
            except OSError:
                continue
    return found
