"""What a volume holds, from the pod's volume source and the API objects (pure).

A payload is what the AtomicWriter (:mod:`.atomic`) writes: relative path -> bytes and
mode. As kubelet's volume plugins build them:

- configMap (pkg/volume/configmap/configmap.go ``MakePayload``): every key of ``data``
  and ``binaryData``, or only ``items`` (key -> path), each file ``mode`` or the
  volume's ``defaultMode`` (0644); a missing ConfigMap fails the mount with
  ``configmap "NAME" not found`` unless ``optional`` (then the volume is empty), a
  missing item key with ``configmap references non-existent config key: KEY``.
- secret (pkg/volume/secret/secret.go): the same over base64 ``data``; ``secret "NAME"
  not found``, ``references non-existent secret key: KEY``.
- downwardAPI (pkg/volume/downwardapi ``CollectData``): one file per item, from a
  ``fieldRef`` or a ``resourceFieldRef`` (:mod:`.fields`).
- projected (pkg/volume/projected ``collectData``): those sources merged under the
  projected volume's ``defaultMode``. ``serviceAccountToken`` is a token bound to the
  pod from the API server (``token``: kubelet's token manager, pkg/kubelet/token, a
  TokenRequest with the audience and expirationSeconds, default 3600); without an
  issuer it is left out, as are clusterTrustBundle and podCertificate. When every
  container runs as one runAsUser (util.FsUserFrom) the token file is that user's, and
  with that or an fsGroup its mode is 0600 (projected.go: "When FsGroup is set, we
  depend on SetVolumeOwnership to change from 0600 to 0640").
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from podnet.dataplane.volumes.atomic import FileProjection
from podnet.dataplane.volumes.fields import FieldError, field_value, resource_value

Obj = dict[str, Any]
# (kind "ConfigMap" or "Secret", name) -> the object in the pod's namespace, or None
Lookup = Callable[[str, str], Obj | None]
# (pod, audience or "", expirationSeconds) -> a token bound to the pod; raises MountError
TokenFn = Callable[[Obj, str, int], str]
DEFAULT_MODE = 0o644  # configmap/secret/downwardapi/projected DefaultMode (0644)
SKIPPED_PROJECTIONS = ("serviceAccountToken", "clusterTrustBundle", "podCertificate")


class MountError(Exception):
    """The volume cannot be set up now (kubelet's ``MountVolume.SetUp failed``)."""


def object_data(kind: str, obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's ``data`` and ``binaryData``, or a Secret's decoded ``data``."""
    out: dict[str, bytes] = {}
    if kind == "ConfigMap":
        for k, v in (obj.get("data") or {}).items():
            out[str(k)] = str(v).encode()
        for k, v in (obj.get("binaryData") or {}).items():
            out[str(k)] = base64.b64decode(str(v))
    else:
        for k, v in (obj.get("data") or {}).items():
            out[str(k)] = base64.b64decode(str(v))
        for k, v in (obj.get("stringData") or {}).items():  # never stored, but harmless
            out[str(k)] = str(v).encode()
    return out


def _keyed(kind: str, source: Obj, lookup: Lookup, default_mode: int) -> dict[str, FileProjection]:
    name = str(source.get("name") or source.get("secretName") or "")
    optional = bool(source.get("optional"))
    obj = lookup(kind, name)
    label = "configmap" if kind == "ConfigMap" else "secret"
    if obj is None:
        if optional:
            return {}
        raise MountError(f'{label} "{name}" not found')
    data = object_data(kind, obj)
    items = source.get("items") or ()
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            if optional:
                continue
            if kind == "ConfigMap":
                raise MountError(f"configmap references non-existent config key: {key}")
            raise MountError(f"references non-existent secret key: {key}")
        mode = item.get("mode")
        out[str(item.get("path") or key)] = FileProjection(
            data[key], default_mode if mode is None else int(mode)
        )
    return out


def _downward(
    items: list[Obj], pod: Obj, default_mode: int, containers: dict[str, Obj]
) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for item in items:
        mode = item.get("mode")
        try:
            if item.get("fieldRef"):
                text = field_value(pod, str(item["fieldRef"].get("fieldPath", "")))
            elif item.get("resourceFieldRef"):
                ref = item["resourceFieldRef"]
                container = containers.get(str(ref.get("containerName", "")), {})
                text = resource_value(container, str(ref.get("resource")), ref.get("divisor"))
            else:
                continue
        except FieldError as e:
            raise MountError(str(e)) from None
        out[str(item.get("path"))] = FileProjection(
            text.encode(), default_mode if mode is None else int(mode)
        )
    return out


def _mode(source: Obj) -> int:
    mode = source.get("defaultMode")
    return DEFAULT_MODE if mode is None else int(mode)


def payload(
    volume: Obj, pod: Obj, lookup: Lookup, token: TokenFn | None = None
) -> dict[str, FileProjection]:
    """The files of ``volume`` (a pod's ``spec.volumes[]`` entry of a kind with files)."""
    spec = pod.get("spec") or {}
    containers = {
        str(c.get("name")): c
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
    }
    if "configMap" in volume:
        src = volume["configMap"] or {}
        return _keyed("ConfigMap", src, lookup, _mode(src))
    if "secret" in volume:
        src = volume["secret"] or {}
        return _keyed("Secret", src, lookup, _mode(src))
    if "downwardAPI" in volume:
        src = volume["downwardAPI"] or {}
        return _downward(list(src.get("items") or ()), pod, _mode(src), containers)
    src = volume.get("projected") or {}
    mode = _mode(src)
    out: dict[str, FileProjection] = {}
    sources = src.get("sources") or ()
    # Without a token source (a cluster whose API issues no tokens: `podnet run`, whose
    # registry still adds the ServiceAccount admission's kube-api-access volume, and
    # which publishes no kube-root-ca.crt) such a volume cannot be whole anyway: its
    # other sources are taken as optional rather than the pod waiting for ever.
    lenient = {"optional": True} if token is None and _has_token(sources) else {}
    for proj in sources:
        if proj.get("configMap") is not None:
            out.update(_keyed("ConfigMap", {**proj["configMap"], **lenient}, lookup, mode))
        elif proj.get("secret") is not None:
            out.update(_keyed("Secret", {**proj["secret"], **lenient}, lookup, mode))
        elif proj.get("downwardAPI") is not None:
            items = list(proj["downwardAPI"].get("items") or ())
            out.update(_downward(items, pod, mode, containers))
        elif proj.get("serviceAccountToken") is not None and token is not None:
            sat = proj["serviceAccountToken"]
            seconds = sat.get("expirationSeconds")
            value = token(pod, str(sat.get("audience") or ""), int(seconds or 3600))
            user = fs_user(pod)
            fs_group = (spec.get("securityContext") or {}).get("fsGroup")
            own = user is not None or fs_group is not None
            out[str(sat.get("path"))] = FileProjection(value.encode(), 0o600 if own else mode, user)
    return out


def fs_user(pod: Obj) -> int | None:
    """The runAsUser every init and regular container runs with (its own or the pod's),
    or None when one sets none or two differ (pkg/volume/util FsUserFrom)."""
    spec = pod.get("spec") or {}
    pod_user = (spec.get("securityContext") or {}).get("runAsUser")
    found: int | None = None
    for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        user = (c.get("securityContext") or {}).get("runAsUser", pod_user)
        if type(user) is not int or (found is not None and user != found):
            return None
        found = user
    return found


def _has_token(sources: Any) -> bool:
    return any(p.get("serviceAccountToken") is not None for p in sources)


def references(volume: Obj) -> set[tuple[str, str]]:
    """The (kind, name) of the ConfigMaps, Secrets and claims ``volume`` reads."""
    refs: set[tuple[str, str]] = set()
    if volume.get("persistentVolumeClaim") is not None:
        refs.add(("PersistentVolumeClaim", str(volume["persistentVolumeClaim"].get("claimName"))))
    if volume.get("configMap") is not None:
        refs.add(("ConfigMap", str(volume["configMap"].get("name"))))
    if volume.get("secret") is not None:
        refs.add(("Secret", str(volume["secret"].get("secretName"))))
    for proj in (volume.get("projected") or {}).get("sources") or ():
        if proj.get("configMap") is not None:
            refs.add(("ConfigMap", str(proj["configMap"].get("name"))))
        if proj.get("secret") is not None:
            refs.add(("Secret", str(proj["secret"].get("name"))))
    return refs
