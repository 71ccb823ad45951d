"""kubectl's everyday verbs against `podnet up`, as on a real cluster (issue 9's list):
create deployment, expose, scale, rollout status, wait, label, edit, describe, get -w,
delete (also of a namespace), with kubectl 1.20 and 1.37."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_workload_verbs(tmp_path: Path, version: str) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "2") as up:
        k = up.kubectl(version)
        k.ok("create", "namespace", "shop")
        k.ok("create", "deployment", "web", "--image=nginx", "-n", "shop")
        k.ok("expose", "deployment", "web", "--port=80", "-n", "shop")
        k.ok("scale", "deployment", "web", "--replicas=3", "-n", "shop")
        out = k.ok("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s", timeout=70)
        assert "successfully rolled out" in out, out
        k.ok("wait", "--for=condition=Available", "deployment/web", "-n", "shop", "--timeout=30s")
        pods = k.json("get", "pods", "-n", "shop", "-l", "app=web")["items"]
        assert len(pods) == 3 and all(p["status"]["phase"] == "Running" for p in pods)
        ips = {p["status"]["podIP"] for p in pods}

        def slice_ips() -> set[str]:
            slices = k.json("get", "endpointslices", "-n", "shop")["items"]
            return {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]}

        eventually(lambda: slice_ips() == ips, 20, "the Service's EndpointSlices hold every pod")

        k.ok("label", "deployment", "web", "tier=front", "-n", "shop")
        assert k.json("get", "deploy", "web", "-n", "shop")["metadata"]["labels"]["tier"] == "front"

        # kubectl edit through an editor that rewrites the replicas (a real edit round trip)
        editor = tmp_path / "editor.py"
        editor.write_text(
            "import sys, re\n"
            "p = sys.argv[1]; t = open(p).read()\n"
            "open(p, 'w').write(re.sub(r'replicas: 3', 'replicas: 2', t, count=1))\n"
        )
        env = {
            **os.environ,
            "KUBECONFIG": str(up.kubeconfig),
            "KUBE_EDITOR": f"{sys.executable} {editor}",
        }
        done = subprocess.run(
            [str(k.binary), "edit", "deployment/web", "-n", "shop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0 and "edited" in done.stdout, done.stderr
        eventually(
            lambda: len(k.json("get", "pods", "-n", "shop", "-l", "app=web")["items"]) == 2,
            30,
            "the edit scaled the Deployment to 2",
        )

        described = k.ok("describe", "deployment", "web", "-n", "shop")
        assert "Replicas:" in described and "web" in described, described
        described = k.ok("describe", "pod", "-n", "shop", "-l", "app=web")
        assert "Node:" in described and "IP:" in described, described
        # the kubelet's conditions as a 1.29+ kubelet writes them, in its order
        wait = ["wait", "--for=condition=PodReadyToStartContainers", "pod", "-n", "shop"]
        k.ok(*wait, "-l", "app=web", "--timeout=60s")
        pod = k.json("get", "pods", "-n", "shop", "-l", "app=web")["items"][0]
        assert [c["type"] for c in pod["status"]["conditions"]] == [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]

        # get -w sees a change made meanwhile (bounded by --request-timeout)
        watcher = subprocess.Popen(
            [str(k.binary), "get", "deploy", "-n", "shop", "-w", "--request-timeout=15s"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # the first row is the listing: only then is the watch open (under load
            # kubectl may take seconds to get there)
            assert watcher.stdout is not None
            first = ""
            while "web" not in first:  # the header, then the row (EOF ends it too)
                line = watcher.stdout.readline()
                assert line, first
                first += line
            k.ok("scale", "deployment", "web", "--replicas=1", "-n", "shop")
            rest, _ = watcher.communicate(timeout=30)
            out = first + rest
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.communicate()
        assert out.count("web") >= 2, out

        out = k.ok("delete", "namespace", "shop", timeout=60)
        assert 'namespace "shop" deleted' in out, out

        def gone() -> bool:
            return "shop" not in k.ok("get", "namespaces", "-o", "name")

        eventually(gone, 30, "namespace shop gone with everything in it")
        assert k.json("get", "pods", "-n", "shop")["items"] == []
        rc, err = up.stop()
    assert rc == 0, err
