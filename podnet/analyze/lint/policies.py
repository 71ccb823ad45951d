"""Policy rules: ``policy-selects-nothing``, ``pod-not-isolated``, ``dns-egress-blocked``
and ``cluster-deny-blocks-dns`` (an Admin or Baseline Deny that decides the lookups).

Cluster DNS is the ``kube-dns`` Service in ``kube-system`` backed by pods labelled
``k8s-app=kube-dns`` (the label CoreDNS keeps for compatibility,
https://kubernetes.io/docs/tasks/administer-cluster/dns-custom-nameservers/). Egress
policies are evaluated after kube-proxy's DNAT, on the DNS *pod*, so a rule must allow
the pod (by namespaceSelector/podSelector or an ipBlock holding its IP), not the
Service IP 10.96.0.10 (https://kubernetes.io/docs/concepts/services-networking/network-policies/
"Targeting ... Service IPs" is undefined). DNS uses UDP 53 and falls back to TCP 53 for
truncated answers (RFC 7766), so a missing UDP rule is an error and a missing TCP rule a
warning.
"""

from __future__ import annotations

from podnet.analyze.lint.context import LintContext, field_prefix, owner_ref
from podnet.analyze.lint.finding import Finding
from podnet.control.policy.tiers import pods_match
from podnet.control.policy.verdict import ClusterRuleRef, DirectionVerdict
from podnet.model.objects import Container, Pod

DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_NAMESPACE = "kube-system"
_FIX_DNS = (
    "in one of [{pols}] add an egress rule: to: [{namespaceSelector: {matchLabels: "
    "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: "
    "{k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
)


def dns_pods(ctx: LintContext) -> list[Pod]:
    """The cluster DNS pods; a stand-in when the manifests do not declare them.

    podnet's own DNS answers for them, but policies are still judged against a pod
    that looks like the real one (labels, namespace, an IP in the pod network).
    """
    real = [
        p
        for p in ctx.state.pods
        if p.namespace == DNS_NAMESPACE and all(p.labels.get(k) == v for k, v in DNS_LABELS.items())
    ]
    if real:
        return real
    stand_in = Pod(
        DNS_NAMESPACE,
        "coredns",
        dict(DNS_LABELS),
        (Container("coredns", "coredns"),),
        ip="10.244.0.2",
        node="node-0",
    )
    return [stand_in]


