"""A pod's API status from the runtime's :class:`PodStatus`, as kubelet writes it.

kubelet's ``generateAPIPodStatus`` / ``convertToAPIContainerStatuses``
(pkg/kubelet/kubelet_pods.go) and the status manager (pkg/kubelet/status/
status_manager.go): phase, the conditions PodReadyToStartContainers, Initialized, Ready,
ContainersReady and PodScheduled with a ``lastTransitionTime`` that changes only when
the condition does, podIP(s), hostIP(s), startTime, qosClass, and a containerStatus per
container with its current ``state`` and the ``lastState`` of its previous run.

:class:`PodRecord` is the kubelet's memory of one pod; :meth:`PodRecord.observe` runs in
the runtime's thread on every status change and turns transitions into Events
(Pulled, Created, Started, BackOff, Unhealthy; kubelet's ``events`` package reasons).
:func:`image_events` gives the Events of an image that could not be had.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podnet.apiserver.strategy import rfc3339
from podnet.dataplane.runtime.state import (
    PENDING,
    RUNNING,
    SUCCEEDED,
    TERMINATED,
    WAITING,
    ContainerStatus,
    PodStatus,
)
from podnet.errors import Location
from podnet.live.desired import convert
from podnet.manifests.convert import labels_of, to_pod
from podnet.manifests.report import DocContext
from podnet.model.meta import Meta
from podnet.model.objects import Container, Pod

Obj = dict[str, Any]
# the image failures a container waits in (kubelet pkg/kubelet/images/types.go)
IMAGE_REASONS = ("ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName")
# (type, reason, message): kubelet's event reasons, pkg/kubelet/events/event.go
EventTuple = tuple[str, str, str]
# (type, reason, message, fieldPath): an Event about one container of the pod
ContainerEvent = tuple[str, str, str, str]
# pkg/kubelet/container/ref.go: a container the pod spec does not list
IMPLICIT_CONTAINER_PREFIX = "implicitly required container "


def field_path(pod: Obj, container: str) -> str:
    """The ``involvedObject.fieldPath`` of a container's Events, as kubelet's
    GenerateContainerRef gives it (pkg/kubelet/container/ref.go fieldPath):
    ``spec.containers{name}``, else ``spec.initContainers{name}``, else
    ``spec.ephemeralContainers{name}`` (``[i]`` for an unnamed one); a container the
    spec does not list is ``implicitly required container <name>``."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(key) or ()):
            if isinstance(c, dict) and c.get("name", "") == container:
                return f"spec.{key}{{{container}}}" if container else f"spec.{key}[{i}]"
    return IMPLICIT_CONTAINER_PREFIX + container


def pod_model(obj: Obj) -> Pod:
    """The model of a pod the API server stored: converted as the manifests layer
    converts a valid Pod (``build._convert``), without its checks run again. The API
    server ran them on every create and spec update (``validation.validate``, the same
    ``build._check``), after defaulting and admission; upstream's kubelet likewise
    validates only pods from files, not those from the API server
    (pkg/kubelet/config/common.go). One check of ``from_documents`` the API's does not
    run, a null list item, and any failure to convert, go through the full
    :func:`convert`, which reports the error as before (kubelet admission: Failed)."""
    meta = obj.get("metadata")
    spec = obj.get("spec")
    if not isinstance(meta, dict) or not isinstance(spec, dict) or _null_item(spec):
        return _full(obj)
    ns, name = str(meta.get("namespace") or "default"), str(meta.get("name"))
    where = "/".join(x for x in ("Pod", meta.get("namespace"), meta.get("name")) if x)
    loc = Location(f"api:{where}", 1)  # as desired.convert names it
    ctx = DocContext(obj, loc, f"Pod/{ns}/{name}")
    try:
        pod = to_pod(
            ctx,
            ("spec",),
            spec,
            namespace=ns,
            name=name,
            labels=labels_of(meta),
            meta=Meta("Pod", ns, name, loc),
        )
    except Exception:  # a shape the checks would have refused: they say why
        return _full(obj)
    return pod if not ctx.errors else _full(obj)


def _full(obj: Obj) -> Pod:
    pod = convert(obj)
    assert isinstance(pod, Pod)
    return pod


