"""The pod's /etc/hosts, /etc/resolv.conf and hostname, as kubelet writes them."""

from __future__ import annotations

import pytest

from podnet.dataplane.sandbox.podfiles import hosts_file, pod_files, pod_hostname, resolv_conf
from podnet.model.objects import Pod

HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def pod(name: str = "web-0", hostname: str | None = None, subdomain: str | None = None) -> Pod:
    return Pod("shop", name, {}, (), hostname=hostname, subdomain=subdomain)


def test_hosts_plain() -> None:
    assert hosts_file(pod(), "10.244.0.5") == HEADER + "10.244.0.5\tweb-0\n"


def test_hosts_with_hostname_and_subdomain() -> None:
    text = hosts_file(pod(hostname="db", subdomain="dbs"), "10.244.1.9")
    assert text == HEADER + "10.244.1.9\tdb.dbs.shop.svc.cluster.local\tdb\n"


def test_hosts_subdomain_alone_uses_pod_name() -> None:
    # kubelet GeneratePodHostNameAndDomain: the domain comes from subdomain alone
    text = hosts_file(pod(subdomain="web"), "10.244.1.9")
    assert text.endswith("10.244.1.9\tweb-0.web.shop.svc.cluster.local\tweb-0\n")


def test_resolv_conf_cluster_first() -> None:
    assert resolv_conf("shop") == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )


@pytest.mark.parametrize(
    ("name", "hostname", "expected"),
    [
        ("web-0", None, "web-0"),
        ("web-0", "db", "db"),
        ("a" * 62 + "-b", None, "a" * 62),  # cut to 63, trailing '-' dropped
        ("x" * 70, None, "x" * 63),
    ],
)
def test_hostname(name: str, hostname: str | None, expected: str) -> None:
    assert pod_hostname(pod(name, hostname)) == expected


def test_pod_files_by_path() -> None:
    files = pod_files(pod(), "10.244.0.5").by_path()
    assert set(files) == {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
    assert files["/etc/hostname"] == "web-0\n"
