"""What a Node reports of its machine (pkg/kubelet/nodestatus/setters.go), as
resource.Quantity prints byte counts (apimachinery pkg/api/resource, BinarySI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podnet.controllers.nodes import binary_si, host_info, node_objects


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0"),
        (1000, "1000"),
        (1024, "1Ki"),
        (2048 * 1024, "2Mi"),
        (1 << 30, "1Gi"),
        (1536 * 1024, "1536Ki"),
        (264212084 * 1024, "264212084Ki"),
    ],
)
def test_binary_si(count: int, text: str) -> None:
    assert binary_si(count) == text


def test_nodes_carry_the_machine(tmp_path: Path) -> None:
    host = host_info(str(tmp_path))
    fs = os.statvfs(tmp_path)
    node = node_objects(2, 0.0, host=host)[1]
    status = node["status"]
    assert status["capacity"] == status["allocatable"]
    assert status["capacity"]["ephemeral-storage"] == binary_si(fs.f_blocks * fs.f_frsize)
    assert status["capacity"]["cpu"] == str(os.cpu_count())
    info = status["nodeInfo"]
    assert info["bootID"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    if os.path.exists("/etc/machine-id"):
        assert info["machineID"] == Path("/etc/machine-id").read_text().strip()