def _null_item(value: Any) -> bool:
    """Whether a list anywhere in ``value`` holds a null (``from_documents`` refuses it:
    "null is not allowed as a list item")."""
    if isinstance(value, dict):
        return any(_null_item(v) for v in value.values() if isinstance(v, (dict, list)))
    if isinstance(value, list):
        return any(v is None or (isinstance(v, (dict, list)) and _null_item(v)) for v in value)
    return False


def image_events(image: str, reason: str, message: str) -> list[EventTuple]:
    """The Events of a container whose image could not be had, as kubelet records them:
    the image manager's (pkg/kubelet/images/image_manager.go ``EnsureImageExists``:
    Pulling and Failed "Failed to pull image", BackOff "Back-off pulling image",
    ErrImageNeverPull) and then kuberuntime's ``startContainer`` Failed "Error: <reason>"
    (pkg/kubelet/kuberuntime/kuberuntime_container.go). Pulling is recorded once the
    pull is over (a pull in back-off is not tried, so it has none)."""
    if reason == "ErrImagePull":
        head = [
            ("Normal", "Pulling", f'Pulling image "{image}"'),
            ("Warning", "Failed", f'Failed to pull image "{image}": {message}'),
        ]
    elif reason == "ImagePullBackOff":
        head = [("Normal", "BackOff", f'Back-off pulling image "{image}"')]
    elif reason == "ErrImageNeverPull":
        never = f'Container image "{image}" is not present with pull policy of Never'
        head = [("Warning", "ErrImageNeverPull", never)]
    else:  # InvalidImageName, or an image podnet cannot pull at all
        head = [("Warning", reason, message)]
    return [*head, ("Warning", "Failed", f"Error: {reason}")]


def timestamp(wall: float) -> str:
    """metav1.Time as the API serialises it: RFC 3339, seconds, UTC (the API server's
    :func:`~podnet.apiserver.strategy.rfc3339`, which keeps the last second's text)."""
    return rfc3339(wall)


def _wall(monotonic: float) -> float:
    return time.time() - (time.monotonic() - monotonic)


@dataclass
class _Run:
    """What the kubelet saw of one container: its current state's times, the last
    terminated state (for ``lastState``), the start it has reported."""

    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last: Obj = field(default_factory=dict)
    started: float | None = None  # the runtime's monotonic start of the current run
    ready: bool = False
    probe_seq: int = 0  # the last probe Event (ContainerStatus.probe_events) recorded