def _selects_nothing(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    for pol in ctx.state.policies:
        if any(pol.pod_selector.matches(p.labels) for p in ctx.pods_in(pol.namespace)):
            continue
        out.append(
            Finding(
                "policy-selects-nothing",
                "warning",
                f"NetworkPolicy/{pol.namespace}/{pol.name}",
                "spec.podSelector",
                f"podSelector {pol.pod_selector} matches no pod in namespace "
                f"{pol.namespace}; the policy has no effect",
                "set spec.podSelector to labels of pods in this namespace "
                "(policies never select pods of other namespaces)",
            )
        )
    return out


def _not_isolated(ctx: LintContext) -> list[Finding]:
    namespaces = {p.namespace for p in ctx.state.policies}
    out: list[Finding] = []
    for pod in ctx.representatives():
        if pod.namespace not in namespaces:
            continue
        pols = [p for p in ctx.state.policies if p.namespace == pod.namespace]
        if any(p.pod_selector.matches(pod.labels) for p in pols):
            continue
        names = ", ".join(sorted(p.name for p in pols))
        tiers = [
            c.key
            for c in ctx.state.cluster_policies
            if pods_match(c.subject, pod, ctx.engine.namespace_labels)
        ]
        then = (
            f"only the cluster admin's policies ({', '.join(tiers)}) judge its traffic"
            if tiers
            else "it accepts and sends all traffic"
        )
        out.append(
            Finding(
                "pod-not-isolated",
                "info",
                owner_ref(pod),
                f"{field_prefix(pod)}metadata.labels",
                f"namespace {pod.namespace} has NetworkPolicies ({names}) but none "
                f"selects this pod, so {then}",
                "add a default-deny policy (podSelector: {}) to the namespace, "
                "or include these labels in a policy's podSelector",
            )
        )
    return out


def _dns_missing(ctx: LintContext, pod: Pod, targets: list[Pod]) -> dict[str, DirectionVerdict]:
    """Protocol -> the egress verdict that blocks ``pod``'s lookups over it."""
    missing: dict[str, DirectionVerdict] = {}
    for proto in ("UDP", "TCP"):
        verdicts = [ctx.verdict(pod, t, 53, proto).egress for t in targets]
        if not any(v.allowed for v in verdicts):
            missing[proto] = verdicts[0]
    return missing


def _dns_blocked(ctx: LintContext) -> list[Finding]:
    """Per pod when a NetworkPolicy decides; per cluster rule when a tier's Deny does."""
    targets = dns_pods(ctx)
    out: list[Finding] = []
    by_rule: dict[ClusterRuleRef, dict[str, list[Pod]]] = {}
    for pod in ctx.representatives():
        if pod.namespace == DNS_NAMESPACE and pod.labels.get("k8s-app") == "kube-dns":
            continue
        missing = _dns_missing(ctx, pod, targets)
        np_missing = [p for p, v in missing.items() if v.decided_by is None and v.isolated]
        for proto, v in missing.items():
            if v.decided_by is not None:
                by_rule.setdefault(v.decided_by, {}).setdefault(proto, []).append(pod)
        if not np_missing:
            continue
        pols = ", ".join(missing[np_missing[0]].isolating_policies)
        what = " and ".join(f"{p} 53" for p in np_missing)
        out.append(
            Finding(
                "dns-egress-blocked",
                "error" if "UDP" in np_missing else "warning",
                owner_ref(pod),
                f"{field_prefix(pod)}metadata.labels",
                f"egress is isolated by [{pols}] and no rule allows {what} to the "
                "cluster DNS (kube-system pods k8s-app=kube-dns)"
                + (
                    "; every name lookup will time out"
                    if "UDP" in np_missing
                    else "; answers too large for UDP will fail"
                ),
                _FIX_DNS.replace("{pols}", pols),
            )
        )
    return out + [_cluster_dns(ref, pods) for ref, pods in by_rule.items()]


def _cluster_dns(ref: ClusterRuleRef, by_proto: dict[str, list[Pod]]) -> Finding:
    pods = sorted({p.key: p for ps in by_proto.values() for p in ps}.values(), key=lambda p: p.key)
    names = ", ".join(owner_ref(p) for p in pods[:3]) + (" ..." if len(pods) > 3 else "")
    what = " and ".join(f"{p} 53" for p in ("UDP", "TCP") if p in by_proto)
    above = (
        "a higher-priority Admin policy"
        if ref.tier == "Admin"
        else "the Admin tier or a NetworkPolicy"
    )
    return Finding(
        "cluster-deny-blocks-dns",
        "error" if "UDP" in by_proto else "warning",
        ref.policy,
        f"spec.egress[{ref.index}]",
        f"{ref.labelled()} denies {what} to the cluster DNS (kube-system pods "
        f"k8s-app=kube-dns) for {len(pods)} workload(s) it selects ({names}) and nothing "
        f"above it allows it"
        + (
            ": every name lookup of these pods will time out"
            if "UDP" in by_proto
            else ": answers too large for UDP will fail"
        ),
        f"add an Accept rule before it (or in {above}): to: [{{pods: {{namespaceSelector: "
        "{matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: "
        "{matchLabels: {k8s-app: kube-dns}}}}], on UDP 53 and TCP 53",
    )


def check(ctx: LintContext) -> list[Finding]:
    return _selects_nothing(ctx) + _not_isolated(ctx) + _dns_blocked(ctx)
