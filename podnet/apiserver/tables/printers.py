"""The per-kind printers of server-side ``Table`` output, what ``kubectl get`` prints.

Columns and cells as kube-apiserver's printers (``pkg/printers/internalversion/
printers.go``, generated with ``Wide: true``: priority-1 columns are the ``-o wide``
ones); custom resources as their CRDs' ``additionalPrinterColumns`` (apiextensions'
``tableconvertor``); any other kind NAME and AGE (``rest.DefaultTableConvertor``).
Ages are ``duration.HumanDuration``; ``now`` is passed in so the functions stay pure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from podnet.apiserver.admission.storage import BETA_CLASS_ANNOTATION, is_default_class
from podnet.apiserver.store.base import Obj

Row = list[Any]
Column = tuple[str, str, int, str]  # name, type, priority, description

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y" if dy == 0 else f"{h // 24 // 365}y{dy}d"
    return f"{h // 24 // 365}y"


def _ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def since(value: Any, now: float) -> str:
    """``translateTimestampSince``: ``<unknown>`` for no timestamp."""
    t = _ts(value)
    return "<unknown>" if t is None else human_duration(now - t)


def field(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _list(obj: Any, *path: str) -> list[Any]:
    v = field(obj, *path)
    return v if isinstance(v, list) else []


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _labels(m: Any) -> str:
    """``labels.FormatLabels``: sorted ``k=v``, ``<none>`` when empty."""
    if not isinstance(m, dict) or not m:
        return "<none>"
    return ",".join(f"{k}={m[k]}" for k in sorted(m))


def _selector(sel: Any) -> str:
    """``metav1.LabelSelectorAsSelector(...).String()``."""
    if not isinstance(sel, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or ():
        op, key, vals = e.get("operator"), e.get("key"), sorted(e.get("values") or ())
        if op == "In":
            parts.append(f"{key} in ({','.join(vals)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(vals)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts)) if parts else ""


def _template_cells(spec: Any) -> list[str]:
    cs = _list(spec, "template", "spec", "containers")
    return [
        ",".join(str(c.get("name", "")) for c in cs),
        ",".join(str(c.get("image", "")) for c in cs),
    ]


# -- Pod ------------------------------------------------------------------------------------


def _restartable(c: Any) -> bool:
    return isinstance(c, dict) and c.get("restartPolicy") == "Always"


def pod_row(pod: Obj, now: float) -> tuple[Row, list[dict[str, str]]]:
    """``printPod``: READY, STATUS (the reason kubectl shows), RESTARTS with the last
    restart's age, and the wide cells."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for c in _list(status, "conditions"):
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in _list(spec, "initContainers")}
    total = len(_list(spec, "containers")) + sum(_restartable(c) for c in init_specs.values())
    ready = restarts = sidecar_restarts = 0
    last = sidecar_last = 0.0

    def finished(cs: Any) -> float:
        return _ts(field(cs, "lastState", "terminated", "finishedAt")) or 0.0

    initializing = False
    n_init = len(_list(spec, "initContainers"))
    for i, cs in enumerate(_list(status, "initContainerStatuses")):
        restarts += _int(cs.get("restartCount"))
        last = max(last, finished(cs))
        sidecar = _restartable(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last = max(sidecar_last, finished(cs))
        term, wait = field(cs, "state", "terminated"), field(cs, "state", "waiting")
        if term is not None and _int(term.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += bool(cs.get("ready"))
            continue
        if term is not None:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{_int(term.get('exitCode'))}"
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in _list(status, "conditions")
    )
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for cs in reversed(_list(status, "containerStatuses")):
            restarts += _int(cs.get("restartCount"))
            last = max(last, finished(cs))
            term, wait = field(cs, "state", "terminated"), field(cs, "state", "waiting")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                sig = term.get("signal")
                reason = f"Signal:{sig}" if sig else f"ExitCode:{_int(term.get('exitCode'))}"
            elif cs.get("ready") and field(cs, "state", "running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            pod_ready = any(c.get("type") == "Ready" for c in _list(status, "conditions"))
            reason = "Running" if pod_ready else "NotReady"
    deleting = field(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last:
        restarts_cell = f"{restarts} ({human_duration(now - last)} ago)"
    ips = _list(status, "podIPs")
    gates = _list(spec, "readinessGates")
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in _list(status, "conditions")}
        true = sum(conds.get(g.get("conditionType")) == "True" for g in gates)
        gates_cell = f"{true}/{len(gates)}"
    row: Row = [
        field(pod, "metadata", "name") or "",
        f"{ready}/{total}",
        reason,
        restarts_cell,
        since(field(pod, "metadata", "creationTimestamp"), now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]
    conditions = []
    if phase == "Succeeded":
        conditions = [_row_cond("Succeeded", "The pod has completed successfully.")]
    elif phase == "Failed":
        conditions = [_row_cond("Failed", "The pod failed.")]
    return row, conditions


def _row_cond(reason: str, message: str) -> dict[str, str]:
    return {"type": "Completed", "status": "True", "reason": reason, "message": message}


# -- the other kinds -----------------------------------------------------------------------


def _service(o: Obj, now: float) -> Row:
    spec = o.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    ext = spec.get("externalIPs") or []
    if kind == "LoadBalancer":
        lb = [
            i.get("ip") or i.get("hostname") for i in _list(o, "status", "loadBalancer", "ingress")
        ]
        ips = ",".join(str(x) for x in lb + ext if x) or "<pending>"
    elif kind == "ExternalName":
        ips = spec.get("externalName") or "<none>"
    else:
        ips = ",".join(ext) or "<none>"
    ports = []
    for p in spec.get("ports") or ():
        proto = p.get("protocol") or "TCP"
        node_port = p.get("nodePort")
        ports.append(
            f"{p.get('port')}:{node_port}/{proto}" if node_port else f"{p.get('port')}/{proto}"
        )
    return [
        kind,
        spec.get("clusterIP") or "<none>",
        ips,
        ",".join(ports) or "<none>",
        AGE,
        _labels(spec.get("selector")),
    ]


def _endpoints(o: Obj, now: float) -> Row:
    addrs = []
    for s in _list(o, "subsets"):
        ports = [p.get("port") for p in s.get("ports") or ()] or [None]
        for a in s.get("addresses") or ():
            for port in ports:
                ip = a.get("ip")
                addrs.append(f"{ip}:{port}" if port is not None else str(ip))
    cell = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [cell or "<none>", AGE]


def _endpoint_slice(o: Obj, now: float) -> Row:
    ports = [str(p.get("port")) for p in _list(o, "ports") if p.get("port") is not None]
    addrs = [a for e in _list(o, "endpoints") for a in e.get("addresses") or ()]
    cell = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [o.get("addressType") or "", ",".join(ports) or "<unset>", cell or "<unset>", AGE]


def _node(o: Obj, now: float) -> Row:
    conds = {c.get("type"): c.get("status") for c in _list(o, "status", "conditions")}
    ready = conds.get("Ready")
    status = ["Ready" if ready == "True" else "NotReady" if ready == "False" else "Unknown"]
    if field(o, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    labels = field(o, "metadata", "labels") or {}
    roles = {
        k[len("node-role.kubernetes.io/") :]
        for k in labels
        if k.startswith("node-role.kubernetes.io/")
    }
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    roles.discard("")
    addrs = _list(o, "status", "addresses")
    info = field(o, "status", "nodeInfo") or {}

    def addr(kind: str) -> str:
        return next((a.get("address") for a in addrs if a.get("type") == kind), None) or "<none>"

    return [
        ",".join(status),
        ",".join(sorted(roles)) or "<none>",
        AGE,
        info.get("kubeletVersion", ""),
        addr("InternalIP"),
        addr("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _job(o: Obj, now: float) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    conds = {c.get("type") for c in st.get("conditions") or () if c.get("status") == "True"}
    if "Complete" in conds:
        status = "Complete"
    elif "Failed" in conds:
        status = "Failed"
    elif field(o, "metadata", "deletionTimestamp"):
        status = "Terminating"
    elif "Suspended" in conds:
        status = "Suspended"
    elif "FailureTarget" in conds:
        status = "FailureTarget"
    elif "SuccessCriteriaMet" in conds:
        status = "SuccessCriteriaMet"
    else:
        status = "Running"
    done = _int(st.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{done}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{done}/1 of {spec['parallelism']}"
    else:
        completions = f"{done}/1"
    start, end = _ts(st.get("startTime")), _ts(st.get("completionTime"))
    duration = "" if start is None else human_duration((end or now) - start)
    return [
        status,
        completions,
        duration,
        AGE,
        *_template_cells(spec),
        _selector(spec.get("selector")),
    ]


def event_row(o: Obj, now: float) -> Row:
    inv = o.get("involvedObject") or {}
    last = field(o, "series", "lastObservedTime") or o.get("lastTimestamp") or o.get("eventTime")
    src = o.get("source") or {}
    source = ", ".join(x for x in (src.get("component"), src.get("host")) if x) or ""
    first = o.get("firstTimestamp") or o.get("eventTime")
    return [
        since(last, now),
        o.get("type") or "",
        o.get("reason") or "",
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        inv.get("fieldPath") or "",
        source,
        (o.get("message") or "").strip(),
        since(first, now),
        str(_int(o.get("count")) or 1),
        field(o, "metadata", "name") or "",
    ]


def _controller_revision(o: Obj, now: float) -> Row:
    owner = next((r for r in _list(o, "metadata", "ownerReferences") if r.get("controller")), None)
    ctrl = "<none>"
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", "")).lower()
        ctrl = f"{kind}.{group}/{owner.get('name')}" if group else f"{kind}/{owner.get('name')}"
    return [ctrl, _int(o.get("revision")), AGE]


AGE = object()  # replaced by the object's age


# -- the kinds of batch, networking, policy, scheduling and rbac (printers.go printCronJob,
# printIngress, printIngressClass, printPodDisruptionBudget, printPriorityClass,
# printRoleBinding, printClusterRoleBinding; Role and ClusterRole have no printer: the
# DefaultTableConvertor's NAME, CREATED AT)


def _bool_ptr(v: Any) -> str:
    """printBoolPtr."""
    return "<unset>" if not isinstance(v, bool) else ("True" if v else "False")


def _cron_job(o: Obj, now: float) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    last = st.get("lastScheduleTime")
    job_spec = field(spec, "jobTemplate", "spec") or {}
    return [
        spec.get("schedule") or "",
        spec.get("timeZone") or "<none>",
        _bool_ptr(spec.get("suspend")),
        len(_list(st, "active")),
        since(last, now) if last else "<none>",
        AGE,
        *_template_cells(job_spec),
        _selector(job_spec.get("selector")),
    ]


def _ingress_hosts(rules: list[Any]) -> str:
    """formatHosts: the first three hosts, then "+ N more..."; ``*`` for none."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and isinstance(rule, dict) and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress(o: Obj, now: float) -> Row:
    spec = o.get("spec") or {}
    lbs = _list(o, "status", "loadBalancer", "ingress")
    # ingressLoadBalancerStatusStringer (wide: not clipped): sorted unique IPs or hostnames
    address = ",".join(sorted({str(i.get("ip") or i.get("hostname") or "") for i in lbs} - {""}))
    return [
        spec.get("ingressClassName") or "<none>",
        _ingress_hosts(_list(spec, "rules")),
        address,
        "80, 443" if spec.get("tls") else "80",
        AGE,
    ]


def _ingress_class(o: Obj, now: float) -> Row:
    params = field(o, "spec", "parameters")
    shown = "<none>"
    if isinstance(params, dict):
        shown = str(params.get("kind", ""))
        if params.get("apiGroup"):
            shown += "." + str(params["apiGroup"])
        shown += "/" + str(params.get("name", ""))
    return [field(o, "spec", "controller") or "", shown, AGE]


def _pdb(o: Obj, now: float) -> Row:
    spec = o.get("spec") or {}
    return [
        "N/A" if spec.get("minAvailable") is None else str(spec["minAvailable"]),
        "N/A" if spec.get("maxUnavailable") is None else str(spec["maxUnavailable"]),
        _int(field(o, "status", "disruptionsAllowed")),
        AGE,
    ]


def _hpa_metric(spec: Obj, status: Obj | None) -> str:
    """One metric of printers.go formatHPAMetrics: ``cpu: 12%/50%``, ``memory:
    <unknown>/64Mi``, ``<current>/<target>`` for pods/object/external metrics."""
    kind = spec.get("type")
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        src = spec.get(key) or {}
        target = src.get("target") or {}
        cur = ((status or {}).get(key) or {}).get("current") or {}
        name = str(src.get("name", ""))
        if kind == "ContainerResource":
            name = f"{name} of container {src.get('container', '')}"
        if target.get("averageValue") is not None:
            current = (
                str(cur["averageValue"]) if cur.get("averageValue") is not None else "<unknown>"
            )
            return f"{name}: {current}/{target['averageValue']}"
        util = cur.get("averageUtilization")
        current = f"{util}%" if util is not None else "<unknown>"
        goal = target.get("averageUtilization")
        return f"{name}: {current}/{goal}%" if goal is not None else f"{name}: {current}/<auto>"
    key = {"Pods": "pods", "Object": "object", "External": "external"}.get(str(kind), "")
    src = spec.get(key) or {}
    target = src.get("target") or {}
    cur = ((status or {}).get(key) or {}).get("current") or {}
    if target.get("value") is not None:
        current = str(cur["value"]) if cur.get("value") is not None else "<unknown>"
        return f"{current}/{target['value']}"
    current = str(cur["averageValue"]) if cur.get("averageValue") is not None else "<unknown>"
    suffix = " (avg)" if kind in ("Object", "External") else ""
    return f"{current}/{target.get('averageValue')}{suffix}"


def _hpa(o: Obj, now: float) -> Row:
    """printers.go printHorizontalPodAutoscaler: REFERENCE kind/name, TARGETS (at most
    three, then ``+ N more...``), MINPODS (``<unset>``), MAXPODS, REPLICAS."""
    spec = o.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    metrics = spec.get("metrics") or []
    statuses = field(o, "status", "currentMetrics") or []
    shown = [
        _hpa_metric(m, statuses[i] if i < len(statuses) else None) for i, m in enumerate(metrics)
    ]
    targets = ", ".join(shown[:3]) + (f" + {len(shown) - 3} more..." if len(shown) > 3 else "")
    low = spec.get("minReplicas")
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        targets or "<none>",
        "<unset>" if low is None else str(low),
        _int(spec.get("maxReplicas")),
        _int(field(o, "status", "currentReplicas")),
        AGE,
    ]


# -- storage ------------------------------------------------------------------------------

# helper.GetAccessModesAsString: this order, each once, whatever the list's
_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: Any) -> str:
    """``RWO,ROX,RWX,RWOP`` (those present) of a list of access modes."""
    given = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for mode, short in _ACCESS_MODES if mode in given)


def _class(o: Obj) -> str:
    """helper.GetPersistentVolume(Claim)Class: the beta annotation, else the spec's."""
    ann = field(o, "metadata", "annotations") or {}
    if isinstance(ann, dict) and BETA_CLASS_ANNOTATION in ann:
        return str(ann[BETA_CLASS_ANNOTATION])
    return str(field(o, "spec", "storageClassName") or "")


def _storage_phase(o: Obj) -> str:
    if field(o, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return str(field(o, "status", "phase") or "")


def _unset(value: Any) -> str:
    return "<unset>" if value is None else str(value)


def _claim(o: Obj, now: float) -> Row:
    """printPersistentVolumeClaim: capacity and access modes are the bound volume's
    (status), shown once spec.volumeName is set."""
    spec = o.get("spec") or {}
    volume = str(spec.get("volumeName") or "")
    capacity = modes = ""
    if volume:
        modes = access_modes(field(o, "status", "accessModes"))
        capacity = str(field(o, "status", "capacity", "storage") or "0")
    return [
        _storage_phase(o),
        volume,
        capacity,
        modes,
        _class(o),
        _unset(spec.get("volumeAttributesClassName")),
        AGE,
        _unset(spec.get("volumeMode")),
    ]


def _volume(o: Obj, now: float) -> Row:
    """printPersistentVolume: CLAIM is the claimRef's namespace/name."""
    spec = o.get("spec") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if isinstance(ref, dict) else ""
    return [
        str(field(spec, "capacity", "storage") or "0"),
        access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        _storage_phase(o),
        claim,
        _class(o),
        _unset(spec.get("volumeAttributesClassName")),
        str(field(o, "status", "reason") or ""),
        AGE,
        _unset(spec.get("volumeMode")),
    ]


def _storage_class(o: Obj, now: float) -> Row:
    """printStorageClass (the name cell: :func:`storage_class_name`)."""
    policy = o.get("reclaimPolicy")
    mode = o.get("volumeBindingMode")
    return [
        str(o.get("provisioner") or ""),
        "Delete" if policy is None else str(policy),
        "Immediate" if mode is None else str(mode),
        o.get("allowVolumeExpansion") is True,
        AGE,
    ]


def storage_class_name(o: Obj) -> str:
    """printStorageClass's NAME: `` (default)`` after a default class's name
    (storageutil.IsDefaultAnnotation)."""
    name = str(field(o, "metadata", "name") or "")
    return f"{name} (default)" if is_default_class(o) else name


def _subjects(o: Obj) -> list[str]:
    """rbac.SubjectsStrings: users, groups and service accounts (``ns/name``)."""
    users, groups, sas = [], [], []
    for s in _list(o, "subjects"):
        kind, name = s.get("kind"), str(s.get("name", ""))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{name}")
    return [", ".join(users), ", ".join(groups), ", ".join(sas)]


def _role_binding(o: Obj, now: float) -> Row:
    ref = o.get("roleRef") or {}
    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", AGE, *_subjects(o)]


def _workload(kind: str) -> Callable[[Obj, float], Row]:
    def row(o: Obj, now: float) -> Row:
        spec, st = o.get("spec") or {}, o.get("status") or {}
        want = spec.get("replicas", 1)
        tmpl = _template_cells(spec)
        sel = _selector(spec.get("selector"))
        if kind == "Deployment":
            ready = f"{_int(st.get('readyReplicas'))}/{want}"
            return [
                ready,
                _int(st.get("updatedReplicas")),
                _int(st.get("availableReplicas")),
                AGE,
                *tmpl,
                sel,
            ]
        if kind == "StatefulSet":
            return [f"{_int(st.get('readyReplicas'))}/{want}", AGE, *tmpl]
        if kind == "DaemonSet":
            return [
                _int(st.get("desiredNumberScheduled")),
                _int(st.get("currentNumberScheduled")),
                _int(st.get("numberReady")),
                _int(st.get("updatedNumberScheduled")),
                _int(st.get("numberAvailable")),
                _labels(field(spec, "template", "spec", "nodeSelector")),
                AGE,
                *tmpl,
                sel,
            ]
        if kind == "ReplicationController":
            sel = _labels(spec.get("selector"))
        return [
            _int(want),
            _int(st.get("replicas")),
            _int(st.get("readyReplicas")),
            AGE,
            *tmpl,
            sel,
        ]

    return row


def column(name: str, typ: str = "string", priority: int = 0, doc: str = "") -> Column:
    return (name, typ, priority, doc)


_TEMPLATE_COLS = [
    column("Containers", priority=1, doc="Names of each container in the template."),
    column("Images", priority=1, doc="Images referenced by each container in the template."),
]
AGE_COL = column("Age", doc=AGE_DOC)
_RS_COLS = [
    column("Desired", "integer"),
    column("Current", "integer"),
    column("Ready", "integer"),
    AGE_COL,
    *_TEMPLATE_COLS,
    column("Selector", priority=1),
]
Printer = tuple[list[Column], Callable[[Obj, float], Row]]
# The storage columns' descriptions: the API types' field docs (SwaggerDoc()), cut to
# their first sentence (kube-apiserver sends them whole; kubectl prints none).
_PVC_DOCS = {
    "phase": "phase represents the current phase of PersistentVolumeClaim.",
    "volumeName": "volumeName is the binding reference to the PersistentVolume backing this claim.",
    "capacity": "capacity represents the actual resources of the underlying volume.",
    "accessModes": "accessModes contains the actual access modes the volume backing the PVC has.",
    "volumeMode": "volumeMode defines what type of volume is required by the claim.",
}
_PV_DOCS = {
    "capacity": "capacity is the description of the persistent volume's resources and capacity.",
    "accessModes": "accessModes contains all ways the volume can be mounted.",
    "persistentVolumeReclaimPolicy": "persistentVolumeReclaimPolicy defines what happens "
    "to a persistent volume when released from its claim.",
    "phase": "phase indicates if a volume is available, bound to a claim, or released by a claim.",
    "claimRef": "claimRef is part of a bi-directional binding between PersistentVolume "
    "and PersistentVolumeClaim.",
    "reason": "reason is a brief CamelCase string that describes any failure and is "
    "meant for machine parsing and tidy display in the CLI.",
    "volumeMode": "volumeMode defines if a volume is intended to be used with a "
    "formatted filesystem or to remain in raw block state.",
}
_SC_DOCS = {
    "provisioner": "provisioner indicates the type of the provisioner.",
    "reclaimPolicy": "reclaimPolicy controls the reclaimPolicy for dynamically "
    "provisioned PersistentVolumes of this storage class.",
    "volumeBindingMode": "volumeBindingMode indicates how PersistentVolumeClaims should "
    "be provisioned and bound.",
    "allowVolumeExpansion": "allowVolumeExpansion shows whether the storage class allow "
    "volume expand.",
}
PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Service"): (
        [
            column("Type"),
            column("Cluster-IP"),
            column("External-IP"),
            column("Port(s)"),
            AGE_COL,
            column("Selector", priority=1),
        ],
        _service,
    ),
    ("apps", "Deployment"): (
        [
            column("Ready", doc="Number of the pod with ready state"),
            column("Up-to-date", "integer"),
            column("Available", "integer"),
            AGE_COL,
            *_TEMPLATE_COLS,
            column("Selector", priority=1),
        ],
        _workload("Deployment"),
    ),
    ("apps", "ReplicaSet"): (_RS_COLS, _workload("ReplicaSet")),
    ("", "ReplicationController"): (_RS_COLS, _workload("ReplicationController")),
    ("apps", "StatefulSet"): (
        [column("Ready", doc="Number of the pod with ready state"), AGE_COL, *_TEMPLATE_COLS],
        _workload("StatefulSet"),
    ),
    ("apps", "DaemonSet"): (
        [
            column("Desired", "integer"),
            column("Current", "integer"),
            column("Ready", "integer"),
            column("Up-to-date", "integer"),
            column("Available", "integer"),
            column("Node Selector"),
            AGE_COL,
            *_TEMPLATE_COLS,
            column("Selector", priority=1),
        ],
        _workload("DaemonSet"),
    ),
    ("batch", "Job"): (
        [
            column("Status", doc="Status of the job."),
            column("Completions", doc="The completion status of the job"),
            column("Duration", doc="Time required to complete the job."),
            AGE_COL,
            *_TEMPLATE_COLS,
            column("Selector", priority=1),
        ],
        _job,
    ),
    ("", "Namespace"): (
        [column("Status", doc="The status of the namespace"), AGE_COL],
        lambda o, now: [field(o, "status", "phase") or "", AGE],
    ),
    ("", "Node"): (
        [
            column("Status", doc="The status of the node"),
            column("Roles", doc="The roles of the node"),
            AGE_COL,
            column("Version"),
            column("Internal-IP", priority=1),
            column("External-IP", priority=1),
            column("OS-Image", priority=1),
            column("Kernel-Version", priority=1),
            column("Container-Runtime", priority=1),
        ],
        _node,
    ),
    ("", "Endpoints"): ([column("Endpoints"), AGE_COL], _endpoints),
    ("discovery.k8s.io", "EndpointSlice"): (
        [column("AddressType"), column("Ports"), column("Endpoints"), AGE_COL],
        _endpoint_slice,
    ),
    ("networking.k8s.io", "NetworkPolicy"): (
        [column("Pod-Selector"), AGE_COL],
        lambda o, now: [_selector(field(o, "spec", "podSelector")) or "<none>", AGE],
    ),
    ("", "ConfigMap"): (
        [column("Data", "integer"), AGE_COL],
        lambda o, now: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), AGE],
    ),
    ("", "Secret"): (
        [column("Type"), column("Data", "integer"), AGE_COL],
        lambda o, now: [o.get("type") or "", len(o.get("data") or {}), AGE],
    ),
    ("", "ServiceAccount"): (
        [column("Secrets", "integer"), AGE_COL],
        lambda o, now: [len(o.get("secrets") or ()), AGE],
    ),
    ("apps", "ControllerRevision"): (
        [column("Controller"), column("Revision", "integer"), AGE_COL],
        _controller_revision,
    ),
    ("batch", "CronJob"): (
        [
            column("Schedule", doc="The schedule in Cron format."),
            column("Timezone", doc="The time zone name for the given schedule."),
            column("Suspend", "boolean", doc="Whether subsequent executions are suspended."),
            column("Active", "integer", doc="A list of pointers to currently running jobs."),
            column(
                "Last Schedule",
                doc="Information when was the last time the job was successfully scheduled.",
            ),
            AGE_COL,
            *_TEMPLATE_COLS,
            column("Selector", priority=1),
        ],
        _cron_job,
    ),
    ("networking.k8s.io", "Ingress"): (
        [
            column(
                "Class",
                doc="The name of the IngressClass resource that should be used "
                "for additional configuration",
            ),
            column(
                "Hosts",
                doc="Hosts that incoming requests are matched against before the ingress rule",
            ),
            column(
                "Address", doc="Address is a list containing ingress points for the load-balancer"
            ),
            column("Ports", doc="Ports of TLS configurations that open"),
            AGE_COL,
        ],
        _ingress,
    ),
    ("networking.k8s.io", "IngressClass"): (
        [
            column("Controller", doc="Controller that is responsible for handling this class"),
            column("Parameters", doc="A reference to a resource with additional parameters"),
            AGE_COL,
        ],
        _ingress_class,
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        [
            column("Reference", doc="Reference to the scaled object."),
            column("Targets", doc="The current and target metrics."),
            column("MinPods", doc="The lower limit for the number of pods."),
            column("MaxPods", "integer", doc="The upper limit for the number of pods."),
            column("Replicas", "integer", doc="The current number of replicas."),
            AGE_COL,
        ],
        _hpa,
    ),
    ("policy", "PodDisruptionBudget"): (
        [
            column("Min Available", doc="The minimum number of pods that must be available."),
            column("Max Unavailable", doc="The maximum number of pods that may be unavailable."),
            column(
                "Allowed Disruptions",
                "integer",
                doc="Calculated number of pods that may be disrupted at this time.",
            ),
            AGE_COL,
        ],
        _pdb,
    ),
    ("", "PersistentVolumeClaim"): (
        [
            column("Status", doc=_PVC_DOCS["phase"]),
            column("Volume", doc=_PVC_DOCS["volumeName"]),
            column("Capacity", doc=_PVC_DOCS["capacity"]),
            column("Access Modes", doc=_PVC_DOCS["accessModes"]),
            column("StorageClass", doc="StorageClass of the pvc"),
            column("VolumeAttributesClass", doc="VolumeAttributesClass of the pvc"),
            AGE_COL,
            column("VolumeMode", priority=1, doc=_PVC_DOCS["volumeMode"]),
        ],
        _claim,
    ),
    ("", "PersistentVolume"): (
        [
            column("Capacity", doc=_PV_DOCS["capacity"]),
            column("Access Modes", doc=_PV_DOCS["accessModes"]),
            column("Reclaim Policy", doc=_PV_DOCS["persistentVolumeReclaimPolicy"]),
            column("Status", doc=_PV_DOCS["phase"]),
            column("Claim", doc=_PV_DOCS["claimRef"]),
            column("StorageClass", doc="StorageClass of the pv"),
            column("VolumeAttributesClass", doc="VolumeAttributesClass of the pv"),
            column("Reason", doc=_PV_DOCS["reason"]),
            AGE_COL,
            column("VolumeMode", priority=1, doc=_PV_DOCS["volumeMode"]),
        ],
        _volume,
    ),
    ("storage.k8s.io", "StorageClass"): (
        [
            column("Provisioner", doc=_SC_DOCS["provisioner"]),
            column("ReclaimPolicy", doc=_SC_DOCS["reclaimPolicy"]),
            column("VolumeBindingMode", doc=_SC_DOCS["volumeBindingMode"]),
            column("AllowVolumeExpansion", doc=_SC_DOCS["allowVolumeExpansion"]),
            AGE_COL,
        ],
        _storage_class,
    ),
    ("scheduling.k8s.io", "PriorityClass"): (
        [
            column("Value", "integer"),
            column("Global-Default", "boolean"),
            AGE_COL,
            column("PreemptionPolicy"),
        ],
        lambda o, now: [
            _int(o.get("value")),
            bool(o.get("globalDefault")),
            AGE,
            o.get("preemptionPolicy") or "",
        ],
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (
        [
            column("Role"),
            AGE_COL,
            column("Users", priority=1, doc="Users in the roleBinding"),
            column("Groups", priority=1, doc="Groups in the roleBinding"),
            column("ServiceAccounts", priority=1, doc="ServiceAccounts in the roleBinding"),
        ],
        _role_binding,
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (
        [
            column("Role"),
            AGE_COL,
            column("Users", priority=1, doc="Users in the clusterRoleBinding"),
            column("Groups", priority=1, doc="Groups in the clusterRoleBinding"),
            column("ServiceAccounts", priority=1, doc="ServiceAccounts in the clusterRoleBinding"),
        ],
        _role_binding,
    ),
    # rest.DefaultTableConvertor: the creation timestamp itself, a date column
    ("rbac.authorization.k8s.io", "Role"): (
        [column("Created At", "date", doc=AGE_DOC)],
        lambda o, now: [field(o, "metadata", "creationTimestamp") or ""],
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): (
        [column("Created At", "date", doc=AGE_DOC)],
        lambda o, now: [field(o, "metadata", "creationTimestamp") or ""],
    ),
    ("coordination.k8s.io", "Lease"): (
        [column("Holder"), AGE_COL],
        lambda o, now: [field(o, "spec", "holderIdentity") or "", AGE],
    ),
    # custom resources: their CRDs' additionalPrinterColumns (Age is of type date)
    ("policy.networking.k8s.io", "AdminNetworkPolicy"): (
        [column("Priority", "integer"), column("Age", "date")],
        lambda o, now: [field(o, "spec", "priority"), AGE],
    ),
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"): (
        [column("Age", "date")],
        lambda o, now: [AGE],
    ),
    ("policy.networking.k8s.io", "ClusterNetworkPolicy"): (
        [column("Priority", "integer"), column("Age", "date")],
        lambda o, now: [field(o, "spec", "priority"), AGE],
    ),
}
EVENT_COLS = [
    column("Last Seen"),
    column("Type"),
    column("Reason"),
    column("Object"),
    column("Subobject", priority=1),
    column("Source", priority=1),
    column("Message"),
    column("First Seen", priority=1),
    column("Count", priority=1),
    column("Name", priority=1),
]
POD_COLS = [
    column("Ready", doc="The aggregate readiness state of this pod for accepting traffic."),
    column("Status", doc="The aggregate status of the containers in this pod."),
    column(
        "Restarts",
        doc="The number of times the containers in this pod have been restarted and when "
        "the last container in this pod has restarted.",
    ),
    AGE_COL,
    column("IP", priority=1),
    column("Node", priority=1),
    column("Nominated Node", priority=1),
    column("Readiness Gates", priority=1),
]
