"""Rules about what pods use: ``pod-ip-literal``, ``unknown-service-name``,
``service-port-unreachable`` and ``policy-blocks-service-use``.

Every address found in a container (:mod:`podnet.analyze.lint.refs`) is resolved as
the container would: names through the cluster DNS with the pod's search path, Service
IPs to their Service. A Service is then followed the way kube-proxy does: service port
-> endpoints (pod IP and resolved targetPort) -> the policy verdict on each endpoint,
because NetworkPolicy is enforced after the DNAT, on the pod.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from difflib import get_close_matches

from podnet.analyze.lint.context import LintContext, field_prefix, owner_ref
from podnet.analyze.lint.finding import Finding
from podnet.analyze.lint.refs import HostRef, pod_refs
from podnet.model.cluster import POD_CIDR, ClusterState
from podnet.model.objects import Pod, Service

_POD_NET = ipaddress.IPv4Network(POD_CIDR)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def pod_networks(state: ClusterState) -> tuple[Network, ...]:
    """The networks pod IPs are taken from, for "an address no pod has now".

    From files (and on kind, whose podSubnet is podnet's 10.244.0.0/16) every node's
    podCIDR lies in the configured pod CIDR: that whole range. From a cluster with
    other ranges (``--from-cluster``: k3s's 10.42.N.0/24, a GKE secondary range) the
    nodes' observed podCIDRs. A cluster whose nodes carry none (EKS's VPC CNI, Calico's
    own IPAM) names no pod network: only addresses of current pods are flagged.
    """
    return _networks(tuple(n.pod_cidr for n in state.nodes))


@functools.lru_cache(maxsize=16)
def _networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    nets: list[Network] = []
    for c in cidrs:
        try:
            nets.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            continue
    v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    if v4 and not v6 and all(n.subnet_of(_POD_NET) for n in v4):
        return (_POD_NET,)
    return (*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6))


def looks_in_cluster(name: str, namespaces: set[str]) -> bool:
    """Whether an unresolved ``name`` was meant for the cluster DNS (see lint.py)."""
    labels = name.lower().rstrip(".").split(".")
    if len(labels) == 1:
        return True
    tail = ".".join(labels[1:])
    if tail == "svc" or tail.endswith(".svc") or "cluster.local" in name.lower():
        return True
    return labels[-1] in namespaces


def _services_for_pod_ip(ctx: LintContext, pod: Pod) -> list[Service]:
    return [
        s
        for s in ctx.state.services
        if s.selector is not None
        and s.namespace == pod.namespace
        and all(pod.labels.get(k) == v for k, v in s.selector.items())
    ]


def _ip_literal(ctx: LintContext, pod: Pod, ref: HostRef) -> Finding | None:
    target = ctx.pods_by_ip.get(ref.host)
    nets = pod_networks(ctx.state)
    if target is None:
        ip = ipaddress.ip_address(ref.host)
        if not any(ip in n for n in nets):
            return None
    if target is not None:
        svcs = _services_for_pod_ip(ctx, target)
        what = f"addresses pod {target.key} by its IP {ref.host}"
    else:
        svcs = []
        where = ", ".join(str(n) for n in nets)
        what = f"uses {ref.host}, an address in the pod network ({where}) no pod has now"
    if svcs:
        s = svcs[0]
        name = s.name if s.namespace == pod.namespace else f"{s.name}.{s.namespace}"
        fix = f"use the Service name instead of the IP: {ref.text.replace(ref.host, name)}"
    else:
        fix = "create a Service selecting the target pods and use its DNS name"
    return Finding(
        "pod-ip-literal",
        "warning",
        owner_ref(pod),
        field_prefix(pod) + ref.field,
        f"container {ref.container} {what}; pod IPs change whenever a pod is recreated",
        fix,
    )


def _suggest(ctx: LintContext, pod: Pod, name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    first = labels[0]
    namespaces = {ns.name for ns in ctx.state.namespaces}
    want_ns = labels[1] if len(labels) > 1 and labels[1] in namespaces else pod.namespace
    svcs = ctx.state.services
    exact = [s for s in svcs if s.name == first and s.namespace != want_ns]
    if exact:
        return f"{exact[0].name}.{exact[0].namespace}"
    same = [s.name for s in svcs if s.namespace == want_ns]
    close = get_close_matches(first, same, n=1, cutoff=0.6)
    if close:
        return close[0] if want_ns == pod.namespace else f"{close[0]}.{want_ns}"
    anywhere = {s.name: s for s in svcs}
    close = get_close_matches(first, list(anywhere), n=1, cutoff=0.6)
    if close:
        s = anywhere[close[0]]
        return s.name if s.namespace == pod.namespace else f"{s.name}.{s.namespace}"
    return ""


def env_only(pod: Pod, ref: HostRef) -> str | None:
    """The variable's name when ``ref`` comes from an env var nothing else uses.

    Evidence, not guesswork: the container's command and args neither name the host
    nor expand the variable (``$VAR``, ``${VAR}``, Kubernetes' ``$(VAR)``). Programs
    read such settings themselves and often treat them as optional (a cache, a tracing
    collector), so an unresolved name there may never be dialled.
    """
    m = _ENV_FIELD.search(ref.field)
    if m is None:
        return None
    kind, index, env_index = m.group(1), int(m.group(2)), int(m.group(3))
    containers = pod.init_containers if kind == "initContainers" else pod.containers
    container = containers[index]
    var = container.env[env_index][0]
    argv = " ".join(container.command + container.args)
    used = (f"${var}", f"${{{var}}}", f"$({var})", ref.host)
    if any(u.lower() in argv.lower() for u in used):
        return None
    return var


_ENV_FIELD = re.compile(r"spec\.(containers|initContainers)\[(\d+)\]\.env\[(\d+)\]")


def _unknown_name(ctx: LintContext, pod: Pod, ref: HostRef) -> Finding:
    lk = ctx.lookup(ref.host, pod.namespace)
    tried = ", ".join(q.qname for q in lk.queries if q.rcode != "UPSTREAM")
    best = _suggest(ctx, pod, ref.host)
    var = env_only(pod, ref)
    why = (
        f"; it appears only in environment variable {var}, which the command and args "
        "never use, so the program may treat it as an optional setting (a warning, not "
        "an error)"
        if var
        else ""
    )
    return Finding(
        "unknown-service-name",
        "warning" if var else "error",
        owner_ref(pod),
        field_prefix(pod) + ref.field,
        f"container {ref.container} uses {ref.host!r}, which is no Service: "
        f"{tried} all give NXDOMAIN{why}",
        f"did you mean {best!r}?" if best else "create the Service or fix the name",
    )


def _port_unexposed(pod: Pod, ref: HostRef, svc: Service) -> Finding | None:
    if ref.port is None or any(
        sp.port == ref.port and sp.protocol == ref.protocol for sp in svc.ports
    ):
        return None
    exposed = ", ".join(f"{sp.port}/{sp.protocol}" for sp in svc.ports) or "none"
    return Finding(
        "service-port-unreachable",
        "error",
        owner_ref(pod),
        field_prefix(pod) + ref.field,
        f"container {ref.container} connects to Service {svc.key} on "
        f"{ref.port}/{ref.protocol}, which it does not expose (ports: {exposed})",
        f"use one of the Service's ports ({exposed}) or add {ref.port} to its spec.ports",
    )


def _blocked(ctx: LintContext, pod: Pod, ref: HostRef, svc: Service) -> Finding | None:
    if ref.port is None:
        return None
    sp = next((p for p in svc.ports if p.port == ref.port and p.protocol == ref.protocol), None)
    if sp is None:
        return None
    endpoints = ctx.state.endpoints.get(svc.key, {}).get(sp.name, ())
    verdicts = []
    for ep in endpoints:
        if ep.pod == pod.key:
            return None  # a pod cannot block access to itself (see _blocked_pods)
        dst = ctx.pods_by_key.get(ep.pod)
        v = ctx.verdict(pod, dst if dst is not None else ep.ip, ep.port, ep.protocol)
        if v.allowed:
            return None
        verdicts.append((ep, v))
    if not verdicts:
        return None
    ep, v = verdicts[0]
    side = v.egress if not v.egress.allowed else v.ingress
    if side.decided_by is not None:
        rule = side.decided_by
        where = (
            "add an Accept rule before it (or in a higher-priority Admin policy)"
            if rule.tier == "Admin"
            else "allow it in a NetworkPolicy (which decides before the Baseline tier)"
        )
        fix = f"the cluster admin's {rule.labelled()} denies it: {where}, or narrow the rule"
    elif not v.egress.allowed:
        pols = ", ".join(v.egress.isolating_policies)
        dst = ctx.pods_by_key.get(ep.pod)
        to = peer_text(dst, pod.namespace) if dst is not None else f"ipBlock {ep.ip}/32"
        fix = f"in one of [{pols}] allow egress to {to} on {ep.port}/{ep.protocol}"
    else:
        pols = ", ".join(v.ingress.isolating_policies)
        fix = (
            f"in one of [{pols}] (or a new policy in {svc.namespace}) allow ingress from "
            f"{peer_text(pod, svc.namespace)} on {ep.port}/{ep.protocol}"
        )
    return Finding(
        "policy-blocks-service-use",
        "error",
        owner_ref(pod),
        field_prefix(pod) + ref.field,
        f"container {ref.container} uses Service {svc.key} port {sp.port}, but "
        f"{'policies' if side.decided_by else 'NetworkPolicies'} deny all {len(verdicts)} "
        f"endpoint(s): {v.reason}",
        fix,
    )


def _blocked_pods(ctx: LintContext, pod: Pod, ref: HostRef, targets: list[Pod]) -> Finding | None:
    """A name resolving straight to pods (headless Service, pod hostname): policy check."""
    if ref.port is None or not targets:
        return None
    if any(t.key == pod.key for t in targets):
        # "a pod cannot block access to itself" (kubernetes.io/docs/concepts/
        # services-networking/network-policies/); the data plane lets it through too.
        return None
    verdicts = [ctx.verdict(pod, t, ref.port, ref.protocol) for t in targets]
    if any(v.allowed for v in verdicts):
        return None
    return Finding(
        "policy-blocks-service-use",
        "error",
        owner_ref(pod),
        field_prefix(pod) + ref.field,
        f"container {ref.container} uses {ref.host} (pods "
        f"{', '.join(t.key for t in targets[:3])}{', ...' if len(targets) > 3 else ''}) on "
        f"{ref.port}/{ref.protocol}, but policies deny every one: {verdicts[0].reason}",
        "allow this pod in the policies named above (egress at the source, ingress at the pods)",
    )


# Labels controllers add per pod or per revision: useless (or harmful) in a selector.
_GENERATED = (
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/",
    "controller-uid",
    "job-name",
    "pod-template-generation",
)


def peer_text(pod: Pod, policy_ns: str) -> str:
    """How a policy rule would name ``pod``'s workload: its stable labels (and namespace)."""
    labels = {k: v for k, v in pod.labels.items() if not k.startswith(_GENERATED)}
    sel = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<all>"
    if pod.namespace == policy_ns:
        return f"podSelector {sel}"
    return f"namespaceSelector kubernetes.io/metadata.name={pod.namespace} + podSelector {sel}"


def _check_ref(ctx: LintContext, pod: Pod, ref: HostRef, namespaces: set[str]) -> list[Finding]:
    svc: Service | None = None
    if ref.is_ip:
        if ref.host in ctx.services_by_ip:
            svc = ctx.services_by_ip[ref.host]
        else:
            f = _ip_literal(ctx, pod, ref)
            return [f] if f else []
    else:
        lk = ctx.lookup(ref.host, pod.namespace)
        if lk.answer is None:
            if looks_in_cluster(ref.host, namespaces):
                return [_unknown_name(ctx, pod, ref)]
            return []
        addrs = lk.addresses
        svc = ctx.services_by_ip.get(addrs[0]) if len(addrs) == 1 else None
        if svc is None:
            f = _blocked_pods(
                ctx, pod, ref, [ctx.pods_by_ip[a] for a in addrs if a in ctx.pods_by_ip]
            )
            return [f] if f else []
    if svc is None:
        return []
    out = [_port_unexposed(pod, ref, svc), _blocked(ctx, pod, ref, svc)]
    return [f for f in out if f is not None]


def check(ctx: LintContext) -> list[Finding]:
    namespaces = {ns.name for ns in ctx.state.namespaces}
    out: list[Finding] = []
    for pod in ctx.representatives():
        for ref in pod_refs(pod):
            out.extend(_check_ref(ctx, pod, ref, namespaces))
    return out
