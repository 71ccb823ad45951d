"""Counts from the input are bounded before work is done for them (issue 14, "Input"):
replicas before pods are built, errors before they are printed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.mf_builders import error_of, pod, workload

from podnet.errors import ManifestError, ManifestErrors
from podnet.manifests import load_paths
from podnet.manifests.report import MAX_CHECKED_ERRORS, MAX_REPORTED_ERRORS, TruncatedErrors
from podnet.manifests.workloads import MAX_PODS

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: big
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: big}}
  template:
    metadata:
      labels: {{app: big}}
    spec:
      containers:
        - name: c
          image: x
"""


@pytest.mark.parametrize(
    ("replicas", "message"),
    [(100_000_000, "at most 150,000"), (2**31, "int32"), (10**30, "int32")],
)
def test_huge_replicas_refused_before_any_pod_is_built(
    tmp_path: Path, replicas: int, message: str
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(DEPLOYMENT.format(replicas=replicas))
    start = time.monotonic()
    with pytest.raises(ManifestError, match=message) as e:
        load_paths([str(path)])
    assert time.monotonic() - start < 5
    assert str(e.value).startswith(f"{path}:6: Deployment/default/big: spec.replicas: ")


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        ("StatefulSet", {"replicas": MAX_PODS + 1}, "spec.replicas"),
        ("ReplicaSet", {"replicas": MAX_PODS + 1}, "spec.replicas"),
        ("Job", {"parallelism": 10**9, "completions": 10**9}, "spec.parallelism"),
        ("Job", {"parallelism": 10**9, "completions": MAX_PODS + 1}, "spec.completions"),
    ],
)
def test_every_workload_kind_is_bounded(kind: str, spec: dict[str, Any], field: str) -> None:
    e = error_of(workload(kind, **spec))
    assert e.field == field and "MAX_PODS" in str(e)


def test_pods_of_all_workloads_are_bounded_together() -> None:
    half = MAX_PODS // 2 + 1
    e = error_of(workload("Job", "a", parallelism=half), workload("Job", "b", parallelism=half))
    assert e.obj == "Job/default/b" and f"with the {half:,} pods" in str(e)


def test_errors_past_the_cap_are_counted_not_listed() -> None:
    bad = [pod(f"p{i}") | {"spec": {}} for i in range(MAX_REPORTED_ERRORS + 30)]
    e = error_of(*bad)
    assert isinstance(e, TruncatedErrors) and e.total == MAX_REPORTED_ERRORS + 30
    assert len(e.errors) == MAX_REPORTED_ERRORS
    text = str(e)
    assert text.count("\n") == MAX_REPORTED_ERRORS + 1
    assert text.endswith("... and 30 more not shown (podnet lists 20: MAX_REPORTED_ERRORS)")
    assert "(49 more error(s), the first 19 listed)" in text


def test_documents_past_the_checked_cap_are_counted_not_checked() -> None:
    bad = [pod(f"p{i}") | {"spec": {}} for i in range(MAX_CHECKED_ERRORS + 500)]
    t0 = time.monotonic()
    e = error_of(*bad)
    elapsed = time.monotonic() - t0
    assert isinstance(e, TruncatedErrors)
    assert e.total == MAX_CHECKED_ERRORS and e.unchecked == 500
    assert str(e).endswith(
        f"... and 500 more document(s) not checked after {MAX_CHECKED_ERRORS:,} errors "
        "(MAX_CHECKED_ERRORS)"
    )
    assert elapsed < 10, elapsed  # bounded, whatever the number of bad documents


def test_errors_up_to_the_cap_are_all_listed() -> None:
    e = error_of(*[pod(f"p{i}") | {"spec": {}} for i in range(MAX_REPORTED_ERRORS)])
    assert type(e) is ManifestErrors and len(e.errors) == MAX_REPORTED_ERRORS
