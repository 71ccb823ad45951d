"""kubectl 1.37's protobuf request bodies, checked against the JSON path.

kubectl 1.37's typed clients (``create configmap|secret|namespace|deployment|service|
job``) POST ``application/vnd.kubernetes.protobuf`` (Accept lists JSON after protobuf,
so answers stay JSON); ``run`` posts JSON (it builds an unstructured object) and is
here as the brief's list has it. Each command runs twice: as is, into namespace ``pb``, and as
``--dry-run=client -o json`` piped to ``kubectl create -f -`` (an unstructured client:
a JSON body) into namespace ``js``. Both stored objects, read back with ``get -o json``,
must be equal once per-object identity is masked; then chosen fields are checked one by
one. A ServerThread over Registry(MemoryStore()) on 127.0.0.1, as test_api_kubectl.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO

from podnet.apiserver import auth, certs, kubeconfig, resources
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

KUBECTL = REPO / ".tools" / "bin" / "kubectl-1.37"
NAMESPACES = resources.RESOURCES[0]
Obj = dict[str, Any]


@dataclass
class Api:
    config: Path
    home: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        if not os.access(KUBECTL, os.X_OK):
            pytest.skip(f"{KUBECTL} missing: ./dev.sh installs it (install_clients)")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home)}
        env["KUBECONFIG"] = str(self.config)
        argv = [str(KUBECTL), "--cache-dir", str(self.home / "cache"), *args]
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=env, timeout=30, check=False
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def get(self, ns: str, ref: str) -> Obj:
        got: Obj = json.loads(self.ok("-n", ns, "get", ref, "-o", "json"))
        return got


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    data = tmp_path / "data"
    tls = certs.ensure(data)
    token = auth.ensure_token(data)
    store = MemoryStore()
    registry = Registry(store)
    for ns in ("default", "kube-system", "pb", "js"):
        registry.create(NAMESPACES, None, {"metadata": {"name": ns}})
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config"
    kubeconfig.install("test", f"https://127.0.0.1:{port}", tls, token, config)
    try:
        yield Api(config, home)
    finally:
        server.stop()
        store.close()


# (the create command, the object it makes)
COMMANDS: list[tuple[list[str], str]] = [
    (["create", "configmap", "x", "--from-literal=a=1", "--from-literal=empty="], "cm/x"),
    (["create", "secret", "generic", "s", "--from-literal=k=v", "--type=Opaque"], "secret/s"),
    (["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"], "deploy/web"),
    (["create", "deployment", "zero", "--image=nginx", "--replicas=0"], "deploy/zero"),
    (["create", "service", "clusterip", "s", "--tcp=80:8080", "--tcp=8443:https"], "svc/s"),
    (["create", "service", "nodeport", "np", "--tcp=81:81"], "svc/np"),
    (
        ["run", "p", "--image=busybox", "--restart=Never", "--labels=a=b", "--", "sleep", "1"],
        "pod/p",
    ),
    (["create", "job", "j", "--image=busybox", "--", "sh", "-c", "exit 0"], "job/j"),
]


def _masked(obj: Obj) -> Obj:
    """The object without what differs between two creations of it (identity, times)."""
    text = json.dumps(obj)
    text = text.replace(obj["metadata"]["uid"], "UID")  # Job selector labels carry it
    # the ServiceAccount admission's volume has a random suffix (kube-api-access-xxxxx)
    text = re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access-NAME", text)
    out: Obj = json.loads(text)
    meta = out["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "namespace", "managedFields"):
        meta.pop(key, None)
    spec = out.get("spec", {})
    for key in ("clusterIP", "clusterIPs"):  # allocated: one per Service
        spec.pop(key, None)
    for port in spec.get("ports", ()):
        port.pop("nodePort", None)
    return out


def test_protobuf_bodies_store_what_json_bodies_store(api: Api) -> None:
    for argv, ref in COMMANDS:
        api.ok("-n", "pb", *argv)
        at = argv.index("--") if "--" in argv else len(argv)  # flags before the args
        dry = [*argv[:at], "--dry-run=client", "-o", "json", *argv[at:]]
        as_json = api.ok("-n", "js", *dry)
        api.ok("-n", "js", "create", "-f", "-", stdin=as_json)
        assert _masked(api.get("pb", ref)) == _masked(api.get("js", ref)), ref
    api.ok("create", "namespace", "n-pb")
    api.ok(
        "create",
        "-f",
        "-",
        stdin=api.ok("create", "namespace", "n-js", "-o", "json", "--dry-run=client"),
    )
    namespaces = [_masked(api.get("default", f"ns/n-{how}")) for how in ("pb", "js")]
    assert json.loads(json.dumps(namespaces[0]).replace("n-pb", "n-js")) == namespaces[1]


def test_protobuf_bodies_field_by_field(api: Api) -> None:
    for argv, _ in COMMANDS:
        api.ok("-n", "pb", *argv)
    assert api.ok("create", "namespace", "n1").strip() == "namespace/n1 created"

    ns = api.get("default", "ns/n1")
    assert ns["metadata"]["name"] == "n1" and ns["status"] == {"phase": "Active"}

    cm = api.get("pb", "cm/x")
    assert cm["data"] == {"a": "1", "empty": ""}  # an empty map value is kept
    assert "binaryData" not in cm and "immutable" not in cm

    secret = api.get("pb", "secret/s")
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"  # bytes: base64

    web = api.get("pb", "deploy/web")
    assert web["metadata"]["labels"] == {"app": "web"}
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    template = web["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "web"}
    [container] = template["spec"]["containers"]
    assert container["name"] == "nginx" and container["image"] == "nginx"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert api.get("pb", "deploy/zero")["spec"]["replicas"] == 0  # set to zero: kept

    svc = api.get("pb", "svc/s")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["selector"] == {"app": "s"}
    assert svc["spec"]["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "8443-https", "port": 8443, "protocol": "TCP", "targetPort": "https"},
    ]  # IntOrString: an int and a string
    api.ok("-n", "pb", "create", "service", "nodeport", "n", "--tcp=81:81", "--node-port=30081")
    nodeport = api.get("pb", "svc/n")["spec"]
    assert nodeport["type"] == "NodePort"
    assert nodeport["ports"] == [
        {"name": "81-81", "nodePort": 30081, "port": 81, "protocol": "TCP", "targetPort": 81}
    ]

    pod = api.get("pb", "pod/p")
    assert pod["metadata"]["labels"] == {"a": "b"}
    assert pod["spec"]["restartPolicy"] == "Never"
    [container] = pod["spec"]["containers"]
    assert container["name"] == "p" and container["image"] == "busybox"
    assert container["args"] == ["sleep", "1"] and "command" not in container

    job = api.get("pb", "job/j")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "j" and container["image"] == "busybox"
    assert container["command"] == ["sh", "-c", "exit 0"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "replicas" not in job["spec"]


def test_protobuf_for_an_unserved_kind_is_not_created(api: Api) -> None:
    """A kind podnet does not serve is refused by its path (404), as before."""
    done = api.run("create", "quota", "q", "--hard=pods=2")  # ResourceQuota: not served
    assert done.returncode == 1
    assert "the server could not find the requested resource" in done.stderr


ORIGINAL: Obj = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "orig", "labels": {"app": "x"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "ports": [{"name": "http", "containerPort": 80}],
                "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "C_"}],
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}],
                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 80}},
                "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            }
        ],
        "volumes": [
            {"name": "v", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}}
        ],
    },
}


def test_debug_copy_keeps_the_whole_pod_spec(api: Api) -> None:
    """``kubectl debug --copy-to`` reads a pod and creates its copy as protobuf: the Go
    structs embedded ``json:",inline"`` (Probe's handler, Volume's source,
    LocalObjectReference in configMapRef/secretKeyRef) must come through."""
    api.ok("-n", "pb", "create", "-f", "-", stdin=json.dumps(ORIGINAL))
    api.ok(
        *("-n", "pb", "debug", "orig", "--copy-to=copy", "--image=busybox", "--container=dbg"),
        *("--keep-labels", "--keep-liveness", "--keep-readiness", "--attach=false"),
    )
    orig, copy = api.get("pb", "pod/orig"), api.get("pb", "pod/copy")
    assert copy["metadata"]["labels"] == {"app": "x"}
    assert [c["name"] for c in copy["spec"]["containers"]] == ["c", "dbg"]
    assert copy["spec"]["containers"][0] == orig["spec"]["containers"][0]
    assert copy["spec"]["volumes"] == orig["spec"]["volumes"]
    [container] = ORIGINAL["spec"]["containers"]  # what was sent, field by field
    got = copy["spec"]["containers"][0]
    assert got["livenessProbe"]["httpGet"] == {"path": "/", "port": "http", "scheme": "HTTP"}
    assert got["readinessProbe"]["tcpSocket"] == {"port": 80}
    assert got["envFrom"] == container["envFrom"] and got["env"] == container["env"]
    assert got["resources"] == {  # Quantity maps; requests defaulted from limits
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"memory": "64Mi"},
    }
    # podnet does not default configMap.defaultMode (upstream: 420); orig lacks it too
    sent = [v for v in copy["spec"]["volumes"] if not v["name"].startswith("kube-api-access-")]
    assert sent == ORIGINAL["spec"]["volumes"]


CHART = {
    "Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    "values.yaml": "replicas: 2\n",
    "templates/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
""",
}


