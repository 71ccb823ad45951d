"""The kubelet's volume manager and its ConfigMap/Secret informers (``podnet up``).

As kubelet: before a pod's containers start, its volumes are set up
(pkg/kubelet/volumemanager ``WaitForAttachAndMount``) and each container's environment
is made (kubelet_pods.go ``makeEnvironmentVariables``, :mod:`.envfrom`). A pod whose
non-optional ConfigMap or Secret is missing waits in ContainerCreating with the Event
``FailedMount`` (``MountVolume.SetUp failed for volume "x" : configmap "y" not found``);
one whose env names a missing object or key waits with its container in
``CreateContainerConfigError``. Either starts once the object appears. Upstream the
kubelet retries on its sync loop and refreshes configMap/secret volumes about once a
minute (the watch-based ConfigMap manager plus ``syncFrequency``); here the informers
below act on the object's change at once: waiting pods are tried again, running pods'
volumes rewritten atomically (:mod:`podnet.dataplane.volumes.atomic`).

hostPath is refused at admission: the pod fails with reason ``Forbidden``, as a Pod
Security "baseline" namespace would refuse it, and nothing of the host is mounted. A
persistentVolumeClaim mounts the directory of the claim's bound volume when podnet's
provisioner made it (:mod:`podnet.controllers.volume.persistentvolume`); a claim missing or
unbound waits in ContainerCreating (FailedMount, upstream's texts), and a volume of any
other source is refused there, since it could name a host path. A volume kind podnet
does not serve (nfs, csi...) leaves the pod in ContainerCreating with a FailedMount
Event, as a cluster without that storage does.

The files live in the cluster's state directory (gone with podnet, also after a
SIGKILL); a pod's go when it is deleted (:meth:`VolumeManager.release`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podnet.apiserver.admission.storage import PROVISIONER
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.controllers.volume.persistentvolume import PROVISIONED_BY
from podnet.dataplane.oci.launcher import CRUN_ENV
from podnet.dataplane.oci.security import CreateContainerConfigError
from podnet.dataplane.oci.spec import Mount
from podnet.dataplane.runtime.pods import Runtime
from podnet.dataplane.volumes.pod import Claims, InPod, PodVolumes, refused
from podnet.dataplane.volumes.sources import Lookup, MountError, TokenFn
from podnet.errors import PodnetError
from podnet.live.kubelet_status import PodRecord, _Run  # its container states
from podnet.live.kubelet_write import StatusManager
from podnet.live.node import envfrom
from podnet.model.objects import Pod
from podnet.paths import PODNET_ROOT

Obj = dict[str, Any]
KINDS = ("ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolume")
IN_POD_TIMEOUT = 10.0
# kubelet re-checks a pod's volumes every syncFrequency (1 min): here only what the
# informers cannot tell, the tokens due for a refresh (token_manager.go requiresRefresh)
RESYNC = 60.0
TOKEN_REFRESH = 0.8
TOKEN_MAX_AGE = 24 * 3600.0


class VolumeForbidden(PodnetError):
    """A pod with a volume podnet refuses (hostPath): rejected at admission."""

    reason = "Forbidden"


def admit(obj: Obj) -> None:
    """Raise :class:`VolumeForbidden` for a pod with a refused volume."""
    why = refused(obj)
    if why is not None:
        raise VolumeForbidden(why)


def _needs(obj: Obj) -> bool:
    spec = obj.get("spec") or {}
    if spec.get("volumes"):
        return True
    containers = (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
    return any(envfrom.needs(c) for c in containers)


@dataclasses.dataclass
class _Waiting:
    rec: PodRecord
    pod: Pod  # as placed
    refs: set[tuple[str, str]]


class VolumeManager:
    def __init__(
        self,
        registry: Registry,
        state_dir: Path,
        status: StatusManager,
        retry: Callable[[list[PodRecord], list[Pod]], None],
        warn: Callable[[str], None],
    ) -> None:
        """``retry``: start the containers of pods whose objects have come (the
        kubelet's ``_start_containers``), called from the informer thread."""
        self.registry, self.root, self.status = registry, state_dir / "volumes", status
        self._retry, self._warn = retry, warn
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str, str], Obj] = {}  # (kind, ns, name)
        self._pods: dict[str, PodVolumes] = {}  # pod key -> its volumes (set up)
        self._mounts: dict[str, dict[str, tuple[Mount, ...]]] = {}
        # pod key -> container -> its subPath binds, made before each of its starts
        self._subpaths: dict[str, dict[str, list[InPod]]] = {}
        self._runtime: Runtime | None = None
        self._recs: dict[str, PodRecord] = {}  # pod key -> its record (set up)
        self._waiting: dict[str, _Waiting] = {}
        self._said: dict[str, str] = {}  # pod key -> last message recorded (one Event each)
        self._running = False
        self._threads: list[threading.Thread] = []
        self._watches: list[Any] = []
        self._stop = threading.Event()
        # pod-bound tokens for serviceAccountToken sources (set by podnet up), cached
        # per pod uid, audience and lifetime until TOKEN_REFRESH of it has passed
        self._tokens: TokenFn | None = None
        self._token_cache: dict[str, dict[tuple[str, int], tuple[str, float]]] = {}
        # where podnet's provisioner keeps volumes (set by podnet up: the data dir's pv)
        self.volumes_dir: Path | None = None

    @property
    def tokens(self) -> TokenFn | None:
        return None if self._tokens is None else self._cached_token

    @tokens.setter
    def tokens(self, source: TokenFn | None) -> None:
        self._tokens = source

    def _cached_token(self, pod: Obj, audience: str, seconds: int) -> str:
        """kubelet's token manager (pkg/kubelet/token/token_manager.go): a pod's token
        is kept and asked again only once 80 % of its life or 24 h have passed
        (``requiresRefresh``), so a volume rewritten meanwhile keeps the same token."""
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        now = time.time()
        with self._lock:
            hit = self._token_cache.get(uid, {}).get((audience, seconds))
        if hit is not None and now < hit[1]:
            return hit[0]
        assert self._tokens is not None
        token = self._tokens(pod, audience, seconds)
        refresh = now + min(TOKEN_REFRESH * seconds, TOKEN_MAX_AGE)
        with self._lock:
            self._token_cache.setdefault(uid, {})[(audience, seconds)] = (token, refresh)
        return token

    # -- informers ---------------------------------------------------------------------
    def start(self, runtime: Runtime | None) -> None:
        """Watch ConfigMaps and Secrets; hand the runtime each container's mounts."""
        self._running = True
        self._runtime = runtime
        if runtime is not None:
            runtime.container_mounts = self.container_mounts
            runtime.before_container = self.before_container
        ready = [threading.Event() for _ in KINDS]
        for kind, done in zip(KINDS, ready, strict=True):
            t = threading.Thread(
                target=self._inform, args=(kind, done), name=f"kubelet-{kind}", daemon=True
            )
            self._threads.append(t)
            t.start()
        for done in ready:  # the initial lists, so the first pods see existing objects
            done.wait(5)
        t = threading.Thread(target=self._resync, name="kubelet-volumes-resync", daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self) -> None:
        self._running = False
        self._stop.set()
        for w in list(self._watches):
            w.close()
        for t in self._threads:
            t.join(timeout=5)

    def _inform(self, kind: str, ready: threading.Event) -> None:
        res = by_kind("", kind)
        assert res is not None
        while self._running:
            try:
                w = self.registry.watch(res, None, resource_version="")
            except PodnetError as e:
                self._warn(f"volumes: watch {kind}: {e}")
                return
            self._watches.append(w)
            seen = set()
            with self._lock:  # a new watch lists everything again: forget what went
                for first in list(w.initial):
                    meta = first.object.get("metadata") or {}
                    key = (kind, str(meta.get("namespace") or ""), str(meta.get("name")))
                    seen.add(key)
                    self._objects[key] = first.object
                gone = {k for k in self._objects if k[0] == kind and k not in seen}
                for k in gone:
                    del self._objects[k]
            ready.set()
            while self._running and not w.closed:
                ev = w.get(timeout=0.2)
                if ev is None or ev.type not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                meta = ev.object.get("metadata") or {}
                key = (kind, str(meta.get("namespace") or ""), str(meta.get("name")))
                if kind == "PersistentVolume":  # a change of its claim, for the pods
                    ref = (ev.object.get("spec") or {}).get("claimRef") or {}
                    claim_key = (
                        "PersistentVolumeClaim",
                        str(ref.get("namespace") or ""),
                        str(ref.get("name") or ""),
                    )
                else:
                    claim_key = key
                with self._lock:
                    if ev.type == "DELETED":
                        self._objects.pop(key, None)
                    else:
                        self._objects[key] = ev.object
                try:
                    self._changed(claim_key)
                except Exception as e:  # keep informing: one pod must not stop the others
                    self._warn(f"volumes: {type(e).__name__}: {e}")
            with contextlib.suppress(ValueError):
                self._watches.remove(w)

    def _resync(self) -> None:
        """Every RESYNC: rewrite the volumes holding a token due for a refresh."""
        while not self._stop.wait(RESYNC):
            with self._lock:
                vols = [(k, v) for k, v in self._pods.items() if v.has_token()]
            for key, v in vols:
                try:
                    v.refresh(self.lookup(key.split("/", 1)[0]))
                except Exception as e:  # keep going: one pod must not stop the others
                    self._warn(f"volumes: {key}: {type(e).__name__}: {e}")

    def lookup(self, namespace: str) -> Lookup:
        def get(kind: str, name: str) -> Obj | None:
            ns = "" if kind == "PersistentVolume" else namespace
            with self._lock:
                return self._objects.get((kind, ns, name))

        return get

    def claims(self, pod: Obj) -> Claims:
        """A claim of ``pod``'s namespace -> the directory of its bound volume, as
        kubelet's desired_state_of_world_populator finds it (``getPVCExtractPV``, its
        errors); a generic ephemeral volume's claim must be the pod's own."""
        meta = pod.get("metadata") or {}
        namespace, pod_name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        get = self.lookup(namespace)

        def directory(claim: str, owned: bool) -> Path:
            pvc = get("PersistentVolumeClaim", claim)
            if pvc is None:
                raise MountError(f'persistentvolumeclaim "{claim}" not found')
            refs = (pvc.get("metadata") or {}).get("ownerReferences") or ()
            if owned and not any(r.get("uid") == meta.get("uid") for r in refs):
                raise MountError(  # ephemeral.VolumeIsForPod's refusal
                    f"PVC {namespace}/{claim} was not created for pod {namespace}/{pod_name} "
                    "(pod is not owner)"
                )
            phase = str((pvc.get("status") or {}).get("phase") or "")
            volume = str((pvc.get("spec") or {}).get("volumeName") or "")
            if phase != "Bound" or not volume:
                raise MountError(
                    f'PVC {namespace}/{claim} has non-bound phase ("{phase}") or empty '
                    f'pvc.Spec.VolumeName ("{volume}")'
                )
            pv = get("PersistentVolume", volume)
            if pv is None:
                raise MountError(f'persistentvolume "{volume}" not found')
            by = ((pv.get("metadata") or {}).get("annotations") or {}).get(PROVISIONED_BY)
            if by != PROVISIONER or self.volumes_dir is None:
                raise MountError(
                    f'volume "{volume}" was not provisioned by {PROVISIONER}: podnet mounts '
                    "only the volumes it made (never a path of the host)"
                )
            path = self.volumes_dir / volume
            if not path.is_dir():
                raise MountError(f'volume "{volume}": its directory {path} is gone')
            return path

        return directory

    def _changed(self, key: tuple[str, str, str]) -> None:
        """An object changed: rewrite the running pods' volumes that read it, and try
        again the waiting pods that name it."""
        kind, ns, name = key
        with self._lock:
            vols = [v for k, v in self._pods.items() if k.startswith(f"{ns}/")]
            waiting = [
                w
                for k, w in self._waiting.items()
                if k.startswith(f"{ns}/") and (kind, name) in w.refs
            ]
        for v in vols:
            if (kind, name) in v.references():
                v.refresh(self.lookup(ns))
        if waiting:
            with self._lock:
                for w in waiting:
                    self._waiting.pop(w.rec.pod.key, None)
            self._retry([w.rec for w in waiting], [w.pod for w in waiting])

    # -- pods ----------------------------------------------------------------------------
    def container_mounts(self, pod: Pod) -> dict[str, tuple[Mount, ...]]:
        """The runtime's hook: the volume binds of each container of ``pod``."""
        with self._lock:
            return dict(self._mounts.get(pod.key, {}))

    def prepare(
        self, recs: list[PodRecord], placed: list[Pod], runtime: Runtime | None
    ) -> tuple[list[PodRecord], list[Pod]]:
        """Volumes and env of each placed pod; those ready to start, with their env
        resolved. The others wait (an Event, a container status) for their objects."""
        ok_recs: list[PodRecord] = []
        ok_pods: list[Pod] = []
        for rec, pod in zip(recs, placed, strict=True):
            if not _needs(rec.obj):
                ok_recs.append(rec)
                ok_pods.append(pod)
                continue
            try:
                ready = self._prepare(rec, pod, runtime)
            except MountError as e:
                self._wait(rec, pod, "Warning", "FailedMount", str(e))
                continue
            except envfrom.ConfigError as e:
                message, container = e.args[0], e.args[1]
                self._wait(rec, pod, "Warning", "Failed", f"Error: {message}", container)
                self._config_error(rec, container, message)
                continue
            except PodnetError as e:
                self._wait(rec, pod, "Warning", "FailedMount", str(e))
                continue
            self._said.pop(pod.key, None)
            ok_recs.append(rec)
            ok_pods.append(ready)
        return ok_recs, ok_pods

    def _prepare(self, rec: PodRecord, pod: Pod, runtime: Runtime | None) -> Pod:
        obj = rec.obj
        lookup = self.lookup(pod.namespace)
        with self._lock:
            vols = self._pods.get(pod.key)
        if vols is None or vols.pod.get("metadata", {}).get("uid") != rec.uid:
            vols = PodVolumes(self.root, obj)
        vols.pod, vols.token, vols.claims = obj, self.tokens, self.claims(obj)
        in_pod = vols.setup(lookup)
        spec = obj.get("spec") or {}
        specs = {
            str(c.get("name")): c
            for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
        }
        fields = envfrom.pod_fields(obj, pod.ip, rec.host_ip)
        mounts: dict[str, tuple[Mount, ...]] = {}
        subpaths: dict[str, list[InPod]] = {}
        envs: dict[str, tuple[tuple[str, str], ...]] = {}
        for name, c in specs.items():
            if envfrom.needs(c):
                try:
                    envs[name] = envfrom.resolve(obj, c, lookup, fields)
                except envfrom.ConfigError as e:
                    raise envfrom.ConfigError(e.args[0], name) from None
            subpaths[name] = []
            mounts[name] = vols.mounts(c, sys.executable, subpaths[name].append)
        if runtime is not None:  # the tmpfs mounts, before any container
            for cmd in in_pod:
                self._in_pod(runtime, pod.key, cmd)
        with self._lock:
            self._pods[pod.key] = vols
            self._mounts[pod.key] = mounts
            self._subpaths[pod.key] = {n: cmds for n, cmds in subpaths.items() if cmds}
            self._recs[pod.key] = rec

        def with_env(cs: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(
                dataclasses.replace(c, env=envs[c.name]) if c.name in envs else c for c in cs
            )

        return dataclasses.replace(
            pod,
            containers=with_env(pod.containers),
            init_containers=with_env(pod.init_containers),
        )

    def before_container(self, key: str, container: str) -> None:
        """The runtime's hook before each start of a container: its subPath binds,
        made now (kubelet prepares them in ``makeMounts`` for each start), so what an
        init container wrote into an emptyDir is what a later container's subPath
        binds. A failure is the container's CreateContainerConfigError, as upstream
        (``failed to prepare subPath for volumeMount``)."""
        with self._lock:
            cmds = self._subpaths.get(key, {}).get(container, [])
            rec = self._recs.get(key)
        runtime = self._runtime
        if not cmds or runtime is None:
            return
        for cmd in cmds:
            try:
                self._in_pod(runtime, key, cmd)
            except MountError as e:
                message = f'failed to prepare subPath for volumeMount of container "{container}"'
                if rec is not None:  # the API's container state (the runtime's has no text)
                    self._config_error(rec, container, f"{message}: {e}")
                    path = rec.field_path(container)
                    self.status.event(rec.obj, "Warning", "Failed", f"Error: {message}", path)
                    self.status.dirty(key)
                raise CreateContainerConfigError(f"{message}: {e}") from None

    @staticmethod
    def _in_pod(runtime: Runtime, key: str, cmd: InPod) -> None:
        env = {**CRUN_ENV, "PYTHONPATH": PODNET_ROOT}
        proc = runtime.spawner(key, list(cmd.argv), env, None, subprocess.DEVNULL, subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=IN_POD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise MountError(f"cannot {cmd.what}: timed out") from None
        if proc.returncode != 0:
            said = err.decode(errors="replace").strip()
            raise MountError(f"cannot {cmd.what}: {said}")

    def _wait(
        self,
        rec: PodRecord,
        pod: Pod,
        type_: str,
        reason: str,
        message: str,
        container: str | None = None,
    ) -> None:
        spec = rec.obj.get("spec") or {}
        refs: set[tuple[str, str]] = PodVolumes(self.root, rec.obj).references()
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
            refs |= envfrom.references(c)
        key = pod.key
        with self._lock:
            self._waiting[key] = _Waiting(rec, pod, refs)
            first = self._said.get(key) != message
            self._said[key] = message
        if first:
            path = rec.field_path(container) if container is not None else ""
            self.status.event(rec.obj, type_, reason, message, path)
        self.status.dirty(key)

    @staticmethod
    def _config_error(rec: PodRecord, container: str, message: str) -> None:
        """The container's waiting state, as kubelet reports CreateContainerConfigError
        (kuberuntime_container.go ``startContainer``); its start replaces it."""
        run = rec.runs.setdefault(container, _Run())
        run.state = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}

    def release(self, key: str) -> None:
        """The pod is gone: its volumes' files too (its mounts went with its sandbox)."""
        with self._lock:
            vols = self._pods.pop(key, None)
            self._mounts.pop(key, None)
            self._subpaths.pop(key, None)
            self._recs.pop(key, None)
            self._waiting.pop(key, None)
            self._said.pop(key, None)
            if vols is not None:
                self._token_cache.pop(str(vols.pod.get("metadata", {}).get("uid", "")), None)
        if vols is not None:
            vols.teardown()

    def pod_changed(self, rec: PodRecord) -> None:
        """The pod object changed: if its labels or annotations did, its downwardAPI
        files follow (kubelet rewrites them on its next sync)."""
        with self._lock:
            vols = self._pods.get(rec.pod.key)
        if vols is None:
            return
        old, new = vols.pod.get("metadata") or {}, rec.obj.get("metadata") or {}
        if all(old.get(k) == new.get(k) for k in ("labels", "annotations")):
            return
        vols.pod = rec.obj
        vols.refresh(self.lookup(rec.pod.namespace))
