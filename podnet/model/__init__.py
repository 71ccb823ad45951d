"""The typed cluster model (frozen dataclasses) shared by every layer."""

from podnet.model.meta import Meta
from podnet.model.objects import (
    PROTOCOLS,
    Container,
    ContainerPort,
    IPBlock,
    Manifests,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
    Probe,
    Service,
    ServicePort,
)
from podnet.model.selectors import EMPTY, LabelSelector, Requirement, matches_map

__all__ = [
    "EMPTY",
    "PROTOCOLS",
    "Container",
    "ContainerPort",
    "IPBlock",
    "LabelSelector",
    "Manifests",
    "Meta",
    "Namespace",
    "NetworkPolicy",
    "Pod",
    "PolicyPeer",
    "PolicyPort",
    "PolicyRule",
    "Probe",
    "Requirement",
    "Service",
    "ServicePort",
    "matches_map",
]
