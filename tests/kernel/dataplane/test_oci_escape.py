"""A pod that tries every escape of issue 11 gets nothing (containers under crun).

One ``podnet run`` with a victim pod and an attacker pod whose command tries each
escape and prints ``RESULT name=exit-status``: read the host's /etc/shadow, write the
host's /root, see another pod's processes, enter other namespaces (unshare, nsenter),
mount, change a link or its own address (no NET_ADMIN), touch nftables, find podnet's
state (the DNS records, crun's state, bundles, logs: anywhere outside the host's
/usr, which is bound read-only), make a device node (no MKNOD). Then
the capability set and seccomp mode it reports, and the host checked from outside.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest

pytestmark = pytest.mark.kernel

ATTACK = r"""
t() { n=$1; shift; "$@" >/dev/null 2>&1; echo "RESULT $n=$?"; }
t shadow cat /etc/shadow
t passwd_root_hash grep -q '^root:[^x*!]' /etc/passwd
echo pwned > /root/TOKEN; t host_root test -e /root/HOSTFILE
echo "RESULT victim_seen=$(ps -o args | grep -c [3]1337)"
t unshare unshare -n true
t nsenter nsenter -t 1 -n -m true
t mount mount -t tmpfs none /tmp
t link ip link set lo down
t addr ip addr add 10.244.0.250/32 dev eth0
t route ip route add 10.99.0.0/16 dev eth0
t nft /usr/sbin/nft add table inet podnet-escape
t mknod mknod /tmp/sda b 8 0
t chroot_host test -e /proc/1/root/etc/shadow
PRUNE='-path /proc -prune -o -path /sys -prune -o -path /usr -prune -o'
STATE='-name records.json -o -name state.json -o -name config.json -o -name *.log'
echo "RESULT found=$(find / $PRUNE \( $STATE \) -print 2>/dev/null | wc -l)"
grep -e CapEff -e Seccomp: -e NoNewPrivs /proc/self/status
"""

# capability(7) numbers that must be absent
FORBIDDEN = {"NET_ADMIN": 12, "SYS_MODULE": 16, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "MKNOD": 27}


def _manifest(token: str, hostfile: str) -> str:
    attack = json.dumps(ATTACK.replace("TOKEN", token).replace("HOSTFILE", hostfile))
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: victim, labels: {{app: victim}}}}
spec:
  containers:
    - name: c
      image: busybox
      command: ['sh', '-c', 'sleep 31337 & exec nc -ll -p 80 -e echo hi']
      ports: [{{containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: victim}}
spec:
  selector: {{app: victim}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: attacker}}
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: busybox
      command: ['sh', '-c', {attack}]
"""


def _results(lines: list[str]) -> dict[str, str]:
    out = {}
    for ln in lines:
        m = re.match(r"RESULT (\w+)=(\S+)", ln)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_attacker_pod_gets_nothing(tmp_path: Path) -> None:
    require_live()
    token = f"podnet-escape-{uuid.uuid4().hex[:8]}"
    hostfile = tmp_path / "host-only"  # exists on the host, outside any container
    hostfile.write_text("secret")
    manifest = write_manifest(tmp_path, _manifest(token, str(hostfile)))
    res = run_cli("run", "-f", str(manifest), "--timeout", "40", timeout=90)
    lines = res.pod_lines("default/attacker")
    got = _results(lines)
    assert got.get("found") is not None, res.out + res.err
    failed = {k: v for k, v in got.items() if k not in ("victim_seen", "found") and v == "0"}
    assert failed == {}, f"escapes that worked: {failed}\n{res.out}"
    assert got["victim_seen"] == "0", res.out
    assert got["found"] == "0", res.out  # no podnet state, logs, crun state or bundles
    assert not Path("/root", token).exists()  # /root in the pod is its own tmpfs
    status = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in lines if ":\t" in ln}
    eff = int(status["CapEff"], 16)
    assert {n for n, bit in FORBIDDEN.items() if eff >> bit & 1} == set()
    assert eff >> 13 & 1  # NET_RAW stays, as in Kubernetes
    assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1"
    assert "default/attacker/c exited 0" in res.err, res.err
