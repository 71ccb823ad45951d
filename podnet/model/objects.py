"""The typed cluster model: frozen dataclasses, already validated and defaulted.

These are produced by :mod:`podnet.manifests` (which applies the API server's
defaulting) and consumed by the controllers in :mod:`podnet.control`. Field names follow
the Kubernetes API in snake_case. Nothing here does I/O.

Labels and selectors are plain dicts; objects are keyed by ``(namespace, name)``, never
hashed whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.model.clusterpolicy import ClusterNetworkPolicy
from podnet.model.meta import Meta
from podnet.model.selectors import LabelSelector

PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: dict[str, str]
    meta: Meta | None = None


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Probe:
    """readinessProbe / livenessProbe / startupProbe; exactly one handler is set.

    ``termination_grace_period_seconds``: the grace of a kill this probe causes
    (liveness/startup), the probe's own else the pod's (resolved when converted)."""

    exec_command: tuple[str, ...] | None = None
    http_get_port: int | str | None = None
    http_get_path: str = "/"
    http_get_scheme: str = "HTTP"
    http_get_host: str | None = None  # the address to connect to; None: the pod IP
    http_headers: tuple[tuple[str, str], ...] = ()
    tcp_socket_port: int | str | None = None
    grpc_port: int | None = None  # GRPCAction: a number only, no named port
    grpc_service: str = ""  # the HealthCheckRequest's service ("": the server's overall health)
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


@dataclass(frozen=True)
class SecurityContext:
    """The securityContext fields podnet honours (pod-level ones: user, group, runAsNonRoot,
    supplementalGroups, fsGroup; the rest are container-level)."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    privileged: bool = False
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None
    caps_add: tuple[str, ...] = ()
    caps_drop: tuple[str, ...] = ()
    supplemental_groups: tuple[int, ...] = ()
    fs_group: int | None = None  # the volumes' group, and one of the processes' groups


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    # the runtime keeps a pipe to the process's stdin for ``attach -i``; stdin_once:
    # closed when the first attach session ends (the Container spec's stdin/stdinOnce)
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False  # a terminal as the process's stdio (crun's console, attach -t)
    security_context: SecurityContext | None = None


@dataclass(frozen=True)
class Pod:
    """A pod, declared directly or expanded from a workload.

    ``ip`` and ``node`` are ``None`` as loaded and are filled in by
    :func:`podnet.control.cluster.build_cluster` (scheduling and IPAM).
    ``owner`` is ``Kind/name`` of the workload that created it, if any.
    """

    namespace: str
    name: str
    labels: dict[str, str]
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    node_name: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None
    subdomain: str | None = None
    restart_policy: str = "Always"
    owner: str | None = None
    meta: Meta | None = None
    ip: str | None = None
    node: str | None = None
    security_context: SecurityContext | None = None
    share_process_namespace: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: str) -> int | None:
        """Resolve a named container port on this pod (first container declaring it)."""
        for c in self.containers:
            for p in c.ports:
                if p.name == name and p.protocol == protocol:
                    return p.container_port
        return None

    def all_ports(self) -> tuple[ContainerPort, ...]:
        return tuple(p for c in self.containers for p in c.ports)


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str
    protocol: str = "TCP"
    name: str = ""
    node_port: int | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class Service:
    """A Service. ``cluster_ip`` is ``None`` until allocated, ``"None"`` when headless.

    ``selector`` is ``None`` for a Service without a selector (endpoints are managed
    by hand, which podnet does not do: such a Service has no endpoints).
    """

    namespace: str
    name: str
    type: str = "ClusterIP"  # ClusterIP, NodePort, LoadBalancer, ExternalName
    selector: dict[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str | None = None
    external_name: str | None = None
    session_affinity: str = "None"
    session_affinity_timeout: int = 10800
    publish_not_ready_addresses: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    meta: Meta | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"


@dataclass(frozen=True)
class IPBlock:
    cidr: str
    except_: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyPeer:
    """One ``from``/``to`` entry.

    Kubernetes semantics (networking/v1 types.go NetworkPolicyPeer): with only
    ``pod_selector``, pods in the policy's namespace; with only ``namespace_selector``,
    all pods in the selected namespaces; with both, the selected pods in the selected
    namespaces; ``ip_block`` alone, those addresses.
    """

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True)
class PolicyPort:
    """``protocol`` defaulted to TCP; ``port`` None means all ports of the protocol."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True)
class PolicyRule:
    """An ingress or egress rule. Empty ``ports`` = all ports; empty ``peers`` = all peers."""

    ports: tuple[PolicyPort, ...] = ()
    peers: tuple[PolicyPeer, ...] = ()


@dataclass(frozen=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: tuple[str, ...]  # defaulted: "Ingress" always, "Egress" if egress given
    ingress: tuple[PolicyRule, ...] = ()
    egress: tuple[PolicyRule, ...] = ()
    meta: Meta | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Manifests:
    """Everything loaded from the user's files, after workload expansion and defaulting.

    ``namespaces`` always includes ``default`` and ``kube-system`` (the API server
    creates them), each labelled ``kubernetes.io/metadata.name``.
    """

    namespaces: tuple[Namespace, ...] = ()
    pods: tuple[Pod, ...] = ()
    services: tuple[Service, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    warnings: tuple[str, ...] = ()
    # One template pod per DaemonSet (name = the DaemonSet's, owner set). Not in
    # ``pods``: podnet.control expands each per node with
    # podnet.control.scheduler.expand_daemonsets once the nodes are known.
    daemonsets: tuple[Pod, ...] = ()
    # AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy, as one model
    cluster_policies: tuple[ClusterNetworkPolicy, ...] = ()


def ephemeral_claim(pod_name: str, volume_name: str) -> str:
    """The claim of a pod's generic ephemeral volume (ephemeral.VolumeClaimName): what
    the ephemeral volume controller creates and the kubelet mounts."""
    return f"{pod_name}-{volume_name}"
