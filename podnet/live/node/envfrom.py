"""A container's environment from the API objects: ``valueFrom`` and ``envFrom``.

As kubelet's ``makeEnvironmentVariables`` (pkg/kubelet/kubelet_pods.go): first every
``envFrom`` source in order (a ConfigMap's or Secret's keys, each with the source's
``prefix``; a key that is no valid variable name is skipped, upstream with an
``InvalidEnvironmentVariableNames`` Event), then each ``env`` entry: ``value`` with
``$(VAR)`` expanded against what precedes it (third_party/forked/golang/expansion),
``valueFrom`` as given: ``configMapKeyRef``/``secretKeyRef`` (``optional``), ``fieldRef``
(metadata.name/namespace/uid, labels/annotations by key, spec.nodeName,
spec.serviceAccountName, status.podIP(s), status.hostIP(s): ``podFieldSelectorRuntimeValue``),
``resourceFieldRef``. A non-optional ConfigMap, Secret or key that is missing makes
the container wait in ``CreateContainerConfigError`` with kubelet's message (the
caller starts it once the object appears, as kubelet's next sync would).

The result is the model container's ``env``: the runtime expands every entry against
the entries before it (:func:`podnet.dataplane.runtime.command.container_env`), so the
values that upstream does not expand (envFrom, valueFrom) are given with ``$`` doubled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from podnet.dataplane.volumes.fields import FieldError, field_value, resource_value
from podnet.dataplane.volumes.sources import Lookup, object_data

Obj = dict[str, Any]
# validation.IsEnvVarName: C identifiers and more ("-", ".", no leading digit)
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


class ConfigError(Exception):
    """kubelet's CreateContainerConfigError: the message is its status message."""


def needs(container: Obj) -> bool:
    """Whether the container's env reads anything besides plain values."""
    if container.get("envFrom"):
        return True
    return any(e.get("valueFrom") is not None for e in container.get("env") or ())


def _literal(value: str) -> str:
    return value.replace("$", "$$")


def _key(kind: str, ref: Obj, lookup: Lookup, namespace: str) -> str | None:
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    obj = lookup(kind, name)
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{"configmap" if kind == "ConfigMap" else "secret"} "{name}" not found')
    data = object_data(kind, obj)
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key].decode(errors="replace")


def pod_fields(pod: Obj, pod_ip: str | None, host_ip: str) -> dict[str, str]:
    """The env-only ``fieldRef`` values of a placed pod."""
    spec = pod.get("spec") or {}
    return {
        "spec.nodeName": str(spec.get("nodeName") or ""),
        "spec.serviceAccountName": str(
            spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        ),
        "status.podIP": pod_ip or "",
        "status.podIPs": pod_ip or "",
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }


def resolve(
    pod: Obj, container: Obj, lookup: Lookup, fields: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The container's env entries for the runtime (raises :class:`ConfigError`)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    out: list[tuple[str, str]] = []
    for src in container.get("envFrom") or ():
        prefix = str(src.get("prefix") or "")
        kind, ref = ("ConfigMap", src.get("configMapRef"))
        if ref is None:
            kind, ref = "Secret", src.get("secretRef")
        if ref is None:
            continue
        name = str(ref.get("name", ""))
        obj = lookup(kind, name)
        if obj is None:
            if ref.get("optional"):
                continue
            label = "configmap" if kind == "ConfigMap" else "secret"
            raise ConfigError(f'{label} "{name}" not found')
        for k, v in object_data(kind, obj).items():
            if _ENV_NAME.fullmatch(prefix + k):
                out.append((prefix + k, _literal(v.decode(errors="replace"))))
    for e in container.get("env") or ():
        name = str(e.get("name"))
        vf = e.get("valueFrom")
        if vf is None:
            out.append((name, str(e.get("value") or "")))
            continue
        value: str | None
        try:
            if vf.get("configMapKeyRef") is not None:
                value = _key("ConfigMap", vf["configMapKeyRef"], lookup, namespace)
            elif vf.get("secretKeyRef") is not None:
                value = _key("Secret", vf["secretKeyRef"], lookup, namespace)
            elif vf.get("fieldRef") is not None:
                value = field_value(pod, str(vf["fieldRef"].get("fieldPath", "")), fields)
            elif vf.get("resourceFieldRef") is not None:
                ref = vf["resourceFieldRef"]
                value = resource_value(container, str(ref.get("resource")), ref.get("divisor"))
            else:
                value = ""
        except FieldError as err:
            raise ConfigError(str(err)) from None
        if value is not None:  # an optional key that is missing: no variable at all
            out.append((name, _literal(value)))
    return tuple(out)


def references(container: Obj) -> set[tuple[str, str]]:
    """The (kind, name) of the ConfigMaps and Secrets the container's env reads."""
    refs: set[tuple[str, str]] = set()
    for src in container.get("envFrom") or ():
        if src.get("configMapRef") is not None:
            refs.add(("ConfigMap", str(src["configMapRef"].get("name"))))
        if src.get("secretRef") is not None:
            refs.add(("Secret", str(src["secretRef"].get("name"))))
    for e in container.get("env") or ():
        vf = e.get("valueFrom") or {}
        if vf.get("configMapKeyRef") is not None:
            refs.add(("ConfigMap", str(vf["configMapKeyRef"].get("name"))))
        if vf.get("secretKeyRef") is not None:
            refs.add(("Secret", str(vf["secretKeyRef"].get("name"))))
    return refs
