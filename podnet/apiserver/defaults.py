"""Defaulting, as the API server does before validation: what ``kubectl get -o yaml``
shows that the user never wrote.

From ``pkg/apis/core/v1/defaults.go``, ``pkg/apis/apps/v1/defaults.go``,
``pkg/apis/batch/v1/defaults.go``, ``pkg/apis/networking/v1/defaults.go``,
``pkg/apis/storage/v1/defaults.go``, plus the
admission plugins every cluster runs on Pods (ServiceAccount: ``serviceAccountName``;
Priority: ``priority``; DefaultTolerationSeconds: the not-ready/unreachable tolerations).
Everything edits the object in place and only fills what is absent.
"""

from __future__ import annotations

from typing import Any

from podnet.apiserver.admission import kinds, serviceaccount, storage
from podnet.apiserver.resources import Resource

Obj = dict[str, Any]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_TOLERATION_SECONDS = 300  # plugin/pkg/admission/defaulttolerationseconds
_TOLERATION_KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _d(obj: Obj, key: str, value: Any) -> Any:
    """``obj[key]``, set to ``value`` when absent or null."""
    if obj.get(key) is None:
        obj[key] = value
    return obj[key]


def _sub(obj: Obj, key: str) -> Obj:
    v = obj.get(key)
    if not isinstance(v, dict):
        v = obj[key] = {}
    return v


def _items(obj: Obj, key: str) -> list[Obj]:
    v = obj.get(key)
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or no tag (a digest counts as a tag), else ``IfNotPresent``."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        _d(probe, key, value)
    if isinstance(probe.get("httpGet"), dict):
        _d(probe["httpGet"], "path", "/")
        _d(probe["httpGet"], "scheme", "HTTP")


def _container(c: Obj) -> None:
    image = c.get("image")
    if isinstance(image, str) and image:
        _d(c, "imagePullPolicy", image_pull_policy(image))
    _d(c, "terminationMessagePath", "/dev/termination-log")
    _d(c, "terminationMessagePolicy", "File")
    resources = _d(c, "resources", {})
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        # SetDefaults_Container... requests default to limits (defaults.go SetDefaults_Pod)
        requests = _d(resources, "requests", {})
        for k, v in resources["limits"].items():
            requests.setdefault(k, v)
    for port in _items(c, "ports"):
        _d(port, "protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the container defaults (templates and Pods alike)."""
    _d(spec, "dnsPolicy", "ClusterFirst")
    _d(spec, "restartPolicy", "Always")
    _d(spec, "securityContext", {})
    _d(spec, "terminationGracePeriodSeconds", 30)
    _d(spec, "schedulerName", "default-scheduler")
    for key in ("initContainers", "containers"):
        for c in _items(spec, key):
            _container(c)
    # The legacy field mirrors serviceAccountName both ways (SetDefaults_PodSpec).
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]


def ephemeral_containers(spec: Obj) -> None:
    """SetDefaults_EphemeralContainer is SetDefaults_Container on the common fields, but
    an ephemeral container has no resources (pkg/apis/core/v1/defaults.go)."""
    for c in _items(spec, "ephemeralContainers"):
        image = c.get("image")
        if isinstance(image, str) and image:
            _d(c, "imagePullPolicy", image_pull_policy(image))
        _d(c, "terminationMessagePath", "/dev/termination-log")
        _d(c, "terminationMessagePolicy", "File")


def pod(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    pod_spec(spec)
    ephemeral_containers(spec)
    _d(spec, "enableServiceLinks", True)  # SetDefaults_Pod
    # Admission (ServiceAccount, Priority, DefaultTolerationSeconds): Pods only.
    _d(spec, "serviceAccountName", "default")
    _d(spec, "serviceAccount", spec["serviceAccountName"])
    if not spec.get("priorityClassName"):
        # Priority admission with no class: getDefaultPriority's 0 and
        # PreemptLowerPriority (a globalDefault class, or a named one: :func:`admit`)
        _d(spec, "priority", 0)
        _d(spec, "preemptionPolicy", "PreemptLowerPriority")
    tolerations = _d(spec, "tolerations", [])
    if isinstance(tolerations, list):
        for key in _TOLERATION_KEYS:
            if not any(
                isinstance(t, dict)
                and t.get("key") == key
                and t.get("effect") in ("NoExecute", "", None)
                for t in tolerations
            ):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                    }
                )


def _template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec(_sub(template, "spec"))


