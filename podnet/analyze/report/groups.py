"""Groups: a workload's pods in one namespace, or a bare pod (bare pods with the same
labels, which every policy treats alike, form one group when there are several)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podnet.model.objects import Pod


@dataclass(frozen=True)
class Group:
    id: str  # namespace/owner-or-pod
    namespace: str
    label: str  # "deploy/web" or "pod/x"
    pods: tuple[Pod, ...]


_GENERATED = (
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/",
    "apps.kubernetes.io/pod-index",
    "pod-template-generation",
)


def _label(pod: Pod) -> str:
    """Workload pods by owner; bare pods by their labels (alike to every policy)."""
    if pod.owner and "/" in pod.owner:
        kind, name = pod.owner.split("/", 1)
        return f"{kind.lower()}/{name}"
    if not pod.labels:
        return f"pod/{pod.name}"
    labels = ",".join(f"{k}={v}" for k, v in sorted(pod.labels.items()))
    return f"pods {labels}"


def groups_of(pods: Sequence[Pod]) -> list[Group]:
    acc: dict[str, list[Pod]] = {}
    for p in sorted(pods, key=lambda p: (p.namespace, p.name)):
        acc.setdefault(f"{p.namespace}/{_label(p)}", []).append(p)
    out = []
    for key, members in acc.items():
        label = _label(members[0])
        if len(members) == 1 and label.startswith("pods "):
            label = f"pod/{members[0].name}"
            key = f"{members[0].namespace}/{label}"
        out.append(Group(key, members[0].namespace, label, tuple(members)))
    return out
