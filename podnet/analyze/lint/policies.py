"""Policy rules: ``policy-selects-nothing``, ``pod-not-isolated``, ``dns-egress-blocked``.

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
        out.append(
            Finding(
                "pod-not-isolated",
                "info",
                owner_ref(pod),
                f"{field_prefix(pod)}metadata.labels",
                f"namespace {pod.namespace} has NetworkPolicies ({names}) but none "
                "selects this pod, so it accepts and sends all traffic",
                "add a default-deny policy (podSelector: {}) to the namespace, "
                "or include these labels in a policy's podSelector",
            )
        )
    return out


def _dns_blocked(ctx: LintContext) -> list[Finding]:
    targets = dns_pods(ctx)
    out: list[Finding] = []
    for pod in ctx.representatives():
        if pod.namespace == DNS_NAMESPACE and pod.labels.get("k8s-app") == "kube-dns":
            continue
        missing: list[str] = []
        for proto in ("UDP", "TCP"):
            verdicts = [ctx.verdict(pod, t, 53, proto).egress for t in targets]
            if not verdicts[0].isolated:
                break
            if not any(v.allowed for v in verdicts):
                missing.append(proto)
        if not missing:
            continue
        pols = ", ".join(ctx.verdict(pod, targets[0], 53, missing[0]).egress.isolating_policies)
        what = " and ".join(f"{p} 53" for p in missing)
        out.append(
            Finding(
                "dns-egress-blocked",
                "error" if "UDP" in missing else "warning",
                owner_ref(pod),
                f"{field_prefix(pod)}metadata.labels",
                f"egress is isolated by [{pols}] and no rule allows {what} to the "
                "cluster DNS (kube-system pods k8s-app=kube-dns)"
                + (
                    "; every name lookup will time out"
                    if "UDP" in missing
                    else "; answers too large for UDP will fail"
                ),
                _FIX_DNS.replace("{pols}", pols),
            )
        )
    return out


def check(ctx: LintContext) -> list[Finding]:
    return _selects_nothing(ctx) + _not_isolated(ctx) + _dns_blocked(ctx)
