"""Generic ephemeral volumes: each ``ephemeral`` volume of a pod gets the claim
``<pod>-<volume>`` from its ``volumeClaimTemplate``, owned by the pod, so the garbage
collector deletes it (and its volume is reclaimed) when the pod goes
(pkg/controller/volume/ephemeral/controller.go ``handleVolume``). A claim of that name
that the pod does not own is left alone: the kubelet refuses it
(ephemeral.VolumeIsForPod)."""

from __future__ import annotations

import copy

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, deleting, meta, name, namespace, record_event
from podnet.controllers.informer import obj_key
from podnet.model.objects import ephemeral_claim

PODS: Resource = by_kind("", "Pod")  # type: ignore[assignment]
CLAIMS: Resource = by_kind("", "PersistentVolumeClaim")  # type: ignore[assignment]
COMPONENT = "ephemeral_volume"


def ephemeral_volumes(pod: Obj) -> list[tuple[str, Obj]]:
    """(volume name, its volumeClaimTemplate) of each generic ephemeral volume."""
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        eph = v.get("ephemeral") if isinstance(v, dict) else None
        if isinstance(eph, dict) and isinstance(eph.get("volumeClaimTemplate"), dict):
            out.append((str(v.get("name", "")), eph["volumeClaimTemplate"]))
    return out


class EphemeralVolumeController(Controller):
    name = "ephemeral-volume-controller"

    def setup(self) -> None:
        self.pods = self.informers.get(PODS)
        self.claims = self.informers.get(CLAIMS)
        self.pods.add_handler(self._on_pod)
        self.claims.add_handler(self._on_claim)

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ != "DELETED" and new is not None and ephemeral_volumes(new):
            self.queue.add(obj_key(new))

    def _on_claim(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """A claim deleted: its pod (the owner) makes it again while it lives."""
        if type_ != "DELETED" or old is None:
            return
        for ref in meta(old).get("ownerReferences") or ():
            if ref.get("kind") == "Pod" and ref.get("controller"):
                self.queue.add(f"{namespace(old)}/{ref.get('name', '')}")

    def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or deleting(pod):
            return
        for volume, template in ephemeral_volumes(pod):
            claim_name = ephemeral_claim(name(pod), volume)
            if self.claims.get(f"{namespace(pod)}/{claim_name}") is not None:
                continue  # made already (or not the pod's: the kubelet says so)
            tmeta = template.get("metadata") or {}
            claim: Obj = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim_name,
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": name(pod),
                            "uid": meta(pod).get("uid"),
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
            for field in ("labels", "annotations"):
                if tmeta.get(field):
                    claim["metadata"][field] = dict(tmeta[field])
            try:
                self.registry.create(CLAIMS, namespace(pod), claim)
            except ApiError as e:
                if e.code == 409:
                    continue  # the cache is behind
                record_event(
                    self.registry,
                    pod,
                    "Warning",
                    "FailedBinding",
                    f"PVC creation failed: {e.message}",
                    COMPONENT,
                )
                raise
