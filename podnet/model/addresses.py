"""IP address literals as they appear in manifests and container commands."""

from __future__ import annotations

import ipaddress


def is_ip(host: str) -> bool:
    """``10.0.0.1``, ``::1`` and ``[::1]`` are IP literals; names are not."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