def test_helm4_release_secrets(api: Api, tmp_path: Path) -> None:
    """helm 4 keeps each release in a Secret it creates and updates as protobuf (its
    typed clientset) and deletes with a protobuf DeleteOptions body; the chart's own
    objects go by server-side apply (JSON)."""
    helm = REPO / ".tools" / "bin" / "helm-4"
    if not os.access(helm, os.X_OK):
        pytest.skip(f"{helm} missing: ./dev.sh installs it (install_clients)")
    chart = tmp_path / "tiny"
    for name, text in CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(api.home)}
    env["KUBECONFIG"] = str(api.config)

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(helm), "-n", "pb", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"helm {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    run("install", "r1", str(chart))
    run("upgrade", "r1", str(chart), "--set", "replicas=0")
    [release] = json.loads(run("list", "-o", "json"))  # reads the Secrets back
    assert (release["name"], release["revision"], release["status"]) == ("r1", "2", "deployed")
    v1 = api.get("pb", "secret/sh.helm.release.v1.r1.v1")
    assert v1["type"] == "helm.sh/release.v1"
    labels = v1["metadata"]["labels"]
    assert labels.pop("modifiedAt").isdigit()  # helm's update stamp
    assert labels == {
        "name": "r1",
        "owner": "helm",
        "status": "superseded",
        "version": "1",
    }  # an update (PUT) as protobuf
    assert set(v1["data"]) == {"release"} and len(v1["data"]["release"]) > 100
    assert api.get("pb", "deploy/r1-web")["spec"]["replicas"] == 0
    run("uninstall", "r1")
    assert api.ok("-n", "pb", "get", "secrets,deploy", "-o", "name") == ""
