"""Validated documents -> model objects, applying the API server's defaulting.

Defaults reproduced (k8s.io/kubernetes pkg/apis/core/v1/defaults.go):
SetDefaults_Pod / SetDefaults_PodSpec (restartPolicy Always), SetDefaults_ContainerPort
(protocol TCP), SetDefaults_Probe (timeout 1, period 10, success 1, failure 3),
SetDefaults_HTTPGetAction (path "/", scheme HTTP), SetDefaults_Service (type ClusterIP,
sessionAffinity None, ClientIP timeout 10800, port protocol TCP, targetPort = port when
unset or 0), SetDefaults_Namespace (label ``kubernetes.io/metadata.name``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.meta import Meta
from podnet.model.objects import (
    Container,
    ContainerPort,
    Namespace,
    Pod,
    Probe,
    SecurityContext,
    Service,
    ServicePort,
)
from podnet.model.selectors import LabelSelector, Requirement

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_AFFINITY_TIMEOUT = 10800


def labels_of(meta: Any) -> dict[str, str]:
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in (labels or {}).items()}


def to_selector(sel: Any) -> LabelSelector:
    """A ``metav1.LabelSelector``; an absent selector is the empty one (matches all)."""
    if not isinstance(sel, dict):
        return LabelSelector()
    exprs = tuple(
        Requirement(str(r["key"]), str(r["operator"]), tuple(str(v) for v in r.get("values") or ()))
        for r in sel.get("matchExpressions") or ()
    )
    return LabelSelector(
        match_labels=tuple(
            sorted((str(k), str(v)) for k, v in (sel.get("matchLabels") or {}).items())
        ),
        match_expressions=exprs,
    )


def to_namespace(doc: dict[str, Any], meta: Meta) -> Namespace:
    labels = labels_of(doc.get("metadata"))
    labels[NAMESPACE_NAME_LABEL] = meta.name  # always set, overriding any user value
    return Namespace(name=meta.name, labels=labels, meta=meta)


def to_pod(
    ctx: DocContext,
    path: Path,
    spec: dict[str, Any],
    *,
    namespace: str,
    name: str,
    labels: dict[str, str],
    meta: Meta,
    owner: str | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
) -> Pod:
    """A pod from a PodSpec at ``path`` (``spec`` or ``spec.template.spec``)."""
    if spec.get("hostNetwork"):
        ctx.warn(
            (*path, "hostNetwork"),
            "hostNetwork is not supported; the pod gets its own network namespace and pod IP",
        )
    grace = spec.get("terminationGracePeriodSeconds")
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels,
        containers=tuple(
            to_container(ctx, (*path, "containers", i), c, grace=grace)
            for i, c in enumerate(spec.get("containers") or ())
        ),
        init_containers=tuple(
            to_container(ctx, (*path, "initContainers", i), c)
            for i, c in enumerate(spec.get("initContainers") or ())
        ),
        node_name=spec.get("nodeName") or None,
        node_selector={str(k): str(v) for k, v in (spec.get("nodeSelector") or {}).items()},
        hostname=hostname or spec.get("hostname") or None,
        subdomain=subdomain or spec.get("subdomain") or None,
        restart_policy=spec.get("restartPolicy") or "Always",
        owner=owner,
        meta=meta,
        security_context=to_security(spec.get("securityContext")),
        share_process_namespace=spec.get("shareProcessNamespace") is True,
    )


def to_container(
    ctx: DocContext, path: Path, c: dict[str, Any], *, grace: int | None = None
) -> Container:
    """``grace``: the pod's terminationGracePeriodSeconds, the kill grace of liveness
    and startup probes that set none (kuberuntime_container.go killContainer)."""
    env: list[tuple[str, str]] = []
    for i, e in enumerate(c.get("env") or ()):
        value = e.get("value")
        if value is None and e.get("valueFrom") is not None:
            # resolved by the kubelet when the pod starts (podnet.live.node.envfrom), from
            # the API's ConfigMaps/Secrets or those of the same files (podnet run)
            ctx.warn(
                (*path, "env", i, "valueFrom"),
                'valueFrom is resolved when the pod starts; "" in static analysis',
            )
        env.append((str(e["name"]), "" if value is None else str(value)))
    probes = {
        key: to_probe(ctx, (*path, key), p, grace=None if key == "readinessProbe" else grace)
        for key in ("readinessProbe", "livenessProbe", "startupProbe")
        if isinstance(p := c.get(key), dict)
    }
    return Container(
        name=str(c["name"]),
        image=str(c.get("image") or ""),
        command=tuple(str(a) for a in c.get("command") or ()),
        args=tuple(str(a) for a in c.get("args") or ()),
        env=tuple(env),
        working_dir=c.get("workingDir") or None,
        ports=tuple(
            ContainerPort(
                container_port=int(p["containerPort"]),
                protocol=p.get("protocol") or "TCP",
                name=p.get("name") or None,
            )
            for p in c.get("ports") or ()
        ),
        readiness_probe=probes.get("readinessProbe"),
        liveness_probe=probes.get("livenessProbe"),
        startup_probe=probes.get("startupProbe"),
        stdin=c.get("stdin") is True,
        stdin_once=c.get("stdinOnce") is True,
        tty=c.get("tty") is True,
        security_context=to_security(c.get("securityContext")),
    )


def to_security(sc: Any) -> SecurityContext | None:
    """Pod or container securityContext: the fields the runtime honours."""
    if not isinstance(sc, dict) or not sc:
        return None
    caps = sc.get("capabilities") or {}

    def opt_int(key: str) -> int | None:
        v = sc.get(key)
        return int(v) if isinstance(v, int) and not isinstance(v, bool) else None

    def opt_bool(key: str) -> bool | None:
        v = sc.get(key)
        return v if isinstance(v, bool) else None

    return SecurityContext(
        run_as_user=opt_int("runAsUser"),
        run_as_group=opt_int("runAsGroup"),
        run_as_non_root=opt_bool("runAsNonRoot"),
        privileged=sc.get("privileged") is True,
        read_only_root_filesystem=sc.get("readOnlyRootFilesystem") is True,
        allow_privilege_escalation=opt_bool("allowPrivilegeEscalation"),
        caps_add=tuple(str(c) for c in caps.get("add") or ()),
        caps_drop=tuple(str(c) for c in caps.get("drop") or ()),
        supplemental_groups=tuple(int(g) for g in sc.get("supplementalGroups") or ()),
        fs_group=opt_int("fsGroup"),
    )


def to_probe(
    ctx: DocContext, path: Path, p: dict[str, Any], *, grace: int | None = None
) -> Probe | None:
    """A probe; ``grace``: the pod's kill grace when the probe sets no
    terminationGracePeriodSeconds of its own (liveness/startup only)."""
    own = p.get("terminationGracePeriodSeconds")
    base = Probe(
        initial_delay_seconds=p.get("initialDelaySeconds") or 0,
        period_seconds=p.get("periodSeconds") or 10,
        timeout_seconds=p.get("timeoutSeconds") or 1,
        success_threshold=p.get("successThreshold") or 1,
        failure_threshold=p.get("failureThreshold") or 3,
        termination_grace_period_seconds=own if isinstance(own, int) else grace,
    )
    if isinstance(p.get("exec"), dict):
        command = tuple(str(a) for a in p["exec"].get("command") or ())
        return replace(base, exec_command=command)
    if isinstance(p.get("httpGet"), dict):
        http = p["httpGet"]
        return replace(
            base,
            http_get_port=http["port"],
            http_get_path=http.get("path") or "/",
            http_get_scheme=http.get("scheme") or "HTTP",
            http_get_host=http.get("host") or None,
            http_headers=tuple(
                (str(h.get("name", "")), str(h.get("value", "")))
                for h in http.get("httpHeaders") or ()
                if isinstance(h, dict)
            ),
        )
    if isinstance(p.get("tcpSocket"), dict):
        return replace(base, tcp_socket_port=p["tcpSocket"]["port"])
    if isinstance(p.get("grpc"), dict) and isinstance(p["grpc"].get("port"), int):
        service = p["grpc"].get("service")
        return replace(
            base,
            grpc_port=p["grpc"]["port"],
            grpc_service=service if isinstance(service, str) else "",
        )
    # no handler podnet can run (the API's validation requires exactly one): upstream's
    # prober.go answers Unknown for a missing handler and the worker throws the result
    # away, so the probe never acts: ignored, with a warning
    ctx.warn(path, "a probe needs one of exec, httpGet, tcpSocket or grpc; probe ignored")
    return None


def to_service(doc: dict[str, Any], meta: Meta) -> Service:
    spec = doc.get("spec") or {}
    selector = spec.get("selector")
    affinity = spec.get("sessionAffinity") or "None"
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
        "timeoutSeconds"
    )
    return Service(
        namespace=meta.namespace,
        name=meta.name,
        type=spec.get("type") or "ClusterIP",
        # An empty selector is stored as nil (protobuf), so it selects nothing, like none.
        selector={str(k): str(v) for k, v in selector.items()} if selector else None,
        ports=tuple(_service_port(p) for p in spec.get("ports") or ()),
        cluster_ip=spec.get("clusterIP") or None,
        external_name=spec.get("externalName") or None,
        session_affinity=affinity,
        session_affinity_timeout=timeout or DEFAULT_AFFINITY_TIMEOUT,
        publish_not_ready_addresses=bool(spec.get("publishNotReadyAddresses")),
        labels=labels_of(doc.get("metadata")),
        meta=meta,
    )


def _service_port(p: dict[str, Any]) -> ServicePort:
    port = int(p["port"])
    target = p.get("targetPort")
    return ServicePort(
        port=port,
        target_port=port if target in (None, 0, "") else target,
        protocol=p.get("protocol") or "TCP",
        name=p.get("name") or "",
        node_port=p.get("nodePort") or None,
        app_protocol=p.get("appProtocol") or None,
    )
