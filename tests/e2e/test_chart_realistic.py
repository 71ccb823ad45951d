"""A realistic chart through helm 3 and helm 4 against ``podnet up``, as a new user meets
the cluster: the features added one by one (RBAC, ServiceAccount tokens, configMap and
secret volumes and env, probes, PodDisruptionBudget, CronJob, Ingress, NetworkPolicy,
CustomResourceDefinitions) used together, the way charts use them
(tests/e2e/charts/realistic: a ServiceAccount with a Role to read ConfigMaps, a
2-replica busybox httpd serving a page from its ConfigMap volume with readiness and
liveness probes, a Service, a PDB, a CronJob, an Ingress, a NetworkPolicy admitting
labelled clients, and a CRD in crds/ with one custom resource in templates/).

Helm's own rules are the spec here (helm.sh/docs/chart_best_practices/custom_resource_definitions):
crds/ is installed before the templates and never deleted by ``helm uninstall``;
everything else the release made is.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kube import Done, Kubectl, UpCluster, eventually, helm_path, kubectl_path, podnet_up
from support.live import require_live

CHART = Path(__file__).parent / "charts" / "realistic"
WAIT = "90s"  # helm's own bound on --wait; the subprocess gets a little more
CLIENT = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {labels}
spec:
  containers:
  - {{name: c, image: busybox, command: [sleep, "3600"]}}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "2") as cluster:
        yield cluster
        rc, err = cluster.stop(timeout=60)
        assert rc == 0, err


def helm(up: UpCluster, version: str, *args: str) -> str:
    home = up.kubeconfig.parent
    env = {
        **os.environ,
        "KUBECONFIG": str(up.kubeconfig),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / f"helm{version}-cache"),
        "HELM_CONFIG_HOME": str(home / f"helm{version}-config"),
        "HELM_DATA_HOME": str(home / f"helm{version}-data"),
    }
    done = subprocess.run(
        [str(helm_path(version)), *args], env=env, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def token_kubectl(up: UpCluster, token: str, path: Path) -> Kubectl:
    """A kubeconfig with the cluster and its CA and the token as its only credential:
    beside the admin's client certificate a token would not be looked at (x509 comes
    first in kube-apiserver's union authenticator)."""
    cluster = yaml.safe_load(up.kubeconfig.read_text())["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "current-context": "sa",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return Kubectl(kubectl_path("1.37"), path)


def pods(k: Kubectl, ns: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = k.json("get", "pods", "-n", ns, "-l", selector)["items"]
    return items


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def evict(k: Kubectl, ns: str, pod: str) -> Done:
    """POST pods/eviction, as kubectl drain does (policy/v1 Eviction)."""
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}}
    path = f"/api/v1/namespaces/{ns}/pods/{pod}/eviction"
    return k("create", "--raw", path, "-f", "-", stdin=json.dumps(body))


def terminating(pod: dict[str, Any]) -> bool:
    return "deletionTimestamp" in pod["metadata"]


def fetch(k: Kubectl, ns: str, client: str, url: str) -> str:
    # busybox's wget has no -T here (Debian's build); the shell's timeout bounds it
    done = k("exec", "-n", ns, client, "--", "timeout", "10", "wget", "-qO-", url, timeout=20)
    return done.out if done.rc == 0 else ""


