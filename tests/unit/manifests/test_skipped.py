"""Kinds podnet does not model: one warning per kind, and "did you mean" for typos."""

from __future__ import annotations

from typing import Any

import pytest
from support.mf_builders import LOC, load, pod, workload

from podnet.manifests import from_documents
from podnet.manifests.kinds import KINDS
from podnet.manifests.skipped import distance, suggest


def _doc(kind: str, name: str, api: str = "v1") -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}}


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("kitten", "sitting", 3), ("Deploymnet", "Deployment", 2), ("pod", "Pod", 1)],
)
def test_distance(a: str, b: str, d: int) -> None:
    assert distance(a, b) == distance(b, a) == d


@pytest.mark.parametrize(
    ("kind", "close"),
    [
        ("Deploymnet", "Deployment"),
        ("deployment", "Deployment"),
        ("Services", "Service"),
        ("NetworkPolicies", None),  # 3 edits away: cobra would not suggest it either
        ("Widget", None),
        ("StatefullSet", "StatefulSet"),
    ],
)
def test_suggest(kind: str, close: str | None) -> None:
    assert suggest(kind, KINDS) == close


def test_one_warning_per_kind_with_a_count() -> None:
    m = load(
        pod("web"),
        *(_doc("ConfigMap", f"cm{i}") for i in range(4)),
        _doc("Secret", "s"),
        _doc("Deploymnet", "d", "apps/v1"),
    )
    assert len(m.pods) == 1
    skipped = [w for w in m.warnings if "not modelled" in w]
    assert skipped == [
        "test.yaml:1: kind ConfigMap (v1) is not modelled by podnet; 4 objects skipped "
        "(the first here)",
        "test.yaml:1: Secret/s: kind Secret (v1) is not modelled by podnet; skipped",
        "test.yaml:1: Deploymnet/d: kind Deploymnet (apps/v1) is not modelled by podnet "
        "(no schema known); skipped; did you mean Deployment?",
    ]


def test_a_modelled_kind_gives_no_skip_warning() -> None:
    assert not [w for w in load(workload("Deployment", "web")).warnings if "not modelled" in w]


def test_kinds_the_caller_serves_are_not_told_skipped() -> None:
    """``podnet run`` creates every kind its API serves (cli/run.py ``_served``): a
    ConfigMap or a claim there is used, so no "skipped" line; a typo still is one."""
    from podnet.cli.run import _served

    docs = [
        pod("web"),
        _doc("ConfigMap", "cm"),
        _doc("PersistentVolumeClaim", "data"),
        _doc("Deploymnet", "d", "apps/v1"),
    ]
    m = from_documents([(d, LOC) for d in docs], served=_served)
    skipped = [w for w in m.warnings if "not modelled" in w]
    assert len(skipped) == 1 and "Deploymnet" in skipped[0], skipped
    assert len([w for w in load(*docs).warnings if "not modelled" in w]) == 3
