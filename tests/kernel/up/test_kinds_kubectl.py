"""CronJob, Ingress, IngressClass, PodDisruptionBudget (with eviction and ``kubectl
drain``), PriorityClass and the RBAC kinds through real kubectl against ``podnet up``:
the commands, the Status errors and the ``get`` columns a real cluster gives.

kubectl 1.20's ``create cronjob``, ``create job --from=cronjob/`` and ``create pdb``
write batch/v1beta1 and policy/v1beta1, which a current cluster (and podnet) no longer
serves: those run with 1.37; 1.20 reads the same objects and prints their tables.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel
NEW, OLD = KUBECTL_VERSIONS[-1], KUBECTL_VERSIONS[0]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: c, image: busybox, command: [sleep, '3600']}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("kinds"), "--nodes", "2") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def header(out: str) -> list[str]:
    return out.splitlines()[0].split()


def row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[0] == name)


# -- CronJob -----------------------------------------------------------------------------


def test_cronjob_create_get_and_manual_job(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    k.ok("create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *", "--", "date")
    cj = k.json("get", "cronjob", "cj")
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    for version in KUBECTL_VERSIONS:
        out = up.kubectl(version).ok("get", "cronjobs", "-o", "wide")
        assert header(out) == [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST",
            "SCHEDULE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ]
        assert row(out, "cj").split()[1:8] == ["*/1", "*", "*", "*", "*", "<none>", "False"]
    described = k.ok("describe", "cronjob", "cj")
    fields = {
        line.split(":")[0].strip(): line.split()[-1]
        for line in described.splitlines()
        if ":" in line
    }
    assert fields["Concurrency Policy"] == "Allow" and fields["Suspend"] == "False"
    k.ok("create", "job", "--from=cronjob/cj", "manual")
    job = k.json("get", "job", "manual")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"]) == ("CronJob", "cj", cj["metadata"]["uid"])


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_cronjob_invalid_schedule(up: UpCluster, version: str) -> None:
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"bad{version.replace('.', '')}"},
        "spec": {
            "schedule": "61 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    }
    done = up.kubectl(version)("apply", "-f", "-", stdin=json.dumps(manifest))
    assert done.rc != 0
    assert (
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
        in done.err
    )


def test_cronjob_runs_on_schedule(up: UpCluster) -> None:
    """One real run of a ``*/1`` schedule: bounded by the next minute (about 70 s)."""
    k = up.kubectl(NEW)
    k.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *", "--", "true")
    start = time.time()

    def scheduled() -> Any:
        st = k.json("get", "cronjob", "tick").get("status") or {}
        return st.get("lastScheduleTime") and st

    st = eventually(scheduled, timeout=75, what="a scheduled run")
    minute = (
        int(
            time.mktime(time.strptime(st["lastScheduleTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        )
        // 60
    )
    assert minute * 60 >= int(start) - 60
    job = k.json("get", "job", f"tick-{minute}")
    assert job["metadata"]["ownerReferences"][0]["name"] == "tick"
    eventually(
        lambda: (k.json("get", "cronjob", "tick").get("status") or {}).get("lastSuccessfulTime"),
        timeout=40,
        what="the run completed",
    )


# -- Ingress and IngressClass ------------------------------------------------------------


def test_ingress_and_class(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    k.ok(
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {
                    "name": "nginx",
                    "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
                },
                "spec": {"controller": "k8s.io/ingress-nginx"},
            }
        ),
    )
    k.ok("create", "ingress", "web", "--rule=a.example/=web:80", "--rule=b.example/*=web:80,tls")
    ing = k.json("get", "ingress", "web")
    assert ing["spec"]["ingressClassName"] == "nginx"  # DefaultIngressClass admission
    assert ing["status"] == {"loadBalancer": {}}
    for version in KUBECTL_VERSIONS:
        out = up.kubectl(version).ok("get", "ingress")
        assert header(out) == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
        assert row(out, "web").split()[1:5] == ["nginx", "a.example,b.example", "80,", "443"]
        out = up.kubectl(version).ok("get", "ingressclass")
        assert header(out) == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
        assert row(out, "nginx").split()[1:3] == ["k8s.io/ingress-nginx", "<none>"]


# -- PriorityClass -----------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_priority_classes(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    name = f"high{version.replace('.', '')}"
    k.ok("create", "priorityclass", name, "--value=1000", "--description=important")
    out = k.ok("get", "priorityclass")
    assert header(out)[:4] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE"]
    assert row(out, "system-node-critical").split()[1:3] == ["2000001000", "false"]
    assert row(out, "system-cluster-critical").split()[1:3] == ["2000000000", "false"]
    # the kubelet's static DNS pod names system-cluster-critical (admission resolved it)
    system = k.json("get", "pods", "-n", "kube-system")["items"]
    assert system and all(
        p["spec"]["priority"] == 2_000_000_000
        for p in system
        if p["spec"].get("priorityClassName") == "system-cluster-critical"
    )
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p{name}"},
        "spec": {
            "priorityClassName": name,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }
    k.ok("apply", "-f", "-", stdin=json.dumps(pod))
    assert k.json("get", "pod", f"p{name}")["spec"]["priority"] == 1000
    k.ok("delete", "pod", f"p{name}", "--wait=false")
    pod["metadata"]["name"] = f"nope{name}"
    pod["spec"]["priorityClassName"] = "nope"
    done = k("apply", "-f", "-", stdin=json.dumps(pod))
    assert done.rc != 0
    assert f'pods "nope{name}" is forbidden: no PriorityClass with name nope was found' in done.err


# -- PodDisruptionBudget, eviction, drain --------------------------------------------------


def ready_web(k: Kubectl) -> list[dict[str, Any]]:
    def ready() -> Any:
        items = k.json("get", "pods", "-l", "app=web")["items"]
        ok = [
            p
            for p in items
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (p.get("status") or {}).get("conditions") or ()
            )
        ]
        return len(ok) == 3 and ok

    result: list[dict[str, Any]] = eventually(ready, timeout=60, what="3 ready web pods")
    return result


def test_pdb_status_eviction_and_drain(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    k.ok("apply", "-f", "-", stdin=DEPLOYMENT)
    pods = ready_web(k)
    k.ok("create", "pdb", "web", "--selector=app=web", "--min-available=3")

    def status() -> dict[str, Any]:
        st: dict[str, Any] = k.json("get", "pdb", "web").get("status") or {}
        return st

    st = eventually(lambda: status().get("currentHealthy") == 3 and status(), what="pdb status")
    assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (3, 3, 0)
    cond = st["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "False",
        "InsufficientPods",
    )
    described = k.ok("describe", "pdb", "web")
    fields = {
        line.split(":")[0].strip(): line.split()[-1]
        for line in described.splitlines()
        if ":" in line
    }
    assert fields["Min available"] == "3" and fields["Allowed disruptions"] == "0"
    for version in KUBECTL_VERSIONS:
        out = up.kubectl(version).ok("get", "pdb")
        assert header(out) == [
            "NAME",
            "MIN",
            "AVAILABLE",
            "MAX",
            "UNAVAILABLE",
            "ALLOWED",
            "DISRUPTIONS",
            "AGE",
        ]
        assert row(out, "web").split()[1:4] == ["3", "N/A", "0"]
    # drain retries on the 429 until its timeout (both kubectls: 1.20 posts a
    # policy/v1beta1 Eviction to the same subresource)
    node = pods[0]["spec"]["nodeName"]
    for version in KUBECTL_VERSIONS:
        done = up.kubectl(version)(
            "drain",
            node,
            "--pod-selector=app=web",
            "--ignore-daemonsets",
            "--timeout=7s",
            timeout=40,
        )
        assert done.rc != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in done.err
        assert "will retry after 5s" in done.err
    assert len(k.json("get", "pods", "-l", "app=web")["items"]) == 3  # nothing evicted
    # a looser budget lets the drain through, one disruption at a time
    k.ok("patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":2}}')
    eventually(lambda: status().get("disruptionsAllowed") == 1, what="one disruption allowed")
    k.ok(
        "drain", node, "--pod-selector=app=web", "--ignore-daemonsets", "--timeout=60s", timeout=90
    )
    left = [
        p
        for p in k.json("get", "pods", "-l", "app=web")["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    assert all(p["spec"].get("nodeName") != node for p in left)
    k.ok("uncordon", node)


# -- RBAC rows -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_rbac_rows(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    v = version.replace(".", "")
    k.ok("create", "role", f"r{v}", "--verb=get", "--resource=pods")
    k.ok(
        "create",
        "rolebinding",
        f"rb{v}",
        f"--role=r{v}",
        "--user=jane",
        "--group=devs",
        "--serviceaccount=default:sa",
    )
    out = k.ok("get", "role", f"r{v}")
    assert header(out) == ["NAME", "CREATED", "AT"]
    assert row(out, f"r{v}").split()[1].endswith("Z")
    out = k.ok("get", "rolebinding", f"rb{v}", "-o", "wide")
    assert header(out) == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    cells = row(out, f"rb{v}").split()
    assert cells[1] == f"Role/r{v}" and cells[3:] == ["jane", "devs", "default/sa"]