def service(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    type_ = _d(spec, "type", "ClusterIP")
    _d(spec, "sessionAffinity", "None")
    for port in _items(spec, "ports"):
        _d(port, "protocol", "TCP")
        if type_ != "ExternalName" and port.get("port") is not None:
            _d(port, "targetPort", port["port"])  # no port: validation says it is required
    if type_ in ("NodePort", "LoadBalancer"):
        _d(spec, "externalTrafficPolicy", "Cluster")
    if type_ == "LoadBalancer":
        _d(spec, "allocateLoadBalancerNodePorts", True)
    if type_ != "ExternalName":
        _d(spec, "internalTrafficPolicy", "Cluster")
        # Single-stack IPv4 cluster (pkg/registry/core/service/storage/alloc.go
        # initIPFamilyFields): every non-ExternalName Service gets these.
        _d(spec, "ipFamilies", ["IPv4"])
        _d(spec, "ipFamilyPolicy", "SingleStack")
    _d(obj, "status", {"loadBalancer": {}})


def deployment(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _d(spec, "replicas", 1)
    strategy = _sub(spec, "strategy")
    _d(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _sub(strategy, "rollingUpdate")
        _d(ru, "maxUnavailable", "25%")
        _d(ru, "maxSurge", "25%")
    _d(spec, "revisionHistoryLimit", 10)
    _d(spec, "progressDeadlineSeconds", 600)
    _template(spec)


def replica_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _d(spec, "replicas", 1)
    _template(spec)


def replication_controller(obj: Obj) -> None:
    """SetDefaults_ReplicationController: selector and labels from the template's labels."""
    spec = _sub(obj, "spec")
    _d(spec, "replicas", 1)
    template = spec.get("template")
    tlabels = (
        ((template or {}).get("metadata") or {}).get("labels")
        if isinstance(template, dict)
        else None
    )
    if tlabels:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        meta = _sub(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(tlabels)
    _template(spec)


def stateful_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _d(spec, "replicas", 1)
    _d(spec, "podManagementPolicy", "OrderedReady")
    strategy = _sub(spec, "updateStrategy")
    _d(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _d(_sub(strategy, "rollingUpdate"), "partition", 0)
    _d(spec, "revisionHistoryLimit", 10)
    policy = _sub(spec, "persistentVolumeClaimRetentionPolicy")
    _d(policy, "whenDeleted", "Retain")
    _d(policy, "whenScaled", "Retain")
    _template(spec)


def daemon_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    strategy = _sub(spec, "updateStrategy")
    _d(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _sub(strategy, "rollingUpdate")
        _d(ru, "maxUnavailable", 1)
        _d(ru, "maxSurge", 0)
    _d(spec, "revisionHistoryLimit", 10)
    _template(spec)


def job(obj: Obj) -> None:
    """SetDefaults_Job (the selector is generated at create: strategy.job_selector)."""
    spec = _sub(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _d(spec, "parallelism", 1)
    _d(spec, "backoffLimit", 6)
    _d(spec, "completionMode", "NonIndexed")
    _d(spec, "suspend", False)
    if spec.get("podFailurePolicy") is None:
        _d(spec, "podReplacementPolicy", "TerminatingOrFailed")
    _template(spec)


def network_policy(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    for key in ("ingress", "egress"):
        for rule in _items(spec, key):
            for port in _items(rule, "ports"):
                _d(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def cron_job(obj: Obj) -> None:
    """SetDefaults_CronJob (pkg/apis/batch/v1/defaults.go); the job template's pod spec
    as every PodSpec (SetDefaults_Job is not applied to a template)."""
    spec = _sub(obj, "spec")
    _d(spec, "concurrencyPolicy", "Allow")
    _d(spec, "suspend", False)
    _d(spec, "successfulJobsHistoryLimit", 3)
    _d(spec, "failedJobsHistoryLimit", 1)
    _d(obj, "status", {})  # cronjob strategy PrepareForCreate: an empty status
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _template(_sub(job_template, "spec"))


def ingress(obj: Obj) -> None:
    """Ingress strategy PrepareForCreate leaves an empty status: with no ingress
    controller, ``status.loadBalancer: {}`` is what a real cluster serves."""
    status = _sub(obj, "status")
    _d(status, "loadBalancer", {})


def ingress_class(obj: Obj) -> None:
    """SetDefaults_IngressClass (pkg/apis/networking/v1/defaults.go): parameters are
    cluster-scoped unless said otherwise."""
    params = _sub(obj, "spec").get("parameters")
    if isinstance(params, dict):
        _d(params, "scope", "Cluster")


def pod_disruption_budget(obj: Obj) -> None:
    """The status a new PodDisruptionBudget shows before the disruption controller's
    first sync: PodDisruptionBudgetStatus's four counts are not omitempty."""
    status = _sub(obj, "status")
    for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        _d(status, key, 0)


def priority_class(obj: Obj) -> None:
    """SetDefaults_PriorityClass (pkg/apis/scheduling/v1/defaults.go)."""
    _d(obj, "preemptionPolicy", "PreemptLowerPriority")


def persistent_volume_claim(obj: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim and SetDefaults_PersistentVolumeClaimSpec
    (pkg/apis/core/v1/defaults.go): a Pending claim of a Filesystem volume."""
    _d(_sub(obj, "spec"), "volumeMode", "Filesystem")
    _d(_sub(obj, "status"), "phase", "Pending")


def persistent_volume(obj: Obj) -> None:
    """SetDefaults_PersistentVolume: Pending, Retain, Filesystem."""
    spec = _sub(obj, "spec")
    _d(spec, "persistentVolumeReclaimPolicy", "Retain")
    _d(spec, "volumeMode", "Filesystem")
    _d(_sub(obj, "status"), "phase", "Pending")


def storage_class(obj: Obj) -> None:
    """SetDefaults_StorageClass (pkg/apis/storage/v1/defaults.go)."""
    _d(obj, "reclaimPolicy", "Delete")
    _d(obj, "volumeBindingMode", "Immediate")


def namespace(obj: Obj) -> None:
    meta = _sub(obj, "metadata")
    name = meta.get("name")
    if isinstance(name, str) and name:
        _sub(meta, "labels")[NAMESPACE_NAME_LABEL] = name  # always the name (SetDefaults_Namespace)
    _d(_sub(obj, "status"), "phase", "Active")


def secret(obj: Obj) -> None:
    _d(obj, "type", "Opaque")


def _endpoint_ports(obj: Obj) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _d(port, "protocol", "TCP")


def _slice_ports(obj: Obj) -> None:
    for port in _items(obj, "ports"):
        _d(port, "protocol", "TCP")


_BY_KIND = {
    "Pod": pod,
    "Service": service,
    "Deployment": deployment,
    "ReplicaSet": replica_set,
    "ReplicationController": replication_controller,
    "StatefulSet": stateful_set,
    "DaemonSet": daemon_set,
    "Job": job,
    "NetworkPolicy": network_policy,
    "Namespace": namespace,
    "Secret": secret,
    "Endpoints": _endpoint_ports,
    "EndpointSlice": _slice_ports,
    "CronJob": cron_job,
    "Ingress": ingress,
    "IngressClass": ingress_class,
    "PodDisruptionBudget": pod_disruption_budget,
    "PriorityClass": priority_class,
    "PersistentVolumeClaim": persistent_volume_claim,
    "PersistentVolume": persistent_volume,
    "StorageClass": storage_class,
}


# Maps and lists tagged ``omitempty`` in the Go types: kube-apiserver decodes a body into
# them and encodes the result, so an empty one is never stored or shown. kubectl diff
# and client-side apply send ``metadata.annotations: {}`` (GetModifiedConfiguration
# sets an empty map), and a diff against an object that kept it would never be clean.
_META_OMITEMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")
_OMITEMPTY = {
    "ConfigMap": ("data", "binaryData"),
    "Secret": ("data", "stringData"),
    "Endpoints": ("subsets",),
    "StorageClass": ("parameters", "mountOptions", "allowedTopologies"),
}


def omit_empty(kind: str, obj: Obj) -> None:
    """Drop the empty ``omitempty`` maps and lists that Go's JSON encoding would drop
    (k8s.io/apimachinery ObjectMeta; core/v1 ConfigMap, Secret, Endpoints)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in _META_OMITEMPTY:
            if key in meta and meta[key] in ({}, []):
                del meta[key]
    for key in _OMITEMPTY.get(kind, ()):
        if key in obj and obj[key] in ({}, []):
            del obj[key]


def apply_defaults(kind: str, obj: Obj) -> None:
    """Fill the defaults of an object of ``kind`` in place (unknown kinds: nothing), and
    drop what the typed round trip of kube-apiserver drops (:func:`omit_empty`)."""
    omit_empty(kind, obj)
    fill = _BY_KIND.get(kind)
    if fill is not None:
        fill(obj)


def admit(registry: Any, res: Resource, obj: Obj, old: Obj | None = None) -> None:
    """Admission after defaulting, before storage: the plugins that read other objects
    (Priority, DefaultIngressClass, DefaultStorageClass), StorageObjectInUseProtection
    (:mod:`podnet.apiserver.admission.storage`), and the validation of the kinds without
    a manifests model (:mod:`podnet.apiserver.admission.kinds`); ``old`` is None on
    create. Raises the ApiError (403 Forbidden, 422 Invalid) the request gets."""
    pod = res.kind == "Pod" and res.group == ""
    if pod and "ServiceAccount" not in registry.disabled_admission:  # before Priority
        serviceaccount.admit_pod(registry, res, obj, old)
    elif res.kind == "Secret" and res.group == "":
        serviceaccount.validate_secret(obj)
    elif res.kind in ("PersistentVolumeClaim", "PersistentVolume") and res.group == "":
        storage.admit(registry, res, obj, old)  # DefaultStorageClass, in-use protection
    kinds.admit(registry, res, obj, old)
