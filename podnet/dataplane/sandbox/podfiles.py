"""The files kubelet and the container runtime write for every pod: pure functions.

* ``/etc/hosts``: kubelet's managed hosts file (pkg/kubelet/kubelet_pods.go
  ``managedHostsFileContent``), with ``<podIP>\\t<fqdn>\\t<hostname>`` when the pod has
  a subdomain (``GeneratePodHostNameAndDomain``).
* ``/etc/resolv.conf`` for ``dnsPolicy: ClusterFirst``, ordered as a real pod shows it
  (pkg/kubelet/network/dns/dns.go): the pod's namespace first in ``search``,
  ``ndots:5``; unlike kubelet, without the host's search domains (the cluster must not
  depend on the machine it runs on).
* ``/etc/hostname``, as containerd writes it for the sandbox.

The hostname is ``spec.hostname`` or the pod name, cut to 63 characters without a
trailing ``-``/``.`` (kubelet ``truncatePodHostnameIfNeeded``).
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.model.cluster import CLUSTER_DOMAIN, DNS_SERVICE_IP
from podnet.model.objects import Pod

HOSTNAME_MAX = 63

_HOSTS_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


@dataclass(frozen=True)
class PodFiles:
    """What a pod sees at /etc/hostname, /etc/hosts and /etc/resolv.conf."""

    hostname: str
    hosts: str
    resolv_conf: str

    def by_path(self) -> dict[str, str]:
        return {
            "/etc/hostname": self.hostname + "\n",
            "/etc/hosts": self.hosts,
            "/etc/resolv.conf": self.resolv_conf,
        }


def pod_hostname(pod: Pod) -> str:
    name = pod.hostname or pod.name
    if len(name) > HOSTNAME_MAX:
        name = name[:HOSTNAME_MAX].rstrip("-.")
    return name


def pod_domain(pod: Pod, cluster_domain: str = CLUSTER_DOMAIN) -> str | None:
    """``<subdomain>.<namespace>.svc.<cluster domain>``, or None without a subdomain."""
    if not pod.subdomain:
        return None
    return f"{pod.subdomain}.{pod.namespace}.svc.{cluster_domain}"


def hosts_file(pod: Pod, ip: str, cluster_domain: str = CLUSTER_DOMAIN) -> str:
    host = pod_hostname(pod)
    domain = pod_domain(pod, cluster_domain)
    if domain:
        return _HOSTS_HEADER + f"{ip}\t{host}.{domain}\t{host}\n"
    return _HOSTS_HEADER + f"{ip}\t{host}\n"


def resolv_conf(
    namespace: str,
    cluster_domain: str = CLUSTER_DOMAIN,
    nameserver: str = DNS_SERVICE_IP,
) -> str:
    search = f"{namespace}.svc.{cluster_domain} svc.{cluster_domain} {cluster_domain}"
    return f"search {search}\nnameserver {nameserver}\noptions ndots:5\n"


def pod_files(pod: Pod, ip: str) -> PodFiles:
    return PodFiles(
        hostname=pod_hostname(pod),
        hosts=hosts_file(pod, ip),
        resolv_conf=resolv_conf(pod.namespace),
    )
