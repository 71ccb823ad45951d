"""The CRD schemas and CEL rules of the cluster admin's policies, checked by podnet.

kubernetes-validate ships schemas for built-in kinds only, so AdminNetworkPolicy,
BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy (v1alpha2) are checked
here against their CRDs as kubernetes-sigs/network-policy-api generates them
(apis/v1alpha1/{adminnetworkpolicy,baselineadminnetworkpolicy,shared}_types.go,
apis/v1alpha2/clusternetworkpolicy_types.go): required fields, unknown fields (as
``kubectl apply --validate=strict``), Minimum/Maximum, MinItems/MaxItems, enums,
MinProperties/MaxProperties=1 ("exactly one field"), ``listType=set``, patterns, and the
XValidation (CEL) rules, each as a function on the object it is attached to. One
deliberate difference: a port's ``protocol`` (``v1.Protocol``, a plain string in the
CRD) must be TCP, UDP or SCTP, since any other value would silently match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podnet.manifests import names
from podnet.manifests.check_meta import check_selector
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext

Rule = Callable[[DocContext, Path, dict[str, Any]], None]


@dataclass(frozen=True)
class Int:
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Str:
    enum: tuple[str, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    cidr: bool = False  # XValidation isCIDR(self)


@dataclass(frozen=True)
class Arr:
    items: Schema
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False  # listType=set


@dataclass(frozen=True)
class MapOf:
    values: Schema


@dataclass(frozen=True)
class Obj:
    props: Mapping[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    exactly_one: bool = False  # MinProperties=1 + MaxProperties=1
    min_props: int = 0
    opaque: bool = False  # any content (metadata: check_metadata; status: ignored)
    selector: bool = False  # a metav1.LabelSelector: check_selector after the shape
    rules: tuple[Rule, ...] = ()  # XValidation rules on this object


Schema = Int | Str | Arr | MapOf | Obj

# apis/v1alpha2 DomainName (v1alpha1 identical), kubebuilder Pattern.
DOMAIN_PATTERN = (
    r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+"
    r"[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$"
)
PROTOCOL = Str(enum=("TCP", "UDP", "SCTP"))
PORT = Int(1, 65535)
SELECTOR = Obj(
    {
        "matchLabels": MapOf(Str()),
        "matchExpressions": Arr(
            Obj(
                {"key": Str(), "operator": Str(), "values": Arr(Str())},
                required=("key", "operator"),
            )
        ),
    },
    selector=True,
)
NETWORKS = Arr(Str(max_length=43, cidr=True), 1, 25, unique=True)
DOMAIN_NAMES = Arr(Str(pattern=DOMAIN_PATTERN), 1, 25, unique=True)
NAMED_PORT_PEERS = ("networks", "nodes", "domainNames")


def _range_start_below_end(ctx: DocContext, path: Path, obj: dict[str, Any]) -> None:
    """v1alpha2 PortRange XValidation ``self.start < self.end``."""
    start, end = obj.get("start"), obj.get("end")
    if isinstance(start, int) and isinstance(end, int) and not start < end:
        ctx.error(
            path, f"Invalid value: start {start}, end {end}: Start port must be less than End port"
        )


def _range_v1alpha1(ctx: DocContext, path: Path, obj: dict[str, Any]) -> None:
    """v1alpha1 PortRange says "the Start value must be less than End" but its CRD has no
    rule for it (the API server accepts it), so podnet warns instead of refusing."""
    start, end = obj.get("start"), obj.get("end")
    if isinstance(start, int) and isinstance(end, int) and not start < end:
        what = "one port" if start == end else "no port"
        ctx.warn(
            path, f"start {start} is not less than end {end} (the type requires it); matches {what}"
        )


def _no_named_ports_to(ports_key: str, named: str) -> Rule:
    """The egress rules' XValidation: ``!(self.to.exists(peer, has(peer.networks) ||
    has(peer.nodes) || has(peer.domainNames)) && has(self.<ports>) &&
    self.<ports>.exists(p, has(p.<named>)))`` (BANP's lacks domainNames: it has none)."""

    def rule(ctx: DocContext, path: Path, obj: dict[str, Any]) -> None:
        peers, ports = obj.get("to"), obj.get(ports_key)
        if not isinstance(peers, list) or not isinstance(ports, list):
            return
        without = [k for p in peers if isinstance(p, dict) for k in NAMED_PORT_PEERS if k in p]
        if without and any(isinstance(p, dict) and named in p for p in ports):
            kinds = "/".join(dict.fromkeys(without))
            ctx.error(
                path,
                f"Invalid value: {kinds} peer cannot be set with namedPorts since there "
                f"are no namedPorts for {kinds}",
            )

    return rule


def _peers(egress: bool, *, pods: Schema, domain_names: bool) -> Obj:
    props: dict[str, Schema] = {"namespaces": SELECTOR, "pods": pods}
    if egress:
        props |= {"nodes": SELECTOR, "networks": NETWORKS}
        if domain_names:
            props["domainNames"] = DOMAIN_NAMES
    return Obj(props, exactly_one=True)


def _spec_v1alpha1(baseline: bool) -> Obj:
    pods = Obj(
        {"namespaceSelector": SELECTOR, "podSelector": SELECTOR},
        required=("namespaceSelector", "podSelector"),
    )
    port = Obj(
        {
            "portNumber": Obj({"protocol": PROTOCOL, "port": PORT}, required=("port",)),
            "namedPort": Str(),
            "portRange": Obj(
                {"protocol": PROTOCOL, "start": PORT, "end": PORT},
                required=("start", "end"),
                rules=(_range_v1alpha1,),
            ),
        },
        exactly_one=True,
    )
    actions = ("Allow", "Deny") if baseline else ("Allow", "Deny", "Pass")
    rules = []
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        egress = direction == "egress"
        rule = Obj(
            {
                "name": Str(max_length=100),
                "action": Str(enum=actions),
                peers_key: Arr(_peers(egress, pods=pods, domain_names=not baseline), 1, 100),
                "ports": Arr(port, 1, 100),
            },
            required=("action", peers_key),
            rules=(_no_named_ports_to("ports", "namedPort"),) if egress else (),
        )
        rules.append((direction, Arr(rule, 0, 100)))
    subject = Obj({"namespaces": SELECTOR, "pods": pods}, exactly_one=True)
    props: dict[str, Schema] = {"subject": subject, **dict(rules)}
    if not baseline:
        props["priority"] = Int(0, 1000)
    return Obj(props, required=("subject",) if baseline else ("priority", "subject"))


def _spec_v1alpha2() -> Obj:
    pods = Obj({"namespaceSelector": SELECTOR, "podSelector": SELECTOR}, required=("podSelector",))
    destination = Obj(
        {
            "number": PORT,
            "range": Obj(
                {"start": PORT, "end": PORT},
                required=("start", "end"),
                rules=(_range_start_below_end,),
            ),
        },
        exactly_one=True,
    )
    attributes = Obj({"destinationPort": destination}, min_props=1)
    protocol = Obj(
        {"tcp": attributes, "udp": attributes, "sctp": attributes, "destinationNamedPort": Str()},
        exactly_one=True,
    )
    rules = []
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        egress = direction == "egress"
        rule = Obj(
            {
                "name": Str(max_length=100),
                "action": Str(enum=("Accept", "Deny", "Pass")),
                peers_key: Arr(_peers(egress, pods=pods, domain_names=True), 1, 25),
                "protocols": Arr(protocol, 1, 25),
            },
            required=("action", peers_key),
            rules=(_no_named_ports_to("protocols", "destinationNamedPort"),) if egress else (),
        )
        rules.append((direction, Arr(rule, 0, 25)))
    subject = Obj({"namespaces": SELECTOR, "pods": pods}, exactly_one=True)
    return Obj(
        {
            "tier": Str(enum=("Admin", "Baseline")),
            "priority": Int(0, 1000),
            "subject": subject,
            **dict(rules),
        },
        required=("tier", "priority", "subject"),
    )


def _document(spec: Obj) -> Obj:
    opaque = Obj(opaque=True)
    return Obj(
        {"apiVersion": Str(), "kind": Str(), "metadata": opaque, "spec": spec, "status": opaque},
        required=("spec",),
    )


SCHEMAS: dict[str, Obj] = {
    "AdminNetworkPolicy": _document(_spec_v1alpha1(baseline=False)),
    "BaselineAdminNetworkPolicy": _document(_spec_v1alpha1(baseline=True)),
    "ClusterNetworkPolicy": _document(_spec_v1alpha2()),
}


def check_cluster_policy(ctx: DocContext, kind: str) -> None:
    """Check one document of a cluster policy kind (its apiVersion already checked)."""
    _walk(ctx, (), ctx.doc, SCHEMAS[kind])
    meta = ctx.doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None  # not a mapping: reported
    if kind == "BaselineAdminNetworkPolicy" and isinstance(name, str) and name != "default":
        # The BANP type's XValidation: self.metadata.name == 'default'.
        ctx.error(
            ("metadata", "name"),
            f"Invalid value {name!r}: Only one baseline admin network policy with "
            'metadata.name="default" can be created in the cluster',
        )


_TYPE_NAMES = {Int: "integer", Str: "string", Arr: "array", MapOf: "object", Obj: "object"}


def _type_ok(value: Any, schema: Schema) -> bool:
    if isinstance(schema, Int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(schema, Str):
        return isinstance(value, str)
    if isinstance(schema, Arr):
        return isinstance(value, list)
    return isinstance(value, dict)


def _walk(ctx: DocContext, path: Path, value: Any, schema: Schema) -> None:
    if not _type_ok(value, schema):
        got = type(value).__name__
        ctx.error(
            path,
            f"Invalid value: {value!r}: must be of type {_TYPE_NAMES[type(schema)]}, got {got}",
        )
        return
    if isinstance(schema, Int):
        if value < schema.minimum:
            ctx.error(
                path, f"Invalid value: {value}: should be greater than or equal to {schema.minimum}"
            )
        elif value > schema.maximum:
            ctx.error(
                path, f"Invalid value: {value}: should be less than or equal to {schema.maximum}"
            )
    elif isinstance(schema, Str):
        _check_str(ctx, path, value, schema)
    elif isinstance(schema, Arr):
        _check_array(ctx, path, value, schema)
    elif isinstance(schema, MapOf):
        for key, item in value.items():
            _walk(ctx, (*path, key), item, schema.values)
    elif not schema.opaque:
        _check_object(ctx, path, value, schema)


def _check_str(ctx: DocContext, path: Path, value: str, schema: Str) -> None:
    if schema.enum and value not in schema.enum:
        allowed = ", ".join(f'"{e}"' for e in schema.enum)
        ctx.error(path, f"Unsupported value: {value!r}: supported values: {allowed}")
    if schema.max_length is not None and len(value) > schema.max_length:
        ctx.error(path, f"Too long: may not be longer than {schema.max_length}")
    # Go's RE2 "$" is the end of the text; Python's also matches before a final newline.
    if schema.pattern is not None and not (re.match(schema.pattern, value) and "\n" not in value):
        ctx.error(path, f"Invalid value: {value!r}: should match '{schema.pattern}'")
    if schema.cidr and names.cidr(value) is not None:
        ctx.error(path, f"Invalid value: {value!r}: Invalid CIDR format provided")


def _check_array(ctx: DocContext, path: Path, value: list[Any], schema: Arr) -> None:
    if len(value) < schema.min_items:
        ctx.error(
            path, f"Invalid value: {len(value)}: should have at least {schema.min_items} items"
        )
    if schema.max_items is not None and len(value) > schema.max_items:
        ctx.error(path, f"Too many: {len(value)}: must have at most {schema.max_items} items")
    seen: set[Any] = set()
    for i, item in enumerate(value):
        if schema.unique and isinstance(item, str):
            if item in seen:
                ctx.error((*path, i), f"Duplicate value: {item!r}")
            seen.add(item)
        _walk(ctx, (*path, i), item, schema.items)


def _check_object(ctx: DocContext, path: Path, value: dict[str, Any], schema: Obj) -> None:
    for key in schema.required:
        if key not in value:
            ctx.error((*path, key), "Required value")
    for key in value:
        if key not in schema.props:
            ctx.error((*path, key), f'unknown field "{key}"')
    before = len(ctx.errors)
    present = [k for k in value if k in schema.props]
    if schema.exactly_one and len(present) != 1:
        fields = ", ".join(schema.props)
        got = f" (got {', '.join(present)})" if present else ""
        ctx.error(path, f"Invalid value: exactly one of {fields} must be set{got}")
    if len(value) < schema.min_props:
        ctx.error(path, f"Invalid value: should have at least {schema.min_props} properties")
    for key in present:
        _walk(ctx, (*path, key), value[key], schema.props[key])
    if schema.selector and len(ctx.errors) == before:
        check_selector(ctx, path, value)  # operators, values, label syntax
    for rule in schema.rules:
        rule(ctx, path, value)
