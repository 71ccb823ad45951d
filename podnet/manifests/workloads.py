"""Workloads -> the pods their controllers would create, named and labelled alike.

Where a controller uses randomness (generateName suffixes, UIDs) the characters come
from a hash of the object, so the same manifests always give the same pod names:

* Deployment: ReplicaSet ``<name>-<pod-template-hash>`` (FNV-32a of the template,
  rand.SafeEncodeString: pkg/controller/deployment/sync.go, controller_utils.go), pods
  ``<rs>-<5 chars>``, labels += ``pod-template-hash``.
* ReplicaSet: pods ``<name>-<5 chars>`` (names.SimpleNameGenerator, base cut to 58).
* ReplicationController: as a ReplicaSet (pkg/controller/replication wraps the
  ReplicaSet controller); an empty selector defaults to the template labels.
* StatefulSet: ``<name>-<ordinal>`` from ``spec.ordinals.start``; labels +=
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index``,
  ``controller-revision-hash``; hostname = pod name, subdomain = serviceName
  (pkg/controller/statefulset/stateful_set_utils.go).
* DaemonSet: kept as a template pod, expanded per node by
  podnet.control.scheduler.expand_daemonsets once nodes exist.
* Job: ``min(parallelism, completions)`` pods, none when suspended; labels += ``job-name``,
  ``batch.kubernetes.io/job-name``, ``controller-uid``,
  ``batch.kubernetes.io/controller-uid``; Indexed: ``<name>-<index>-<5 chars>``, hostname
  ``<name>-<index>`` (pkg/controller/job).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from podnet.errors import ManifestError
from podnet.manifests.convert import labels_of, to_pod
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.meta import Meta
from podnet.model.objects import Pod

# k8s.io/apimachinery/pkg/util/rand: no vowels (no words), no 0/1/3 (look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
MAX_GENERATED_BASE = 58  # 63 - 5 random characters

# Replica counts are int32 in the API (apps/v1 DeploymentSpec.Replicas *int32; the
# server refuses a larger number when decoding). podnet builds every pod in memory, so
# it also refuses more than Kubernetes' tested scale, 150,000 pods per cluster
# (kubernetes.io/docs/setup/best-practices/cluster-large), per workload and in all,
# before building any.
INT32_MAX = 2**31 - 1
MAX_PODS = 150_000


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Any) -> str:
    """pod-template-hash: SafeEncodeString of the decimal FNV-32a of the template."""
    digest = _fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in str(digest))


def suffix(*seed: str, length: int = 5) -> str:
    """Deterministic stand-in for utilrand.String(5)."""
    digest = hashlib.sha256("\0".join(seed).encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:length])


def generate_name(base: str, *seed: str, taken: set[str] | None = None) -> str:
    """``base`` cut to 58 characters + 5 (names.SimpleNameGenerator), never a name in ``taken``.

    A generated name can clash (27^5 suffixes: likely among a few thousand pods of one
    base). The API server then retries the create with a fresh suffix (RetryGenerateName,
    on by default since 1.31: apiserver filters.WithRetryGenerateName) and the ReplicaSet
    controller creates again on AlreadyExists. Here each retry adds its attempt number to
    the seed, so names stay a function of the input. ``taken`` (the names already used in
    the namespace) gets the chosen name.
    """
    stem = base[:MAX_GENERATED_BASE]
    name = stem + suffix(base, *seed)
    attempt = 0
    while taken is not None and name in taken:
        attempt += 1
        name = stem + suffix(base, *seed, f"retry {attempt}")
    if taken is not None:
        taken.add(name)
    return name


def expand(
    ctx: DocContext,
    kind: str,
    doc: dict[str, Any],
    meta: Meta,
    names: dict[str, set[str]] | None = None,
) -> tuple[Pod, ...]:
    """The pods of one workload (for a DaemonSet: its one template pod).

    ``names`` (namespace -> pod names generated so far) keeps generated names unique
    across workloads: pass one for every workload of an input.
    """
    spec = doc["spec"]
    template = spec["template"]
    tspec = template.get("spec") or {}
    owner = f"{kind}/{meta.name}"
    labels = labels_of(template.get("metadata"))
    ns, name = meta.namespace, meta.name
    taken = ({} if names is None else names).setdefault(ns, set())

    def pod(pod_name: str, extra: Mapping[str, str], **kw: str | None) -> Pod:
        pod_meta = Meta("Pod", ns, pod_name, meta.location)
        return to_pod(
            ctx,
            ("spec", "template", "spec"),
            tspec,
            namespace=ns,
            name=pod_name,
            labels={**labels, **extra},
            meta=pod_meta,
            owner=owner,
            **kw,
        )

    replicas = spec.get("replicas")
    count = 1 if replicas is None else int(replicas)
    if kind != "DaemonSet":
        _bound(ctx, ("spec", "replicas"), count, names)
    if kind == "Deployment":
        thash = template_hash(template)
        rs = f"{name}-{thash}"
        return tuple(
            pod(generate_name(f"{rs}-", ns, str(i), taken=taken), {"pod-template-hash": thash})
            for i in range(count)
        )
    if kind in ("ReplicaSet", "ReplicationController"):  # same controller code
        return tuple(
            pod(generate_name(f"{name}-", ns, str(i), taken=taken), {}) for i in range(count)
        )
    if kind == "StatefulSet":
        revision = f"{name}-{template_hash(template)}"
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        service = spec.get("serviceName") or None
        out = []
        for i in range(start, start + count):
            pod_name = f"{name}-{i}"
            extra = {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(i),
            }
            out.append(pod(pod_name, extra, hostname=pod_name, subdomain=service))
        return tuple(out)
    if kind == "DaemonSet":
        extra = {
            "controller-revision-hash": template_hash(template),
            "pod-template-generation": "1",
        }
        return (pod(name, extra),)
    return _job_pods(ctx, spec, ns, name, pod, names)


class _MakePod(Protocol):
    def __call__(self, pod_name: str, extra: Mapping[str, str], **kw: str | None) -> Pod: ...


def _bound(ctx: DocContext, path: Path, count: int, names: dict[str, set[str]] | None) -> None:
    """Refuse a pod count past int32 or MAX_PODS (with those before it) before expanding."""
    before = sum(map(len, names.values())) if names else 0
    if count > INT32_MAX:
        problem = f"must be at most {INT32_MAX} (int32, as the API server decodes it)"
    elif before + count > MAX_PODS:
        others = f" with the {before:,} pods of the workloads before it" if before else ""
        problem = (
            f"{count:,} pods{others} is more than podnet builds: at most {MAX_PODS:,} "
            "(MAX_PODS, Kubernetes' tested cluster size)"
        )
    else:
        return
    raise ManifestError(
        f"Invalid value {count}: {problem}",
        location=ctx.locate(path),
        obj=ctx.obj,
        field=".".join(map(str, path)),
    )


def _job_pods(
    ctx: DocContext,
    spec: dict[str, Any],
    ns: str,
    name: str,
    pod: _MakePod,
    names: dict[str, set[str]] | None,
) -> tuple[Pod, ...]:
    taken = ({} if names is None else names).setdefault(ns, set())
    if spec.get("suspend"):
        return ()
    parallelism = spec.get("parallelism")
    completions = spec.get("completions")
    count = 1 if parallelism is None else int(parallelism)
    if completions is not None:
        count = min(count, int(completions))
    field = (
        "parallelism" if parallelism is not None and count == int(parallelism) else "completions"
    )
    _bound(ctx, ("spec", field), count, names)
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"podnet:job:{ns}/{name}"))
    extra = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    out: list[Pod] = []
    for i in range(count):
        if spec.get("completionMode") == "Indexed":
            indexed = {**extra, "batch.kubernetes.io/job-completion-index": str(i)}
            out.append(
                pod(generate_name(f"{name}-{i}-", ns, taken=taken), indexed, hostname=f"{name}-{i}")
            )
        else:
            out.append(pod(generate_name(f"{name}-", ns, str(i), taken=taken), extra))
    return tuple(out)
