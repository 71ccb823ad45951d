"""NetworkPolicies in ``podnet run``: the seed with pod-b isolated for ingress.

Denied traffic is dropped by default, as most CNIs do (the client waits); ``--deny
reject`` refuses it at once. Allowing pod-a by label opens it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest
from support.paths import REPO

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"

DENY_B = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-isolated}
spec:
  podSelector: {matchLabels: {app: my-app}}
  policyTypes: [Ingress]
"""

ALLOW_CLIENT = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-client}
spec:
  podSelector: {matchLabels: {app: my-app}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80}]
"""


def test_isolated_server_rejects_at_once_with_deny_reject(tmp_path: Path) -> None:
    require_live()
    policy = write_manifest(tmp_path, DENY_B, "deny.yaml")
    res = run_cli("run", "-f", str(SEED), "-f", str(policy), "--deny", "reject", "--timeout", "30")
    assert res.rc == 1, res.err
    assert "Connection refused" in " ".join(res.pod_lines("default/pod-a")), res.out
    assert "default/pod-a/client exited 1" in res.err


def test_isolated_server_drops_by_default(tmp_path: Path) -> None:
    require_live()
    policy = write_manifest(tmp_path, DENY_B, "deny.yaml")
    res = run_cli("run", "-f", str(SEED), "-f", str(policy), "--timeout", "4")
    assert res.rc == 1, res.err
    assert "Welcome to nginx!" not in res.out
    assert "timeout" in res.err


def test_allowing_the_client_opens_it_again(tmp_path: Path) -> None:
    require_live()
    policy = write_manifest(tmp_path, DENY_B + "---" + ALLOW_CLIENT, "policies.yaml")
    res = run_cli("run", "-f", str(SEED), "-f", str(policy), "--deny", "reject", "--timeout", "30")
    assert res.rc == 0, res.err
    assert "Welcome to nginx!" in res.out
