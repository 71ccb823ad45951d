"""The rtnetlink client against the kernel, in a throw-away network namespace."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_sandbox_helpers import driver_env, require_kernel

pytestmark = pytest.mark.kernel

SCRIPT = """
import errno, subprocess
from podnet.dataplane.rtnl import Rtnl
from podnet.errors import CommandError
subprocess.run(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'], check=True)
rt = Rtnl()
rt.link_up('lo')
rt.addr_add('v0', '10.244.3.7', 32)
rt.link_up('v0')
rt.route_add('10.244.3.1', 'v0')
rt.route_add(None, 'v0', gateway='10.244.3.1')
try:
    rt.addr_add('v0', '10.244.3.7', 32)
    raise SystemExit('duplicate address accepted')
except CommandError as e:
    assert e.returncode == errno.EEXIST, e
rt.close()
for argv in (['ip', '-4', '-o', 'addr', 'show', 'dev', 'v0'], ['ip', 'route']):
    print(subprocess.run(argv, capture_output=True, text=True).stdout)
"""


def test_rtnl_configures_like_ip_and_maps_errors() -> None:
    require_kernel()
    out = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-c", SCRIPT],
        env=driver_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "10.244.3.7/32" in out.stdout
    assert "default via 10.244.3.1 dev v0" in out.stdout
    assert "10.244.3.1 dev v0 scope link" in out.stdout
