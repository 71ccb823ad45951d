"""The cluster admin's policies, one model for both API versions (network-policy-api).

``policy.networking.k8s.io/v1alpha1`` AdminNetworkPolicy (tier Admin, action Allow)
and BaselineAdminNetworkPolicy (tier Baseline, the singleton ``default``), and
``v1alpha2`` ClusterNetworkPolicy (``spec.tier``, action Accept, ``protocols``) all
become a :class:`ClusterNetworkPolicy`: ``Allow`` is read as ``Accept`` and ``ports``
and ``protocols`` as :class:`ClusterPort`. ``kind`` and ``api_version`` keep what the
user wrote, for messages. Evaluation order (apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``):
Admin tier by priority, then NetworkPolicy v1, then Baseline tier, then allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.model.meta import Meta
from podnet.model.selectors import LabelSelector

ADMIN = "Admin"
BASELINE = "Baseline"
TIERS = (ADMIN, BASELINE)
ACCEPT = "Accept"
DENY = "Deny"
PASS = "Pass"  # skip the rest of this tier; the next tier decides
ACTIONS = (ACCEPT, DENY, PASS)


@dataclass(frozen=True)
class PodsIn:
    """``pods``: the pods ``pod_selector`` matches in the namespaces
    ``namespace_selector`` matches (NamespacedPod; both required, empty = all)."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector


@dataclass(frozen=True)
class ClusterPeer:
    """A subject or a ``from``/``to`` entry: exactly one field is set (the CRDs'
    MinProperties=1/MaxProperties=1). ``nodes`` and ``networks`` are egress peers only;
    ``networks`` matches pod IPs too (cluster-internal traffic is checked against it)."""

    namespaces: LabelSelector | None = None
    pods: PodsIn | None = None
    nodes: LabelSelector | None = None
    networks: tuple[str, ...] = ()  # CIDRs, normalised (ip_network(strict=False))


@dataclass(frozen=True)
class ClusterPort:
    """One ``ports`` (v1alpha1) or ``protocols`` (v1alpha2) entry.

    A number (``port``), a range (``port``..``end_port``), all ports of a protocol
    (``port`` None), or a named port (``named_port``, resolved on the destination pod;
    ``protocol`` then comes from that pod's containerPort and is None here).
    """

    protocol: str | None = "TCP"
    port: int | None = None
    end_port: int | None = None
    named_port: str | None = None


@dataclass(frozen=True)
class ClusterRule:
    """A rule: ``action`` for traffic from/to any of ``peers`` on any of ``ports``
    (empty ``ports``: every port and protocol). Rules are tried in written order."""

    action: str  # Accept | Deny | Pass
    peers: tuple[ClusterPeer, ...]
    ports: tuple[ClusterPort, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class ClusterNetworkPolicy:
    name: str
    tier: str  # Admin | Baseline
    priority: int  # 0..1000, lower first; a BaselineAdminNetworkPolicy has 0
    subject: ClusterPeer  # namespaces or pods
    ingress: tuple[ClusterRule, ...] = ()
    egress: tuple[ClusterRule, ...] = ()
    kind: str = "ClusterNetworkPolicy"  # or AdminNetworkPolicy / BaselineAdminNetworkPolicy
    api_version: str = "policy.networking.k8s.io/v1alpha2"
    meta: Meta | None = None

    @property
    def key(self) -> str:
        """``Kind/name``: cluster-scoped, so the kind keeps an ANP and a CNP of one
        name apart."""
        return f"{self.kind}/{self.name}"
