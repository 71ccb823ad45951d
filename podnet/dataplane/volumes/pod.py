"""One pod's volumes on this node: their directories, contents, mounts and end.

Everything lives under ``<state dir>/volumes/<namespace>_<name>_<uid>/``: ``v/<volume>``
per volume and ``s/<container>/<n>`` for the subPath binds. The state directory goes
with podnet (also after a SIGKILL: :mod:`podnet.live.statedir`), a pod's directory with
the pod (:meth:`PodVolumes.teardown`); the mounts made here (a Memory emptyDir's tmpfs,
the subPath binds) are made in the pod's own mount namespace, private, and vanish with
its sandbox.

Kinds, as kubelet's volume plugins (pkg/volume/...):

- emptyDir: a directory (mode 0777) shared by the pod's containers, removed with the
  pod; ``medium: Memory`` a tmpfs of ``sizeLimit`` (default: half the machine's
  memory, tmpfs's own default; upstream the node's allocatable). With the pod's
  ``fsGroup`` it belongs to that group and is setgid (02777), so what the containers
  write there is the group's too (kubelet's SetVolumeOwnership).
- configMap, secret, downwardAPI, projected: files written by the AtomicWriter
  (:mod:`.atomic`, :mod:`.sources`), rewritten when their objects change; always
  mounted read-only (kubelet does so since 1.10, GHSA for CVE-2017-1002102).
- hostPath: refused at admission. podnet's pods must never reach the host's files; a
  Pod Security "baseline" namespace rejects hostPath too
  (kubernetes.io/docs/concepts/security/pod-security-standards/, "HostPath Volumes").
- persistentVolumeClaim: the directory of the claim's bound volume, which ``claims``
  (the kubelet's, over its claim and volume informers) finds; a claim missing or not
  yet bound leaves the pod in ContainerCreating with a FailedMount Event, as upstream.
  A generic ephemeral volume (``ephemeral``) is the claim ``<pod>-<volume>`` that the
  ephemeral volume controller made for the pod, which must own it.
- every other kind (nfs, csi...): the pod waits in ContainerCreating with a FailedMount
  Event saying so, as a cluster without that storage leaves it; never Failed.

Mounts are binds of those directories with ``nosuid,nodev``; a volume's contents are
podnet's or the pod's own, never a host path.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podnet.dataplane.oci.spec import Mount, bind
from podnet.dataplane.volumes import atomic
from podnet.dataplane.volumes.sources import Lookup, MountError, TokenFn, payload, references
from podnet.model.objects import ephemeral_claim
from podnet.model.quantity import parse_quantity

Obj = dict[str, Any]
FILE_KINDS = ("configMap", "secret", "downwardAPI", "projected")
# every volume source of core/v1 VolumeSource besides those podnet serves
REFUSED_KINDS = (
    "hostPath",  # at admission (refused); the others wait in FailedMount (unsupported)
    "nfs",
    "iscsi",
    "gitRepo",
    "csi",
    "image",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "glusterfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)


class VolumeRefused(MountError):
    """A volume podnet will not mount (hostPath): never retried."""


CLAIM = "persistentVolumeClaim"
EPHEMERAL = "ephemeral"
# (a claim's name, whether the pod must own it) -> the directory of its bound volume;
# raises MountError with the reason
Claims = Callable[[str, bool], Path]


def kind_of(volume: Obj) -> str:
    for k in ("emptyDir", *FILE_KINDS, CLAIM, EPHEMERAL, *REFUSED_KINDS):
        if k in volume:
            return k
    return "emptyDir"  # no source given: the API server defaults it to emptyDir


def refused(pod: Obj) -> str | None:
    """Why the pod must not run here (its first hostPath volume), or None."""
    for v in (pod.get("spec") or {}).get("volumes") or ():
        if kind_of(v) == "hostPath":
            return (
                f'volume "{v.get("name")}": hostPath volumes are forbidden on podnet '
                "(podnet never exposes the host's files to a pod, as the "
                'Pod Security "baseline" policy forbids them)'
            )
    return None


def unsupported(volume: Obj) -> str | None:
    """Why podnet cannot set ``volume`` up (a kind it does not serve), or None."""
    kind = kind_of(volume)
    if kind in REFUSED_KINDS:
        return f"{kind} volumes are not supported by podnet"
    return None


@dataclass(frozen=True)
class InPod:
    """A command to run in the pod's mount namespace (a tmpfs, a subPath bind)."""

    argv: tuple[str, ...]
    what: str


