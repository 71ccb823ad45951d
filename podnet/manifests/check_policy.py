"""Checks on a NetworkPolicy spec that the OpenAPI schema cannot express.

Mirrors k8s.io/kubernetes pkg/apis/networking/validation/validation.go:
ValidateNetworkPolicySpec, ValidateNetworkPolicyPort (port number or IANA_SVC_NAME;
``endPort`` needs a numeric ``port`` and ``endPort >= port``), ValidateNetworkPolicyPeer
(at least one of podSelector / namespaceSelector / ipBlock, and ipBlock alone),
ValidateIPBlock (``except`` entries must be strict subsets of ``cidr``), policyTypes.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from podnet.manifests import names
from podnet.manifests.check_meta import check_selector
from podnet.manifests.check_pod import check_port_num_or_name, check_protocol
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext

POLICY_TYPES = ("Ingress", "Egress")


def check_policy_spec(ctx: DocContext, spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    check_selector(ctx, ("spec", "podSelector"), spec.get("podSelector"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            rpath = ("spec", direction, i)
            for j, port in enumerate(rule.get("ports") or []):
                if isinstance(port, dict):
                    _check_port(ctx, (*rpath, "ports", j), port)
            for j, peer in enumerate(rule.get(peers_key) or []):
                if isinstance(peer, dict):
                    _check_peer(ctx, (*rpath, peers_key, j), peer)
    types = spec.get("policyTypes")
    if isinstance(types, list):
        if len(types) > len(POLICY_TYPES):
            ctx.error(
                ("spec", "policyTypes"), "Invalid value: may not specify more than two policyTypes"
            )
        for i, t in enumerate(types):
            if t not in POLICY_TYPES:
                ctx.error(
                    ("spec", "policyTypes", i),
                    f'Unsupported value {t!r}: supported values: "Ingress", "Egress"',
                )


def _check_port(ctx: DocContext, path: Path, port: dict[str, Any]) -> None:
    check_protocol(ctx, (*path, "protocol"), port.get("protocol"))
    number = port.get("port")
    check_port_num_or_name(ctx, (*path, "port"), number)
    end = port.get("endPort")
    if end is None:
        return
    if number is None:
        ctx.error(
            (*path, "endPort"), "Required value: may not be specified when `port` is not specified"
        )
    elif not isinstance(number, int):
        ctx.error(
            (*path, "endPort"), "Invalid value: may not be specified when `port` is non-numeric"
        )
    elif isinstance(end, int):
        if end < number:
            ctx.error(
                (*path, "endPort"),
                f"Invalid value {end}: must be greater than or equal to `port` ({number})",
            )
        elif (msg := names.port_number(end)) is not None:
            ctx.error((*path, "endPort"), f"Invalid value {end}: {msg}")


def _check_peer(ctx: DocContext, path: Path, peer: dict[str, Any]) -> None:
    present = [
        k for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None
    ]
    if not present:
        ctx.error(
            path, "Required value: must specify a peer (podSelector, namespaceSelector or ipBlock)"
        )
    elif "ipBlock" in present and len(present) > 1:
        ctx.error(path, "Forbidden: may not specify both ipBlock and another peer")
    for key in ("podSelector", "namespaceSelector"):
        check_selector(ctx, (*path, key), peer.get(key))
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        _check_ip_block(ctx, (*path, "ipBlock"), block)


def _check_ip_block(ctx: DocContext, path: Path, block: dict[str, Any]) -> None:
    cidr = block.get("cidr")
    if not isinstance(cidr, str) or not cidr:
        ctx.error((*path, "cidr"), "Required value: a CIDR is required")
        return
    if (msg := names.cidr(cidr)) is not None:
        ctx.error((*path, "cidr"), f"Invalid value {cidr!r}: {msg}")
        return
    outer = ipaddress.ip_network(cidr, strict=False)
    for i, exc in enumerate(block.get("except") or []):
        if not isinstance(exc, str):
            continue
        if (msg := names.cidr(exc)) is not None:
            ctx.error((*path, "except", i), f"Invalid value {exc!r}: {msg}")
            continue
        inner = ipaddress.ip_network(exc, strict=False)
        if (
            inner.version != outer.version
            or not inner.subnet_of(outer)  # type: ignore[arg-type]
            or inner.prefixlen <= outer.prefixlen
        ):
            ctx.error(
                (*path, "except", i),
                f"Invalid value {exc!r}: must be a strict subset of `cidr` ({cidr})",
            )
