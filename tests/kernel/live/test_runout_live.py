"""``podnet run``'s output on a real cluster (issue 15): the opening and closing tables,
servers' output folded by default, ``--logs``/``--follow``, the hint for a client stuck
on a connection a NetworkPolicy drops, and colour and progress bar on a terminal."""

from __future__ import annotations

import ipaddress
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from support.live import podnet_argv, podnet_env, require_live, run_cli, write_manifest
from support.paths import REPO

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"

DROPPED = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'echo trying; wget -qO- http://web']}
"""


def test_seed_prints_tables_first_folds_nginx_and_sums_up() -> None:
    require_live()
    res = run_cli("run", "-f", str(SEED), "--timeout", "60s")
    assert res.rc == 0, res.err
    # pod-a's page, as the seed promises; nothing of pod-b's nginx by default
    assert any("Welcome to nginx!" in ln for ln in res.pod_lines("default/pod-a")), res.out
    assert res.pod_lines("default/pod-b") == []
    err = res.err.splitlines()
    head = err.index("POD                     IP           NODE     ROLE")
    # in the documents' order; IPs are the kubelet's, from node-0's podCIDR
    row_a, row_b = err[head + 1].split(), err[head + 2].split()
    assert row_a[0::2] == ["default/pod-a", "node-0"] and row_a[3] == "client", row_a
    assert row_b[0::2] == ["default/pod-b", "node-0"] and row_b[3] == "server", row_b
    assert row_a[1].startswith("10.244.0.") and row_b[1].startswith("10.244.0."), err
    svc = next(ln for ln in err if ln.startswith("default/my-service "))
    kind, ip, ports = svc.split()[1:]
    assert (kind, ports) == ("ClusterIP", "80/TCP"), svc
    # allocated by the API from the Service CIDR, as kube-apiserver does
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12"), svc
    assert "no NetworkPolicy: every pod may reach every other" in err
    # the tables come before the clients start; the closing one after pod-a's exit
    assert head < err.index("podnet: started 1 client pod(s)")
    close = next(i for i, ln in enumerate(err) if ln.startswith("CLIENT "))
    assert err[close + 1].split()[:3] == ["default/pod-a", "Running", "0"]  # restarts: Always
    hidden = next(ln for ln in err if ln.startswith("nginx pods (1): "))
    assert int(hidden.split(": ")[1].split()[0]) >= 1, hidden
    assert "Traceback" not in res.err


def test_follow_shows_a_server_whatever_logs_says() -> None:
    require_live()
    res = run_cli("run", "-f", str(SEED), "--logs", "none", "--follow", "pod-b", "--timeout", "1m")
    assert res.rc == 0, res.err
    assert res.pod_lines("default/pod-a") == []
    # nginx logged pod-a's request: it came from pod-a's IP through the Service.
    got = res.pod_lines("default/pod-b")
    pod_a_ip = next(ln.split()[1] for ln in res.err.splitlines() if ln.startswith("default/pod-a "))
    assert any(ln.startswith(f"{pod_a_ip} ") and '"GET / HTTP/1.1" 200' in ln for ln in got), got
    assert "nginx pods" not in res.err  # nothing of pod-b hidden
    assert any(ln.startswith("busybox pods (1): ") for ln in res.err.splitlines()), res.err


def test_a_client_stuck_on_a_dropped_connection_is_told_why(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(tmp_path, DROPPED)
    t0 = time.monotonic()
    res = run_cli("run", "-f", str(manifest), "--timeout", "12s", timeout=60)
    assert res.rc == 1, res.err  # the timeout struck while the client ran
    assert time.monotonic() - t0 < 30
    assert res.pod_lines("default/client") == ["trying"]
    err = res.err.splitlines()
    hint = next(ln for ln in err if ln.startswith("podnet: default/client: no output for "))
    assert "Service default/web" in hint and "default/deny-web" in hint, hint
    assert "--deny reject" in hint
    assert err.index(hint) < next(i for i, ln in enumerate(err) if "timeout after" in ln)
    denied = next(ln for ln in err if ln.startswith("denied by policy: "))
    assert int(denied.split()[3]) >= 1, denied  # the SYN and its retransmissions
    assert "stuck on a dropped connection: default/client -> Service default/web" in res.err


def test_a_client_whose_dns_lookups_are_dropped_is_told_why(tmp_path: Path) -> None:
    require_live()
    no_egress = (
        DROPPED.replace("name: deny-web}", "name: no-egress}")
        .replace(
            "podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]",
            "podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]",
        )
        .replace("metadata: {name: client}", "metadata: {name: client, labels: {app: client}}")
    )
    manifest = write_manifest(tmp_path, no_egress)
    res = run_cli("run", "-f", str(manifest), "--timeout", "10s", timeout=60)
    assert res.rc == 1, res.err
    hint = next(ln for ln in res.err.splitlines() if "no output for" in ln)
    assert "Service kube-system/kube-dns (10.96.0.10:53/UDP)" in hint, hint
    assert "isolated for egress by [default/no-egress]" in hint, hint


def test_reject_fails_at_once_and_gives_no_drop_hint(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(tmp_path, DROPPED)
    res = run_cli("run", "-f", str(manifest), "--deny", "reject", "--timeout", "30s")
    assert res.rc == 1, res.err  # wget failed
    assert "default/client/c exited 1" in res.err
    assert "no output for" not in res.err
    assert "denied connections are rejected at once: --deny reject" in res.err


def test_a_terminal_gets_colours_and_a_progress_bar() -> None:
    require_live()
    master, slave = os.openpty()
    env = {k: v for k, v in podnet_env().items() if k != "NO_COLOR"}
    proc = subprocess.Popen(
        [*podnet_argv(), "run", "-f", str(SEED), "--timeout", "60s"],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm"},
        cwd="/",
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "\x1b[32m[default/pod-a]\x1b[0m <title>Welcome to nginx!</title>" in text, text
    assert "\r\x1b[Kpodnet: " in text  # the bar's line, erased before other lines
    assert "] 0/1 " in text or "] 1/1 " in text  # the client pods' bar