class PodVolumes:
    """The volumes of one pod (an API object, as the kubelet sees it)."""

    def __init__(self, root: Path, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        self.pod = pod
        self.dir = root / f"{meta.get('namespace')}_{meta.get('name')}_{meta.get('uid')}"
        spec = pod.get("spec") or {}
        self.volumes: dict[str, Obj] = {str(v.get("name")): v for v in spec.get("volumes") or ()}
        self.token: TokenFn | None = None  # serviceAccountToken sources (the API's issuer)
        self.claims: Claims | None = None  # claim -> its volume's directory (podnet up)
        self._claim_dirs: dict[str, Path] = {}  # volume name -> that directory, once set up
        fs_group = (spec.get("securityContext") or {}).get("fsGroup")
        self.fs_group = fs_group if type(fs_group) is int else None

    def path(self, name: str) -> Path:
        return self.dir / "v" / name

    def references(self) -> set[tuple[str, str]]:
        refs: set[tuple[str, str]] = set()
        pod_name = str((self.pod.get("metadata") or {}).get("name") or "")
        for name, v in self.volumes.items():
            refs |= references(v)
            if kind_of(v) == EPHEMERAL:
                refs.add(("PersistentVolumeClaim", ephemeral_claim(pod_name, name)))
        return refs

    def has_token(self) -> bool:
        """Whether a projected volume holds a serviceAccountToken (refreshed in time)."""
        return any(
            p.get("serviceAccountToken") is not None
            for v in self.volumes.values()
            for p in (v.get("projected") or {}).get("sources") or ()
        )

    def setup(self, lookup: Lookup) -> list[InPod]:
        """Make every volume's directory and write the files; the commands that must
        run in the pod before its containers start. Raises :class:`MountError` with
        kubelet's Event text for the first volume that cannot be set up."""
        why = refused(self.pod)
        if why is not None:
            raise VolumeRefused(why)
        in_pod: list[InPod] = []
        for name, v in self.volumes.items():
            kind = kind_of(v)
            d = self.path(name)
            try:
                why = unsupported(v)
                if why is not None:
                    raise MountError(why)
                if kind == "emptyDir":
                    if not d.is_dir():
                        d.mkdir(parents=True)
                        if self.fs_group is not None:
                            os.chown(d, -1, self.fs_group)
                        d.chmod(0o777 if self.fs_group is None else 0o2777)
                    tmpfs = self._tmpfs(d, v.get("emptyDir") or {}, self.fs_group)
                    if tmpfs is not None:
                        in_pod.append(tmpfs)
                elif kind == CLAIM:
                    claim = str((v[CLAIM] or {}).get("claimName") or "")
                    self._claim_dirs[name] = self._claim_dir(claim, owned=False)
                elif kind == EPHEMERAL:
                    pod_name = str((self.pod.get("metadata") or {}).get("name") or "")
                    claim = ephemeral_claim(pod_name, name)
                    self._claim_dirs[name] = self._claim_dir(claim, owned=True)
                else:
                    atomic.write(d, payload(v, self.pod, lookup, self.token), self.fs_group)
            except (MountError, atomic.PayloadError, ValueError) as e:
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from None
            except OSError as e:
                why = f"{e.strerror or e}"
                if e.errno == errno.EINVAL:  # chown's answer for an id the namespace lacks
                    why = "the pod's fsGroup or runAsUser is not an id of podnet's user namespace"
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {why}') from None
        return in_pod

    def _claim_dir(self, claim: str, *, owned: bool) -> Path:
        if self.claims is None:  # no API, no claims
            raise MountError(f'persistentvolumeclaim "{claim}" not found')
        return self.claims(claim, owned)

    def refresh(self, lookup: Lookup) -> list[str]:
        """Rewrite the file volumes whose contents changed (kubelet's periodic resync
        of configMap/secret volumes); the names of those rewritten. A volume that
        cannot be made now keeps its last contents (as kubelet)."""
        done = []
        for name, v in self.volumes.items():
            if kind_of(v) in FILE_KINDS and self.path(name).is_dir():
                try:
                    data = payload(v, self.pod, lookup, self.token)
                    if atomic.write(self.path(name), data, self.fs_group):
                        done.append(name)
                except (MountError, ValueError, OSError):
                    continue
        return done

    @staticmethod
    def _tmpfs(d: Path, spec: Obj, fs_group: int | None) -> InPod | None:
        if spec.get("medium") != "Memory":
            return None
        opts = "nosuid,nodev," + ("mode=0777" if fs_group is None else f"mode=2777,gid={fs_group}")
        if spec.get("sizeLimit") is not None:
            opts += f",size={int(parse_quantity(str(spec['sizeLimit'])))}"
        return InPod(("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)), "mount a tmpfs")

    def mounts(
        self, container: Obj, python: str, add: Callable[[InPod], None]
    ) -> tuple[Mount, ...]:
        """The binds of ``container``'s volumeMounts; its subPath binds through ``add``
        (commands to run in the pod, :mod:`.subpath`, with ``python``)."""
        out: list[Mount] = []
        cname = str(container.get("name"))
        for i, vm in enumerate(container.get("volumeMounts") or ()):
            name = str(vm.get("name"))
            v = self.volumes.get(name)
            if v is None:
                raise MountError(f'volumeMount "{name}": no volume of that name')
            kind = kind_of(v)
            readonly = bool(vm.get("readOnly")) or kind in FILE_KINDS
            readonly |= kind == CLAIM and bool((v.get(CLAIM) or {}).get("readOnly"))
            source = self._claim_dirs.get(name, self.path(name))
            sub = str(vm.get("subPath") or "")
            if sub:
                staged = self.dir / "s" / cname / str(i)
                argv = (python, "-m", "podnet.dataplane.volumes.subpath", str(source), sub)
                add(InPod((*argv, str(staged)), f"bind subPath {sub!r} of volume {name!r}"))
                source = staged
            out.append(bind(str(source), str(vm.get("mountPath")), writable=not readonly))
        return tuple(out)

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
