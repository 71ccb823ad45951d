"""Downward API values from the pod object (pure): what a ``fieldRef`` or a
``resourceFieldRef`` names, as text.

``fieldRef``: k8s.io/kubernetes pkg/fieldpath ``ExtractFieldPathAsString`` (metadata
name/namespace/uid/labels/annotations, one label or annotation by ``['key']``, maps
formatted by ``FormatMap``: sorted ``key="value"`` lines); the fields only env may use
(spec.nodeName, status.podIP...) are given by the caller in ``extra``, as kubelet's
``podFieldSelectorRuntimeValue`` (pkg/kubelet/kubelet_pods.go) fills them.

``resourceFieldRef``: pkg/api/v1/resource ``ExtractContainerResourceValue``: cpu as
ceil(milli / divisor milli), memory and ephemeral-storage as ceil(bytes / divisor); a
limit the container does not set is the node's allocatable (kubelet
``containerResourceRuntimeValue`` merges them).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from podnet.model.quantity import parse_quantity

Obj = dict[str, Any]


class FieldError(ValueError):
    """A field path or resource the downward API does not know."""


def format_map(m: Mapping[str, str]) -> str:
    """fieldpath.FormatMap: ``key="value"`` per line, keys sorted, Go-quoted values."""
    return "\n".join(f"{k}={_quote(m[k])}" for k in sorted(m))


def _quote(v: str) -> str:
    # Go's %q for printable text: JSON's escaping covers the same (quotes, backslash,
    # control characters); non-ASCII kept as is, as %q keeps printable runes
    return json.dumps(v, ensure_ascii=False)


def _subscript(path: str, prefix: str) -> str | None:
    """``metadata.labels['app']`` -> ``app`` (fieldpath.SplitMaybeSubscriptedPath)."""
    head = f"{prefix}['"
    if path.startswith(head) and path.endswith("']"):
        return path[len(head) : -2]
    return None


def field_value(pod: Obj, path: str, extra: Mapping[str, str] | None = None) -> str:
    """The text of ``path`` for ``pod`` (raises :class:`FieldError`)."""
    meta = pod.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    if extra and path in extra:
        return extra[path]
    for prefix, m in (("metadata.labels", labels), ("metadata.annotations", annotations)):
        key = _subscript(path, prefix)
        if key is not None:
            return m.get(key, "")
        if path == prefix:
            return format_map(m)
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1]) or "")
    raise FieldError(f"unsupported fieldPath: {path}")


def _node_allocatable(resource: str) -> Fraction:
    if resource == "cpu":
        return Fraction(os.cpu_count() or 1)
    if resource == "memory":
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return Fraction(int(line.split()[1]) * 1024)
        return Fraction(0)
    if resource == "ephemeral-storage":
        st = os.statvfs("/")
        return Fraction(st.f_blocks * st.f_frsize)
    raise FieldError(f"unsupported container resource: {resource}")


def resource_value(container: Obj, resource: str, divisor: str | int | None = None) -> str:
    """The text of ``resource`` (``limits.cpu``, ``requests.memory``...) of the container
    spec ``container`` (raises :class:`FieldError`)."""
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise FieldError(f"unsupported container resource: {resource}")
    given = ((container.get("resources") or {}).get(kind) or {}).get(name)
    try:
        div = parse_quantity(str(divisor)) if divisor not in (None, "", 0) else Fraction(1)
        if given is not None:
            value = parse_quantity(str(given))
        elif kind == "limits":
            value = _node_allocatable(name)
        else:
            value = Fraction(0)
    except ValueError as e:
        raise FieldError(f"{resource}: {e}") from None
    if div <= 0:
        raise FieldError(f"{resource}: divisor must be positive")
    if name == "cpu":  # milli-values, as convertResourceCPUToString
        value, div = Fraction(math.ceil(value * 1000)), Fraction(math.ceil(div * 1000))
    return str(math.ceil(value / div))
