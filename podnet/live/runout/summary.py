"""The tables ``podnet run`` prints before and after its pods' output (pure).

Before: the pods with their IPs and nodes (``kubectl get pods -o wide``), the Services
with their ClusterIPs (``kubectl get svc``) and the policies in force (``kubectl get
netpol``), so a reader knows what the output that follows comes from. After: each
client pod's exit codes and restarts, the servers that restarted, the output folded
away and what the policy tables denied (packets per node, connections per client
pod, destination and port). Past ``max_rows`` pods the pod table groups by
workload, so 500 pods still fit on a screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podnet.control.served import served_ports
from podnet.live.runout.counters import Denied, by_pod
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod, Service
from podnet.text import table

CLIENT, SERVER = "client", "server"
MAX_ROWS = 20  # pod rows before the pod table groups by workload
_RUN_TO_COMPLETION = ("Never", "OnFailure")


def role(pod: Pod, services: Sequence[Service]) -> str:
    """``client`` for a pod that runs to completion (restartPolicy Never or OnFailure,
    a Job's pod) or serves no port (``podnet run`` waits for those to exit, the seed's
    pod-a among them); ``server`` otherwise: its output is start-up noise by default."""
    if pod.restart_policy in _RUN_TO_COMPLETION or (pod.owner or "").startswith("Job/"):
        return CLIENT
    return SERVER if served_ports(pod, services) else CLIENT


def roles(state: ClusterState) -> dict[str, str]:
    return {p.key: role(p, state.services) for p in state.pods}


def image_group(pod: Pod) -> str:
    """The short name of a pod's first image (``nginx`` for ``docker.io/library/nginx:1``):
    how folded output is summed up, as a reader names the pods ("the nginx pods")."""
    image = pod.containers[0].image if pod.containers else "?"
    return image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]


def _ports(svc: Service) -> str:
    parts = []
    for p in svc.ports:
        node = f":{p.node_port}" if p.node_port else ""
        parts.append(f"{p.port}{node}/{p.protocol}")
    return ",".join(parts) or "<none>"


def _pod_rows(state: ClusterState, kinds: Mapping[str, str], max_rows: int) -> list[str]:
    pods = list(state.pods)
    if len(pods) <= max_rows:
        rows = [[p.key, p.ip or "<none>", p.node or "<none>", kinds[p.key]] for p in pods]
        return table(rows, ["POD", "IP", "NODE", "ROLE"]).splitlines()
    groups: dict[tuple[str, str], list[Pod]] = {}
    for p in pods:
        groups.setdefault((p.namespace, p.owner or f"Pod/{p.name}"), []).append(p)
    rows = []
    for (ns, owner), members in groups.items():
        ips = sorted((p.ip for p in members if p.ip), key=_ip_key)
        nodes = sorted({p.node for p in members if p.node})
        pending = sum(1 for p in members if p.ip is None)
        rows.append(
            [
                f"{ns}/{owner}",
                str(len(members)) + (f" ({pending} Pending)" if pending else ""),
                _span(ips),
                _span(nodes),
                kinds[members[0].key],
            ]
        )
    shown, more = rows[:max_rows], len(rows) - max_rows
    lines = table(shown, ["WORKLOAD", "PODS", "IPS", "NODES", "ROLE"]).splitlines()
    if more > 0:
        lines.append(f"... and {more} more workload(s)")
    return lines


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(x) for x in ip.split("."))


def _span(items: Sequence[str]) -> str:
    if not items:
        return "<none>"
    return items[0] if len(items) == 1 else f"{items[0]}..{items[-1]} ({len(items)})"


def _policy_rows(state: ClusterState) -> list[list[str]]:
    rows = []
    for pol in state.policies:
        selected = sum(
            1
            for p in state.pods
            if p.namespace == pol.namespace and pol.pod_selector.matches(p.labels)
        )
        sel = "<all>" if pol.pod_selector.is_empty else str(pol.pod_selector)
        rows.append([pol.key, sel, ",".join(pol.policy_types), str(selected)])
    for cp in state.cluster_policies:
        rows.append([cp.key, f"{cp.tier} tier, priority {cp.priority}", "-", "-"])
    return rows


def opening(state: ClusterState, deny: str, *, max_rows: int = MAX_ROWS) -> list[str]:
    """The tables printed once the cluster is up, before any pod output."""
    kinds = roles(state)
    lines = _pod_rows(state, kinds, max_rows)
    svcs = [
        [s.key, s.type, s.cluster_ip or "<none>", _ports(s)]
        for s in state.services
        if s.key != "default/kubernetes"  # no API server under podnet run
    ]
    if svcs:
        lines += ["", *table(svcs, ["SERVICE", "TYPE", "CLUSTER-IP", "PORT(S)"]).splitlines()]
    policies = _policy_rows(state)
    if policies:
        headers = ["POLICY", "POD-SELECTOR", "TYPES", "PODS"]
        lines += ["", *table(policies, headers).splitlines()]
        word = "dropped (the client times out)" if deny == "drop" else "rejected at once"
        lines.append(f"denied connections are {word}: --deny {deny}")
    else:
        lines += ["", "no NetworkPolicy: every pod may reach every other"]
    return lines


@dataclass(frozen=True)
class PodResult:
    """How one pod's run went, from the runtime's last status."""

    key: str
    role: str
    phase: str
    exit_codes: Mapping[str, int | None]  # container -> first exit code, None: running
    restarts: int


def _exits(r: PodResult) -> str:
    if len(r.exit_codes) == 1:
        code = next(iter(r.exit_codes.values()))
        return "-" if code is None else str(code)
    return ",".join(f"{c}={'-' if v is None else v}" for c, v in r.exit_codes.items())


def _clean(r: PodResult) -> bool:
    return r.restarts == 0 and all(c == 0 for c in r.exit_codes.values())


def closing(
    results: Sequence[PodResult],
    hidden: Mapping[str, tuple[int, int]],
    denied: Denied | None,
    stuck: Sequence[str] = (),
    *,
    pods: Mapping[str, str] | None = None,
    max_rows: int = MAX_ROWS,
) -> list[str]:
    """The tables printed once the run is over. ``hidden``: image group -> (pods, lines)
    folded away; ``denied``: what the policy tables' deny chains counted (None: not
    read), its connections named by ``pods`` (IP -> namespace/name); ``stuck``: the
    connections the drop hint reported."""
    clients = [r for r in results if r.role == CLIENT]
    lines: list[str] = []
    if len(clients) > max_rows:  # the clean ones are counted, the others listed
        clean = [r for r in clients if _clean(r)]
        clients = [r for r in clients if not _clean(r)]
        lines.append(f"{len(clean)} client pod(s) exited 0 without a restart")
    if clients:
        rows = [[r.key, r.phase, _exits(r), str(r.restarts)] for r in clients[:max_rows]]
        lines += table(rows, ["CLIENT", "STATUS", "EXIT", "RESTARTS"]).splitlines()
        if len(clients) > max_rows:
            lines.append(f"... and {len(clients) - max_rows} more client pod(s)")
    servers = [r for r in results if r.role == SERVER]
    restarted = [r for r in servers if r.restarts]
    if servers:
        tail = "".join(f"; {r.key} restarted {r.restarts}x" for r in restarted)
        lines.append(f"{len(servers)} server pod(s){tail}")
    for group, (n_pods, count) in sorted(hidden.items()):
        lines.append(
            f"{group} pods ({n_pods}): {count} line(s) hidden, --logs all or --follow POD to show"
        )
    if denied is not None:
        total = sum(denied.packets.values())
        per_node = ", ".join(f"{n} {c}" for n, c in sorted(denied.packets.items()) if c)
        conns = sum(denied.connections.values())
        lines.append(
            f"denied by policy: {total} packet(s)"
            + (f" ({per_node})" if per_node else "")
            + f", {conns} connection(s)"
        )
        rows = by_pod(denied.connections, pods or {})
        if rows:
            headers = ["DENIED FROM", "TO", "PORT", "CONNECTIONS"]
            lines += table(rows[:max_rows], headers).splitlines()
            if len(rows) > max_rows:
                lines.append(f"... and {len(rows) - max_rows} more denied destination(s)")
    lines += [f"stuck on a dropped connection: {s}" for s in stuck]
    return lines
