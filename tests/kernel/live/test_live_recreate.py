"""The seed's first pitfall, live: a recreated pod gets a NEW IP; the Service name keeps
working, the old pod IP does not.

:meth:`LiveCluster.recreate_pod` is driven in-process, so this file runs *itself* as
the child "podnet process" (a sandbox belongs to one process, and the test runner
never enters a namespace). The child prints one JSON line with what it saw; killing it
(done on any failure) removes the whole cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.paths import PYTHONPATH, REPO

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"
BUSYBOX = "/bin/busybox"


@pytest.mark.kernel
def test_recreated_pod_gets_a_new_ip_and_the_service_follows(tmp_path: Path) -> None:
    from support.live import require_live
    from support.sandbox import HostState

    require_live()
    before = HostState.take()
    # pod-a idles instead of fetching once, so the child can run requests from it.
    manifest = tmp_path / "seed.yaml"
    manifest.write_text(SEED.read_text().replace("wget -qO- http://my-service", "sleep 1000"))
    proc = subprocess.Popen(
        [sys.executable, __file__, str(manifest)],
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, f"child produced no result (rc={proc.returncode}):\n{err[-3000:]}"
    r: dict[str, Any] = json.loads(lines[-1])
    assert r["new_ip"] != r["old_ip"], r
    assert r["endpoints_after"] == [r["new_ip"]], r
    assert "Welcome to nginx!" in r["via_service_before"], r
    assert "Welcome to nginx!" in r["via_service_after"], r
    assert "Welcome to nginx!" in r["via_new_ip"], r
    assert r["via_old_ip_rc"] != 0, r  # nothing answers at the old address any more
    assert r["dns_after"] == r["cluster_ip"], r
    assert proc.returncode == 0, err
    assert HostState.take() == before


# --- the child: the podnet process -------------------------------------------------


def _in_pod(cluster: Any, key: str, argv: list[str], timeout: float = 15) -> tuple[int, str]:
    """Run ``argv`` in pod ``key`` while driving the runtime loop; (exit code, output)."""
    p = cluster.sandbox.spawn(key, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cluster.runtime.run_until(lambda: p.poll() is not None, timeout)
    if p.poll() is None:
        p.kill()
    code = p.wait()
    return code, p.stdout.read().decode(errors="replace")


def _child(manifest: str) -> None:
    from podnet.live.cluster import LiveCluster
    from podnet.live.listening import Listeners
    from podnet.manifests import load_paths

    r: dict[str, Any] = {}
    with LiveCluster(load_paths([manifest])) as cluster:
        state = cluster.start()
        servers, clients = cluster.servers_and_clients()
        cluster.start_pods(servers)
        assert cluster.runtime is not None and cluster.sandbox is not None
        pid = cluster.sandbox.pod_pid
        assert cluster.runtime.run_until(Listeners(pid, state.services, servers).all_listening, 20)
        cluster.start_pods(clients)
        r["cluster_ip"] = next(s.cluster_ip for s in state.services if s.name == "my-service")
        old = state.pod("default/pod-b")
        assert old is not None
        r["old_ip"] = old.ip

        def wget(url: str) -> tuple[int, str]:
            # Debian's busybox 1.35 segfaults on ``wget -T``: ``timeout`` bounds it.
            argv = [BUSYBOX, "timeout", "3", BUSYBOX, "wget", "-qO-", url]
            return _in_pod(cluster, "default/pod-a", argv)

        r["via_service_before"] = wget("http://my-service")[1]
        new = cluster.recreate_pod("default/pod-b")
        r["new_ip"] = new.ip
        assert cluster.runtime.run_until(Listeners(pid, state.services, [new]).all_listening, 20)

        def endpoint_ips() -> list[str]:
            assert cluster.state is not None
            eps = cluster.state.endpoints.get("default/my-service", {})
            return sorted(e.ip for port in eps.values() for e in port if e.ready)

        cluster.runtime.run_until(lambda: endpoint_ips() == [new.ip], 10)
        r["endpoints_after"] = endpoint_ips()
        r["via_service_after"] = wget("http://my-service")[1]
        r["via_new_ip"] = wget(f"http://{new.ip}")[1]
        r["via_old_ip_rc"] = wget(f"http://{old.ip}")[0]
        ns = _in_pod(cluster, "default/pod-a", [BUSYBOX, "nslookup", "my-service"])[1]
        addrs = [ln.split()[-1] for ln in ns.split("\n\n", 1)[-1].splitlines() if "Address" in ln]
        r["dns_after"] = addrs[0] if addrs else ns
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1])
