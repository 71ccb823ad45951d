"""Policies in words."""

from __future__ import annotations

from podnet.control.policy.explain import describe_policy
from podnet.model import (
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
)

WEB = LabelSelector.from_labels({"app": "web"})


def test_describe_every_kind_of_peer_and_port() -> None:
    pol = NetworkPolicy(
        "x",
        "p",
        WEB,
        ("Ingress", "Egress"),
        ingress=(
            PolicyRule(
                (PolicyPort("TCP", "http"), PolicyPort("UDP", 5000, 5010)),
                (
                    PolicyPeer(pod_selector=LabelSelector.from_labels({"app": "a"})),
                    PolicyPeer(namespace_selector=LabelSelector()),
                    PolicyPeer(ip_block=IPBlock("10.0.0.0/8", ("10.1.0.0/16",))),
                ),
            ),
        ),
        egress=(),
    )
    lines = describe_policy(pol)
    assert lines[0] == "x/p selects pods app=web in namespace x"
    assert lines[1] == (
        "  ingress rule #0: from pods app=a in namespace x; all pods in all namespaces; "
        "10.0.0.0/8 except 10.1.0.0/16, on named port http/TCP, 5000-5010/UDP"
    )
    assert lines[2] == "  egress: isolated, no rule: nothing allowed"


def test_allow_all_rule() -> None:
    pol = NetworkPolicy("x", "all", LabelSelector(), ("Ingress",), ingress=(PolicyRule(),))
    assert describe_policy(pol) == [
        "x/all selects every pod in namespace x",
        "  ingress rule #0: from anywhere (pods and non-pod addresses), on any port",
    ]