@pytest.mark.parametrize("version", ["3", "4"])
def test_realistic_chart_lifecycle(up: UpCluster, version: str, tmp_path: Path) -> None:
    k = up.kubectl("1.37")
    ns, release = f"shop{version}", "r1"
    name = f"{release}-shop"
    sa = f"system:serviceaccount:{ns}:{name}"
    web = f"app.kubernetes.io/instance={release},app.kubernetes.io/name=shop"

    out = helm(up, version, "install", release, str(CHART), "-n", ns, "--create-namespace",
               "--wait", "--timeout", WAIT)  # fmt: skip
    assert "STATUS: deployed" in out, out
    deploy = k.json("get", "deploy", name, "-n", ns)
    assert deploy["status"].get("readyReplicas") == 2, deploy["status"]
    running = pods(k, ns, web)
    assert len(running) == 2 and all(ready(p) for p in running), running
    assert {p["spec"]["serviceAccountName"] for p in running} == {name}

    # the page through the Service, from a client the NetworkPolicy admits
    for client, labels in (("client", f"{{{name}-client: 'true'}}"), ("stranger", "{}")):
        k.ok("apply", "-n", ns, "-f", "-", stdin=CLIENT.format(name=client, labels=labels))
    for client in ("client", "stranger"):
        k.ok("wait", "-n", ns, "--for=condition=Ready", f"pod/{client}", "--timeout=60s",
             timeout=70)  # fmt: skip
    url = f"http://{name}"
    eventually(lambda: "<h1>shop v1</h1>" in fetch(k, ns, "client", url), 30, "the page")
    assert fetch(k, ns, "stranger", url) == "", "the NetworkPolicy let an unlabelled pod in"
    k.ok("label", "-n", ns, "pod/stranger", f"{name}-client=true")
    eventually(lambda: "shop v1" in fetch(k, ns, "stranger", url), 30, "the labelled stranger")

    # env from the Secret (valueFrom) and the ConfigMap (envFrom)
    pod = running[0]["metadata"]["name"]
    env = dict(
        line.split("=", 1)
        for line in k.ok("exec", "-n", ns, pod, "--", "env").splitlines()
        if "=" in line
    )
    assert env["API_KEY"] == "s3cr3t" and env["GREETING"] == "hello", env

    # RBAC: the Role gives the account configmaps, not secrets
    can = k("auth", "can-i", "list", "configmaps", "-n", ns, f"--as={sa}")
    assert (can.rc, can.out.strip()) == (0, "yes"), can
    cannot = k("auth", "can-i", "list", "secrets", "-n", ns, f"--as={sa}")
    assert (cannot.rc, cannot.out.strip()) == (1, "no"), cannot
    token = k.ok("create", "token", name, "-n", ns).strip()
    as_sa = token_kubectl(up, token, tmp_path / "sa" / "kubeconfig")
    assert name in as_sa.ok("get", "configmaps", "-n", ns, "-o", "name")
    denied = as_sa("get", "secrets", "-n", ns)
    assert denied.rc != 0 and "Forbidden" in denied.err, denied
    # the same from inside: the app's own kube-api-access token, as client-go would read it
    mount = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert k.ok("exec", "-n", ns, pod, "--", "cat", f"{mount}/namespace") == ns
    own = k.ok("exec", "-n", ns, pod, "--", "cat", f"{mount}/token").strip()
    in_pod = token_kubectl(up, own, tmp_path / "pod" / "kubeconfig")
    assert name in in_pod.ok("get", "configmaps", "-n", ns, "-o", "name")
    assert "Forbidden" in in_pod("get", "secrets", "-n", ns).err
    assert in_pod("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").out == sa

    # the PDB: 2 healthy, 1 required, so 1 disruption allowed
    def pdb_row() -> list[str]:
        lines = k.ok("get", "pdb", name, "-n", ns).splitlines()
        return lines[1].split() if len(lines) == 2 else []

    row = eventually(lambda: (r := pdb_row()) and r[3] == "1" and r, 30, "ALLOWED DISRUPTIONS 1")
    header = k.ok("get", "pdb", name, "-n", ns).splitlines()[0]
    assert "ALLOWED DISRUPTIONS" in header and row[1] == "1", (header, row)

    # the chart's own test hook (helm create's test-connection pod), then it is deleted
    tested = helm(up, version, "test", release, "-n", ns, "--timeout", WAIT)
    assert "Phase:          Succeeded" in tested or "Phase: Succeeded" in tested, tested
    eventually(lambda: not pods(k, ns, "helm.sh/chart=shop-0.1.0"), 60, "the test pod deleted")

    # the Eviction API: one pod may go, the second is refused while the first is replaced
    first, second = (p["metadata"]["name"] for p in running)
    assert evict(k, ns, first).rc == 0
    refused = evict(k, ns, second)
    assert refused.rc != 0 and "disruption budget" in refused.err, refused
    eventually(lambda: (r := pdb_row()) and r[3] == "1", 60, "the replacement Ready")

    # a drain honours the PDB: one web pod at a time, each replaced before the next goes
    node = running[0]["spec"]["nodeName"]
    k.ok("drain", node, f"--pod-selector={web}", "--timeout=120s", timeout=130)
    moved = pods(k, ns, web)
    assert all(p["spec"]["nodeName"] != node for p in moved), moved
    k.ok("uncordon", node)
    eventually(lambda: (r := pdb_row()) and r[3] == "1", 60, "1 disruption allowed again")
    eventually(lambda: "shop v1" in fetch(k, ns, "client", url), 30, "the page after the drain")

    # the CronJob, the Ingress, the custom resource
    cron = k.json("get", "cronjob", f"{name}-backup", "-n", ns)
    assert cron["spec"]["schedule"] == "0 3 * * *", cron["spec"]
    k.ok("create", "job", "-n", ns, "backup-now", f"--from=cronjob/{name}-backup")
    k.ok("wait", "-n", ns, "--for=condition=Complete", "job/backup-now", "--timeout=60s",
         timeout=70)  # fmt: skip
    assert k.ok("logs", "-n", ns, "job/backup-now").strip() == "backup of <h1>shop v1</h1>"
    ingress = k.json("get", "ingress", name, "-n", ns)
    assert ingress["spec"]["rules"][0]["host"] == "shop.example.test", ingress
    hosts = k.ok("get", "ingress", name, "-n", ns).splitlines()
    assert "HOSTS" in hosts[0] and "shop.example.test" in hosts[1], hosts
    widgets = k.ok("get", "widgets", "-n", ns)
    assert name in widgets and "SIZE" in widgets.splitlines()[0], widgets
    assert k.json("get", "wdg", name, "-n", ns)["spec"] == {"size": 3, "color": "blue"}

    # an old kubectl reads the same objects through discovery
    old = up.kubectl("1.20")
    listed = old.ok("get", "pdb,cronjob,ingress,netpol,widgets", "-n", ns, "-o", "name")
    assert len(listed.split()) == 5, listed
    assert old.ok("auth", "can-i", "get", "configmaps", "-n", ns, f"--as={sa}").strip() == "yes"

    # the liveness probe never failed a healthy container
    live = [p for p in pods(k, ns, web) if not terminating(p)]
    restarts = [c["restartCount"] for p in live for c in p["status"]["containerStatuses"]]
    assert restarts == [0, 0], restarts

    # upgrade: a new page rolls the pods (the checksum annotation), rollback brings v1 back
    before = {p["metadata"]["name"] for p in pods(k, ns, web)}
    helm(up, version, "upgrade", release, str(CHART), "-n", ns, "--set", "page=<h1>shop v2</h1>",
         "--wait", "--timeout", WAIT)  # fmt: skip
    eventually(lambda: "shop v2" in fetch(k, ns, "client", url), 30, "the v2 page")
    # the old pods may still be Terminating: httpd as pid 1 ignores SIGTERM (the kernel
    # gives pid 1 no default action), so they go at the end of their 30 s grace
    rolled = {p["metadata"]["name"] for p in pods(k, ns, web) if not terminating(p)}
    assert len(rolled) == 2 and not before & rolled, (before, rolled)
    helm(up, version, "rollback", release, "1", "-n", ns, "--wait", "--timeout", WAIT)
    eventually(lambda: "shop v1" in fetch(k, ns, "client", url), 30, "the v1 page again")
    history = helm(up, version, "history", release, "-n", ns)
    assert len([ln for ln in history.splitlines()[1:] if ln.strip()]) == 3, history

    # an edit outside helm reaches the mounted file in place, no rollout (kubelet's
    # configMap volume sync; pkg/volume/configmap); the page changes, the pods stay
    serving = {p["metadata"]["name"] for p in pods(k, ns, web) if not terminating(p)}
    k.ok("patch", "configmap", name, "-n", ns, "-p", '{"data":{"index.html":"<h1>hotfix</h1>"}}')
    eventually(lambda: "hotfix" in fetch(k, ns, "client", url), 90, "the edited page")
    still = {p["metadata"]["name"] for p in pods(k, ns, web) if not terminating(p)}
    assert still == serving, (serving, still)

    # uninstall: everything the release made is gone; the CRD stays (helm never deletes crds/)
    # (the Job made --from the CronJob is owned by it: the garbage collector takes it)
    owners = k.json("get", "job", "backup-now", "-n", ns)["metadata"].get("ownerReferences", [])
    assert [o["kind"] for o in owners] == ["CronJob"], owners
    k.ok("delete", "-n", ns, "pod/client", "pod/stranger", "--wait=true", timeout=90)
    helm(up, version, "uninstall", release, "-n", ns, "--wait", "--timeout", WAIT)
    eventually(lambda: not k.json("get", "pods", "-n", ns)["items"], 60, "no pods left")
    kinds = "deploy,rs,svc,sa,cm,secret,role,rolebinding,pdb,cronjob,job,ingress,netpol,widgets"
    left = [i["metadata"]["name"] for i in k.json("get", kinds, "-n", ns)["items"]]
    assert sorted(left) == ["default", "kube-root-ca.crt"], left
    assert k.ok("get", "crd", "widgets.shop.example.test", "-o", "name").strip()
    assert "r1" not in helm(up, version, "list", "-n", ns)
