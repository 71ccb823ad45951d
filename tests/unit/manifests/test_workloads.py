"""Workload expansion: pod names and labels as the controllers make them."""

from __future__ import annotations

import re

from support.mf_builders import load, setpath, workload

from podnet.control.scheduler import expand_daemonsets
from podnet.model.cluster import Node

SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]"


def test_deployment_pods() -> None:
    m = load(workload("Deployment", "web", replicas=3))
    assert len(m.pods) == 3
    names = [p.name for p in m.pods]
    assert len(set(names)) == 3
    for p in m.pods:
        match = re.fullmatch(rf"web-({SUFFIX}+)-{SUFFIX}{{5}}", p.name)
        assert match, p.name
        assert p.labels == {"app": "web", "pod-template-hash": match.group(1)}
        assert p.owner == "Deployment/web" and p.restart_policy == "Always"
        assert p.meta is not None and p.meta.kind == "Pod"
    assert [p.name for p in load(workload("Deployment", "web", replicas=3)).pods] == names


def test_deployment_hash_follows_template() -> None:
    a = load(workload("Deployment", "web")).pods[0]
    b = load(
        setpath(workload("Deployment", "web"), "spec.template.spec.containers[0].image", "other")
    ).pods[0]
    assert a.labels["pod-template-hash"] != b.labels["pod-template-hash"]


def test_replicas_default_and_zero() -> None:
    assert len(load(workload("Deployment")).pods) == 1
    assert load(workload("Deployment", replicas=0)).pods == ()


def test_long_names_are_truncated_like_generate_name() -> None:
    doc = setpath(workload("ReplicaSet", "r" * 70), "spec.selector", {"matchLabels": {"a": "b"}})
    m = load(setpath(doc, "spec.template.metadata.labels", {"a": "b"}))
    assert len(m.pods[0].name) == 63


def test_replicaset_pods() -> None:
    m = load(workload("ReplicaSet", "rs", replicas=2))
    assert all(re.fullmatch(rf"rs-{SUFFIX}{{5}}", p.name) for p in m.pods)
    assert m.pods[0].labels == {"app": "rs"} and m.pods[0].owner == "ReplicaSet/rs"


def test_statefulset_pods() -> None:
    m = load(workload("StatefulSet", "db", replicas=2, serviceName="db-h"))
    assert [p.name for p in m.pods] == ["db-0", "db-1"]
    p = m.pods[1]
    assert (p.hostname, p.subdomain, p.owner) == ("db-1", "db-h", "StatefulSet/db")
    assert p.labels["statefulset.kubernetes.io/pod-name"] == "db-1"
    assert p.labels["apps.kubernetes.io/pod-index"] == "1"
    assert p.labels["controller-revision-hash"].startswith("db-")


def test_statefulset_ordinals_start() -> None:
    m = load(workload("StatefulSet", "db", replicas=2, ordinals={"start": 5}))
    assert [p.name for p in m.pods] == ["db-5", "db-6"]


def test_daemonset_is_a_template() -> None:
    m = load(
        setpath(workload("DaemonSet", "agent"), "spec.template.spec.nodeSelector", {"role": "edge"})
    )
    assert m.pods == ()
    (t,) = m.daemonsets
    assert t.name == "agent" and t.owner == "DaemonSet/agent"
    nodes = [
        Node(f"node-{i}", labels, f"10.244.{i}.0/24", f"172.18.0.{i + 2}")
        for i, labels in enumerate([{"role": "edge"}, {}, {"role": "edge"}])
    ]
    pods = expand_daemonsets([t], nodes)
    assert [p.node_name for p in pods] == ["node-0", "node-2"]
    assert all(re.fullmatch(rf"agent-{SUFFIX}{{5}}", p.name) for p in pods)
    assert len({p.name for p in pods}) == 2


def test_job_pods() -> None:
    m = load(workload("Job", "batch", parallelism=3, completions=2))
    assert len(m.pods) == 2
    p = m.pods[0]
    assert re.fullmatch(rf"batch-{SUFFIX}{{5}}", p.name)
    assert p.restart_policy == "Never" and p.owner == "Job/batch"
    assert p.labels["job-name"] == p.labels["batch.kubernetes.io/job-name"] == "batch"
    assert p.labels["controller-uid"] == p.labels["batch.kubernetes.io/controller-uid"]
    assert p.labels["app"] == "batch"


def test_job_defaults_and_suspend() -> None:
    assert len(load(workload("Job")).pods) == 1
    assert load(workload("Job", suspend=True)).pods == ()


def test_indexed_job() -> None:
    m = load(workload("Job", "ix", parallelism=2, completionMode="Indexed", completions=2))
    assert [p.hostname for p in m.pods] == ["ix-0", "ix-1"]
    assert all(re.fullmatch(rf"ix-\d-{SUFFIX}{{5}}", p.name) for p in m.pods)
    assert m.pods[1].labels["batch.kubernetes.io/job-completion-index"] == "1"


def test_workload_pods_live_in_its_namespace() -> None:
    m = load(setpath(workload("Deployment", "w"), "metadata.namespace", "shop"))
    assert m.pods[0].namespace == "shop"
