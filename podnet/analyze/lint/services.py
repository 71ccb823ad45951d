"""Service rules: ``service-selects-nothing`` and ``target-port-unmatched``.

Selection follows the EndpointSlice controller: a Service without a selector has
hand-managed endpoints (not checked); ExternalName Services have none; otherwise the
pods of the Service's namespace whose labels match every selector pair.
A named targetPort is resolved per pod and pods lacking it are left out of the
endpoints (https://kubernetes.io/docs/concepts/services-networking/service/#field-spec-ports),
so a name no pod declares leaves the port with no endpoints at all - an error. A numeric
targetPort is used as is whether declared or not, so an undeclared one is a warning.
"""

from __future__ import annotations

from difflib import get_close_matches

from podnet.analyze.lint.context import LintContext
from podnet.analyze.lint.finding import Finding
from podnet.control.served import container_ports, serves
from podnet.model.objects import Pod, Service
from podnet.model.selectors import matches_map


def selected_pods(ctx: LintContext, svc: Service) -> list[Pod]:
    if svc.selector is None or svc.type == "ExternalName":
        return []
    return [p for p in ctx.pods_in(svc.namespace) if matches_map(svc.selector, p.labels)]


def _selects_nothing(ctx: LintContext, svc: Service) -> Finding:
    sel = ",".join(f"{k}={v}" for k, v in sorted((svc.selector or {}).items()))
    labels = sorted({f"{k}={v}" for p in ctx.pods_in(svc.namespace) for k, v in p.labels.items()})
    close = get_close_matches(sel, labels, n=1, cutoff=0.8) if len(svc.selector or {}) == 1 else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    return Finding(
        "service-selects-nothing",
        "warning",
        f"Service/{svc.namespace}/{svc.name}",
        "spec.selector",
        f"selector {sel} matches no pod in namespace {svc.namespace}{hint}; "
        "the Service has no endpoints and connections to it are refused",
        "make spec.selector equal labels of the pods that should serve it"
        + (f", e.g. {close[0]}" if close else ""),
    )


def _port_findings(svc: Service, pods: list[Pod]) -> list[Finding]:
    out: list[Finding] = []
    for i, sp in enumerate(svc.ports):
        tp = sp.target_port
        if isinstance(tp, str):
            if any(p.named_port(tp, sp.protocol) is not None for p in pods):
                continue
            names = sorted({cp.name for p in pods for cp in p.all_ports() if cp.name})
            out.append(
                Finding(
                    "target-port-unmatched",
                    "error",
                    f"Service/{svc.namespace}/{svc.name}",
                    f"spec.ports[{i}].targetPort",
                    f"no selected pod declares a {sp.protocol} port named {tp!r}; "
                    f"port {sp.port} has no endpoints",
                    f"use one of the declared names {names}"
                    if names
                    else f"name the container port {tp!r} in the pod template",
                )
            )
        elif not any(serves(p, tp, sp.protocol) for p in pods):
            served = sorted(
                {f"{cp.container_port}/{cp.protocol}" for p in pods for cp in container_ports(p)}
            )
            out.append(
                Finding(
                    "target-port-unmatched",
                    "warning",
                    f"Service/{svc.namespace}/{svc.name}",
                    f"spec.ports[{i}].targetPort",
                    f"no selected pod declares or is known to serve {tp}/{sp.protocol}"
                    + (f" (they serve {', '.join(served)})" if served else ""),
                    "set targetPort to the port the container listens on"
                    + (f", e.g. {served[0].split('/')[0]}" if served else "")
                    + ", or declare it in the container's ports",
                )
            )
    return out


def check(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    for svc in ctx.state.services:
        if svc.selector is None or svc.type == "ExternalName":
            continue
        pods = selected_pods(ctx, svc)
        if not pods:
            out.append(_selects_nothing(ctx, svc))
            continue
        out.extend(_port_findings(svc, pods))
    return out
