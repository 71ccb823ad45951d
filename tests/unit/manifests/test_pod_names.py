"""Generated pod names never collide, and stay the same for the same input.

The cases below were chosen because their first-try suffixes clash (checked against
``suffix`` directly), so the retry path is what keeps the names apart.
"""

from __future__ import annotations

import re
from collections import Counter

from support.mf_builders import load, workload

from podnet.manifests.workloads import MAX_GENERATED_BASE, generate_name, suffix
from podnet.model.objects import Pod

SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"


def _first_tries(pods: tuple[Pod, ...], replicas: int) -> Counter[str]:
    """The names pods would get without retries (index = position within its owner)."""
    names: Counter[str] = Counter()
    for i, p in enumerate(pods):
        assert p.owner is not None
        base = f"{p.owner.split('/')[1]}-{p.labels['pod-template-hash']}-"
        names[base[:MAX_GENERATED_BASE] + suffix(base, p.namespace, str(i % replicas))] += 1
    return names


def test_2000_replicas_have_2000_names() -> None:
    doc = workload("Deployment", "web0", replicas=2000)
    pods = load(doc).pods
    assert max(_first_tries(pods, 2000).values()) == 2  # one clash without the retry
    names = [p.name for p in pods]
    assert len(set(names)) == 2000
    thash = pods[0].labels["pod-template-hash"]
    assert all(re.fullmatch(rf"web0-{thash}-{SUFFIX}", n) for n in names)
    assert [p.name for p in load(doc).pods] == names  # reproducible


def test_two_deployments_sharing_a_truncated_base() -> None:
    # Both ReplicaSet names cut to the same 58 characters (names.SimpleNameGenerator).
    a = workload("Deployment", "a" * 58 + "-one", replicas=1000)
    b = workload("Deployment", "a" * 58 + "-4", replicas=1000)
    pods = load(a, b).pods
    assert max(_first_tries(pods, 1000).values()) == 2
    assert len({p.name for p in pods}) == 2000
    assert all(re.fullmatch(rf"a{{58}}{SUFFIX}", p.name) for p in pods)
    assert [p.name for p in load(a, b).pods] == [p.name for p in pods]


def test_generate_name_retries_only_on_a_clash() -> None:
    first = generate_name("web-", "default", "0")
    assert generate_name("web-", "default", "0", taken=set()) == first
    taken = {first}
    second = generate_name("web-", "default", "0", taken=taken)
    assert second != first and re.fullmatch(rf"web-{SUFFIX}", second)
    assert taken == {first, second}