@dataclass
class PodRecord:
    """The kubelet's memory of one admitted pod."""

    obj: Obj  # the API object as last seen (watch or own write)
    pod: Pod  # the model pod as placed (ip, node) once in the sandbox
    log_dir: Path
    host_ip: str
    admitted: float = field(default_factory=time.time)
    static: bool = False  # LiveCluster's own (the DNS pod): mirrored, never stopped
    placed: bool = False  # its containers were started (exec, attach, relabel)
    sandboxed: bool = False  # it has a sandbox and an IP (removed when killed)
    terminating: bool = False
    grace: float | None = None  # the grace period its termination uses (only shortened)
    error: EventTuple | None = None  # admission failed: (reason, message) in status
    image_container: str | None = None  # the container whose image ``error`` is about
    readmit: bool = False  # admit again (its image was pulled, or a retry is due)
    pulled: frozenset[str] = frozenset()  # images this kubelet pulled for it
    status: PodStatus | None = None
    runs: dict[str, _Run] = field(default_factory=dict)
    conditions: dict[str, tuple[str, float]] = field(default_factory=dict)
    written: Obj | None = None  # the status last written
    # ephemeral containers (kubectl debug) taken for start, in spec order, and the
    # waiting (reason, message) of those that could not start
    ephemeral: tuple[Container, ...] = ()
    ephemeral_errors: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return str(self.obj.get("metadata", {}).get("uid", ""))

    def field_path(self, container: str) -> str:
        """:func:`field_path` of ``container`` in this pod."""
        return field_path(self.obj, container)

    def container(self, name: str) -> Container | None:
        for c in (*self.pod.init_containers, *self.pod.containers, *self.ephemeral):
            if c.name == name:
                return c
        return None

    # -- transitions (runtime thread) ---------------------------------------------------
    def observe(self, status: PodStatus) -> list[ContainerEvent]:
        """Record ``status``; the Events its transitions raise, each with its
        container's fieldPath (kubelet records them on GenerateContainerRef's ref)."""
        self.status = status
        events: list[ContainerEvent] = []
        for c in (*status.init_containers, *status.containers, *status.ephemeral):
            run = self.runs.setdefault(c.name, _Run())
            found = self._container(run, c)
            if found:
                path = self.field_path(c.name)
                events += [(*e, path) for e in found]
        return events

    def _container(self, run: _Run, c: ContainerStatus) -> list[EventTuple]:
        spec = self.container(c.name)
        image = spec.image if spec is not None else ""
        events: list[EventTuple] = []
        now = time.time()
        if c.state == RUNNING and c.started is not None and c.started != run.started:
            if "terminated" in run.state:
                run.last = run.state
            run.started = c.started
            run.state = {"running": {"startedAt": timestamp(_wall(c.started))}}
            if image not in self.pulled:  # else "Successfully pulled" was its event
                pulled = f'Container image "{image}" already present on machine'
                events.append(("Normal", "Pulled", pulled))
            events += [
                ("Normal", "Created", f"Created container: {c.name}"),
                ("Normal", "Started", f"Started container {c.name}"),
            ]
        elif c.state == TERMINATED and "terminated" not in run.state:
            started = timestamp(_wall(c.started)) if c.started is not None else None
            run.state = {
                "terminated": {
                    "exitCode": c.exit_code if c.exit_code is not None else 0,
                    "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
                    "startedAt": started,
                    "finishedAt": timestamp(now),
                    "containerID": self.container_id(c),
                }
            }
        elif c.state == WAITING and c.reason == "CrashLoopBackOff":
            if "terminated" in run.state:
                run.last = run.state
                meta = self.obj.get("metadata", {})
                events.append(
                    (
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container {c.name} in pod "
                        f"{meta.get('name')}_{meta.get('namespace')}({self.uid})",
                    )
                )
            run.state = {"waiting": {"reason": "CrashLoopBackOff"}}
        # the prober's Events (prober.go Unhealthy "<Kind> probe failed: <output>",
        # computePodActions Killing), each once
        fresh = [e for e in c.probe_events if e[0] > run.probe_seq]
        if fresh:
            run.probe_seq = fresh[-1][0]
            events += [(t, reason, msg) for _, t, reason, msg in fresh]
        run.ready = c.ready
        return events

    def container_id(self, c: ContainerStatus) -> str:
        """podnet's containerID: the runtime, the pod's uid, the container and its run."""
        return f"podnet://{self.uid}/{c.name}/{c.restart_count}"

    # -- the API status ------------------------------------------------------------------
    def api_status(self) -> Obj:
        """The pod's ``status`` now (the conditions' transition times are kept here)."""
        st = self.status
        init_done = st is not None and (
            not st.init_containers
            or all(c.state == TERMINATED and c.exit_code == 0 for c in st.init_containers)
        )
        ready = st is not None and st.ready and not self.terminating
        phase = st.phase if st is not None else PENDING
        out: Obj = {"phase": phase}
        # an image failure is the container's waiting reason only (kubelet sets no pod
        # reason for it; kubectl's STATUS column shows the container's)
        if self.error is not None and self.error[1] not in IMAGE_REASONS:
            out["reason"], out["message"] = self.error[1], self.error[2]
        # kubelet_pods.go generateAPIPodStatus, in its order: PodReadyToStartContainers
        # (beta and on by default since 1.29: the sandbox is made and its network
        # configured; here when the pod has its IP in the sandbox), Initialized, Ready,
        # ContainersReady, PodScheduled; reasons and messages as status/generate.go's
        not_ready, not_init = self._why_not(phase, ready, init_done)
        out["conditions"] = [
            self._condition("PodReadyToStartContainers", self.placed and self.pod.ip is not None),
            self._condition("Initialized", init_done, *not_init),
            self._condition("Ready", ready, *not_ready),
            self._condition("ContainersReady", ready, *not_ready),
            self._condition("PodScheduled", True),
        ]
        out["hostIP"] = self.host_ip
        out["hostIPs"] = [{"ip": self.host_ip}]
        if self.placed and self.pod.ip is not None:
            out["podIP"] = self.pod.ip
            out["podIPs"] = [{"ip": self.pod.ip}]
        out["startTime"] = timestamp(self.admitted)
        out["qosClass"] = "BestEffort"
        init = st.init_containers if st is not None else ()
        apps = st.containers if st is not None else ()
        if self.pod.init_containers:
            out["initContainerStatuses"] = [
                self._container_status(c, init) for c in self.pod.init_containers
            ]
        out["containerStatuses"] = [self._container_status(c, apps) for c in self.pod.containers]
        if self.ephemeral:
            eph = st.ephemeral if st is not None else ()
            out["ephemeralContainerStatuses"] = [
                self._ephemeral_status(c, eph) for c in self.ephemeral
            ]
        return out

    def _ephemeral_status(self, spec: Container, statuses: tuple[ContainerStatus, ...]) -> Obj:
        """An ephemeral container's status: as an app container's (kubelet_pods.go
        ``convertToAPIContainerStatuses`` serves both), never ready (no probes), its
        waiting reason if it could not start."""
        out = self._container_status(spec, statuses)
        out["ready"] = False
        failed = self.ephemeral_errors.get(spec.name)
        if failed is not None:
            out["state"] = {"waiting": {"reason": failed[0], "message": failed[1]}}
        return out

    def _why_not(
        self, phase: str, ready: bool, init_done: bool
    ) -> tuple[tuple[str, str], tuple[str, str]]:
        """(reason, message) of ContainersReady/Ready and of Initialized, as
        GenerateContainersReadyCondition and GeneratePodInitializedCondition word them
        ("" where they set none)."""
        st = self.status
        if phase == SUCCEEDED:  # a completed pod: no container is, or will be, ready
            return ("PodCompleted", ""), ("PodCompleted", "")
        not_ready: tuple[str, str] = ("", "")
        if not ready:
            apps = {c.name: c for c in (st.containers if st is not None else ())}
            unready = [
                c.name
                for c in self.pod.containers
                if self.terminating or c.name not in apps or not apps[c.name].ready
            ]
            message = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
            not_ready = ("ContainersNotReady", message)
        not_init: tuple[str, str] = ("", "")
        if not init_done:
            done = {
                c.name
                for c in (st.init_containers if st is not None else ())
                if c.state == TERMINATED and c.exit_code == 0
            }
            incomplete = [c.name for c in self.pod.init_containers if c.name not in done]
            message = f"containers with incomplete status: [{' '.join(incomplete)}]"
            not_init = ("ContainersNotInitialized", message)
        return not_ready, not_init

    def _condition(self, kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        value = "True" if ok else "False"
        before = self.conditions.get(kind)
        if before is None or before[0] != value:
            self.conditions[kind] = before = (value, time.time())
        cond: Obj = {"type": kind, "status": value, "lastTransitionTime": timestamp(before[1])}
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        return cond

    def _container_status(self, spec: Container, statuses: tuple[ContainerStatus, ...]) -> Obj:
        c = next((s for s in statuses if s.name == spec.name), None)
        run = self.runs.get(spec.name)
        state: Obj = run.state if run is not None else {"waiting": {"reason": "ContainerCreating"}}
        err = self.error
        if err is not None and err[1] in IMAGE_REASONS and self.image_container == spec.name:
            state = {"waiting": {"reason": err[1], "message": err[2]}}
        out: Obj = {
            "name": spec.name,
            "image": spec.image,
            "imageID": f"podnet://image/{spec.image}",
            "ready": bool(c is not None and c.ready and not self.terminating),
            # kubelet's prober_manager UpdatePodStatus: running and the startup probe passed
            "started": bool(c is not None and c.state == RUNNING and c.startup_done),
            "restartCount": c.restart_count if c is not None else 0,
            "state": state,
            "lastState": run.last if run is not None else {},
        }
        if c is not None and (c.state != WAITING or c.restart_count):
            out["containerID"] = self.container_id(c)
        return out
