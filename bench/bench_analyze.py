"""Benchmark: build_cluster and the full connectivity matrix at 100 / 1,000 / 5,000 pods.

Usage:  .venv/bin/python bench/bench_analyze.py [--sizes 100,1000,5000] [--tiered 5000]
        [--anps 50] [--write]

Each size runs in its own subprocess so peak RSS (ru_maxrss) belongs to that size.
Clusters have 100 pods per namespace (Deployments of 1-8 replicas and a StatefulSet,
Services for each) and 10 NetworkPolicies per 100 pods: default deny, podSelector and
namespaceSelector peers (alone and ANDed), matchExpressions, named ports, an endPort
range, SCTP/UDP ports, egress rules, and ipBlocks with excepts over the pod network.
The sizes in ``--tiered`` run again with ``--anps`` Admin-tier policies (alternately
v1alpha1 AdminNetworkPolicy and v1alpha2 ClusterNetworkPolicy) and the
BaselineAdminNetworkPolicy ``default`` added, in the same run (:func:`cluster_policies`).
``--write`` replaces the "analyze" section of bench/README.md with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podnet.errors import Location

TIERS = ("web", "api", "db", "cache", "batch")
NS_NAME = "kubernetes.io/metadata.name"
IMAGE = {
    "web": "nginx:1.25",
    "api": "busybox",
    "db": "busybox",
    "cache": "busybox",
    "batch": "busybox",
}
PORTS = {
    "web": [],  # nginx: 80/TCP known
    "api": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
    "db": [{"containerPort": 5432, "name": "pg"}],
    "cache": [
        {"containerPort": 6379, "name": "redis"},
        {"containerPort": 6379, "protocol": "UDP", "name": "redis-udp"},
    ],
    "batch": [],
}


def _deployment(ns: str, name: str, tier: str, replicas: int, team: str) -> dict[str, Any]:
    labels = {"app": name, "tier": tier, "team": team}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "main", "image": IMAGE[tier], "ports": PORTS[tier]}]
                },
            },
        },
    }


def _service(ns: str, name: str, tier: str) -> dict[str, Any] | None:
    port = {"web": (80, 80), "api": (80, "http"), "db": (5432, "pg"), "cache": (6379, "redis")}.get(
        tier
    )
    if port is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": port[0], "targetPort": port[1]}]},
    }


def _policies(ns: str, i: int, n_ns: int) -> list[dict[str, Any]]:
    other = f"ns{(i + 1) % n_ns}"
    cidr = f"10.244.{i % 4}.0/24"

    def pol(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }

    return [
        pol("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        pol(
            "web-from-anywhere",
            {
                "podSelector": {"matchLabels": {"tier": "web"}},
                "ingress": [{"ports": [{"port": 80}]}],
            },
        ),
        pol(
            "api-from-web",
            {
                "podSelector": {"matchLabels": {"tier": "api"}},
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
                        "ports": [{"port": "http"}],
                    }
                ],
            },
        ),
        pol(
            "api-metrics-from-monitoring",
            {
                "podSelector": {"matchLabels": {"tier": "api"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {"matchLabels": {"role": "monitoring"}},
                                "podSelector": {
                                    "matchExpressions": [
                                        {
                                            "key": "tier",
                                            "operator": "In",
                                            "values": ["batch", "web"],
                                        }
                                    ]
                                },
                            }
                        ],
                        "ports": [{"port": 9000, "endPort": 9100}],
                    }
                ],
            },
        ),
        pol(
            "db-from-api",
            {
                "podSelector": {"matchLabels": {"tier": "db"}},
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"tier": "api"}}},
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": other}
                                },
                                "podSelector": {"matchLabels": {"tier": "api"}},
                            },
                        ],
                        "ports": [{"port": "pg"}],
                    }
                ],
            },
        ),
        pol(
            "cache-from-cidr",
            {
                "podSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["cache"]}]
                },
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": cidr, "except": [f"10.244.{i % 4}.128/25"]}}],
                        "ports": [{"port": 6379}, {"port": 6379, "protocol": "UDP"}],
                    }
                ],
            },
        ),
        pol(
            "batch-egress",
            {
                "podSelector": {"matchLabels": {"tier": "batch"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                }
                            }
                        ],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}],
                    },
                    {
                        "to": [{"podSelector": {"matchLabels": {"tier": "api"}}}],
                        "ports": [{"port": "http"}],
                    },
                ],
            },
        ),
        pol(
            "api-egress",
            {
                "podSelector": {"matchLabels": {"tier": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "podSelector": {
                                    "matchExpressions": [
                                        {
                                            "key": "tier",
                                            "operator": "NotIn",
                                            "values": ["web", "batch"],
                                        }
                                    ]
                                }
                            }
                        ]
                    },
                    {
                        "to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [cidr]}}],
                        "ports": [{"port": 80}],
                    },
                    {"ports": [{"port": 53, "protocol": "UDP"}]},
                ],
            },
        ),
        pol(
            "sctp-to-db",
            {
                "podSelector": {"matchLabels": {"tier": "db"}},
                "ingress": [{"ports": [{"port": 5432, "protocol": "SCTP"}]}],
            },
        ),
        pol(
            "team-ns",
            {
                "podSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"team": f"t{i % 3}"}}}]}
                ],
            },
        ),
    ]


def _anp(i: int, n_ns: int) -> dict[str, Any]:
    """Admin-tier policy ``i``: a subject by namespace or pods, Deny / Pass / Allow rules
    over namespaces, pods and networks peers, numbered, named and ranged ports."""
    v2 = i % 2 == 1
    allow = "Accept" if v2 else "Allow"
    subject: dict[str, Any] = (
        {"namespaces": {"matchLabels": {"team": f"t{i % 3}"}}}
        if i % 3 == 0
        else {
            "pods": {
                "namespaceSelector": {"matchLabels": {NS_NAME: f"ns{i % n_ns}"}},
                "podSelector": {"matchLabels": {"tier": TIERS[i % len(TIERS)]}},
            }
        }
    )

    def ports(port: int | str) -> list[dict[str, Any]]:
        if isinstance(port, str):
            return [{"destinationNamedPort": port} if v2 else {"namedPort": port}]
        if v2:
            return [{"tcp": {"destinationPort": {"number": port}}}]
        return [{"portNumber": {"protocol": "TCP", "port": port}}]

    key = "protocols" if v2 else "ports"
    api_pods = {
        "pods": {
            "namespaceSelector": {"matchLabels": {"team": f"t{(i + 1) % 3}"}},
            "podSelector": {"matchLabels": {"tier": "api"}},
        }
    }
    spec: dict[str, Any] = {
        "priority": i,
        "subject": subject,
        "ingress": [
            {
                "name": "deny-monitoring-db",
                "action": "Deny",
                "from": [{"namespaces": {"matchLabels": {"role": "monitoring"}}}],
                key: ports(5432),
            },
            {"name": "pass-api", "action": "Pass", "from": [api_pods]},
            {
                "name": "allow-neighbour-http",
                "action": allow,
                "from": [{"namespaces": {"matchLabels": {NS_NAME: f"ns{(i + 7) % n_ns}"}}}],
                key: ports("http"),
            },
        ],
        "egress": [
            {
                "name": "deny-block",
                "action": "Deny",
                # outside the pod network (metadata, a corporate range), and the whole
                # pod network: none splits the pods into classes by address
                "to": [{"networks": ["169.254.169.254/32", f"192.168.{i}.0/24", "10.244.0.0/16"]}],
                key: ports(6379),
            },
            {
                "name": "pass-team",
                "action": "Pass",
                "to": [{"namespaces": {"matchLabels": {"team": f"t{i % 3}"}}}],
            },
        ],
    }
    if v2:
        spec = {"tier": "Admin", **spec}
    return {
        "apiVersion": f"policy.networking.k8s.io/{'v1alpha2' if v2 else 'v1alpha1'}",
        "kind": "ClusterNetworkPolicy" if v2 else "AdminNetworkPolicy",
        "metadata": {"name": f"admin-{i}"},
        "spec": spec,
    }


def cluster_policies(anps: int, n_ns: int) -> list[dict[str, Any]]:
    """``anps`` Admin-tier policies and the BaselineAdminNetworkPolicy ``default``
    (every namespace: monitoring denied, team t0 allowed in; redis egress denied)."""
    banp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {
            "subject": {"namespaces": {}},
            "ingress": [
                {
                    "name": "deny-monitoring",
                    "action": "Deny",
                    "from": [{"namespaces": {"matchLabels": {"role": "monitoring"}}}],
                },
                {
                    "name": "allow-t0",
                    "action": "Allow",
                    "from": [{"namespaces": {"matchLabels": {"team": "t0"}}}],
                },
            ],
            "egress": [
                {
                    "name": "deny-redis",
                    "action": "Deny",
                    "to": [{"networks": ["0.0.0.0/0"]}],
                    "ports": [{"portNumber": {"protocol": "TCP", "port": 6379}}],
                }
            ],
        },
    }
    return [_anp(i, n_ns) for i in range(anps)] + [banp]


def generate(
    pods: int, seed: int = 1, distinct: bool = False, anps: int | None = None
) -> list[dict[str, Any]]:
    """``distinct``: every workload a StatefulSet and one selector per namespace on
    ``statefulset.kubernetes.io/pod-name``, so every pod is its own class (worst case)."""
    rng = random.Random(seed)
    n_ns = max(1, pods // 100)
    docs: list[dict[str, Any]] = []
    for i in range(n_ns):
        ns = f"ns{i}"
        labels = {"team": f"t{i % 3}"} | ({"role": "monitoring"} if i % 5 == 0 else {})
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
        left, d = 100 if pods >= 100 else pods, 0
        left -= 3
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "store", "namespace": ns},
                "spec": {
                    "replicas": 3,
                    "serviceName": "store",
                    "selector": {"matchLabels": {"app": "store"}},
                    "template": {
                        "metadata": {"labels": {"app": "store", "tier": "db"}},
                        "spec": {
                            "containers": [{"name": "db", "image": "busybox", "ports": PORTS["db"]}]
                        },
                    },
                },
            }
        )
        while left > 0:
            tier = TIERS[d % len(TIERS)]
            replicas = min(left, rng.choice((1, 2, 3, 5, 8)))
            name = f"{tier}-{d}"
            dep = _deployment(ns, name, tier, replicas, f"t{d % 3}")
            if distinct:
                dep["kind"] = "StatefulSet"
                dep["spec"]["serviceName"] = name
            docs.append(dep)
            svc = _service(ns, name, tier)
            if svc is not None:
                docs.append(svc)
            left -= replicas
            d += 1
        pols = _policies(ns, i, n_ns)
        if distinct:
            pols[-1]["spec"]["podSelector"] = {
                "matchExpressions": [
                    {
                        "key": "statefulset.kubernetes.io/pod-name",
                        "operator": "NotIn",
                        "values": ["store-0"],
                    }
                ]
            }
        docs.extend(pols)
    if anps is not None:
        docs.extend(cluster_policies(anps, n_ns))
    return docs


def nodes_for(pods: int) -> int:
    """100 pods a node: every pod fits under kubelet's default of 110 (more stay Pending)."""
    return max(1, -(-pods // 100))


def measure(pods: int, distinct: bool = False, anps: int | None = None) -> dict[str, Any]:
    from podnet.analyze.matrix import compute_matrix
    from podnet.control.cluster import build_cluster
    from podnet.manifests import from_documents

    docs = [(d, Location("<bench>", 1)) for d in generate(pods, distinct=distinct, anps=anps)]
    out: dict[str, Any] = {}

    def timed(name: str, fn: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        out[name + "_s"] = time.perf_counter() - w
        out[name + "_cpu_s"] = time.process_time() - c
        return result

    manifests = timed("load", lambda: from_documents(docs))
    state = timed("build_cluster", lambda: build_cluster(manifests, nodes=nodes_for(pods)))
    matrix = timed("matrix", lambda: compute_matrix(state))
    total, allowed = timed("counts", matrix.counts)
    out |= {
        "pods": len(matrix.pods),
        "distinct": distinct,
        "anps": anps,
        "policies": len(state.policies),
        "classes": len(matrix.classes),
        "connections": total,
        "allowed": allowed,
    }
    # expanding every pod pair with its reason string
    if pods <= 1000 and not distinct and anps is None:
        n = timed("expand", lambda: sum(1 for _ in matrix.connections()))
        assert n == total
    out["loadavg"] = os.getloadavg()[0]
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def machine() -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def measure_cli(pods: int) -> dict[str, Any]:
    """``podnet analyze -o json`` end to end in a fresh process, output to /dev/null."""
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(yaml.safe_dump_all(generate(pods)))
        argv = [
            sys.executable,
            "-m",
            "podnet",
            "analyze",
            "-f",
            str(path),
            "--nodes",
            str(nodes_for(pods)),
            "-o",
            "json",
        ]
        root = Path(__file__).resolve().parent.parent
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(os.devnull, "w") as null:
            w = time.perf_counter()
            subprocess.run(argv, check=True, stdout=null, cwd=root)
            wall = time.perf_counter() - w
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "pods": pods,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
        # ru_maxrss of children is the largest child so far: main() runs this first.
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "loadavg": os.getloadavg()[0],
    }


def render(results: list[dict[str, Any]], cmd: str, cli: dict[str, Any] | None = None) -> str:
    lines = [
        "<!-- analyze:begin -->",
        "## podnet analyze: connectivity matrix",
        "",
        f"Machine: {machine()}.",
        f"Command: `{cmd}` (each size in its own process, one run). Times are process CPU "
        "time, wall clock in parentheses: the machine was shared with other jobs (1-minute "
        "load average at the end of each run in the last column).",
        "",
        "| pods | policies | classes | connections (allowed) | load manifests | build_cluster "
        "| matrix | expand all pairs + reasons | peak RSS | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def t(r: dict[str, Any], name: str) -> str:
        if name + "_s" not in r:
            return "not run"
        return f"{r[name + '_cpu_s']:.2f} s ({r[name + '_s']:.2f} s)"

    for r in results:
        tiered = f" + {r['anps']} ANPs + BANP" if r.get("anps") is not None else ""
        lines.append(
            f"| {r['pods']}{' (all distinct)' if r.get('distinct') else ''}{tiered} "
            f"| {r['policies']} | {r['classes']} | {r['connections']} "
            f"({r['allowed']}) | {t(r, 'load')} | {t(r, 'build_cluster')} "
            f"| {t(r, 'matrix')} | {t(r, 'expand')} | {r['peak_rss_mib']:.0f} MiB "
            f"| {r['loadavg']:.1f} |"
        )
    if cli is not None:
        lines += [
            "",
            f"`podnet analyze -f cluster.yaml --nodes {nodes_for(cli['pods'])} -o json "
            f"> /dev/null` for the {cli['pods']}-pod cluster, in a fresh process (streams "
            f"every connection with its reason): {cli['cpu_s']:.1f} s CPU, "
            f"{cli['wall_s']:.1f} s wall, peak RSS {cli['peak_rss_mib']:.0f} MiB "
            f"(load average {cli['loadavg']:.1f}).",
        ]
    lines += [
        "",
        "`matrix` is `compute_matrix(state)`: every (source class, destination class, port) "
        "verdict; `connections` counts every ordered pair of distinct pods x every port the "
        'destination serves (by arithmetic over class sizes). "all distinct": every '
        "workload a StatefulSet and a selector on statefulset.kubernetes.io/pod-name, so "
        "every pod is its own class (the worst case for the class grouping). "
        '"+ N ANPs + BANP": the same cluster with N Admin-tier policies (half '
        "AdminNetworkPolicy, half ClusterNetworkPolicy; Deny/Pass/Allow rules over "
        "namespaces, pods and networks peers, numbered and named ports) and the "
        'BaselineAdminNetworkPolicy "default"; `policies` counts NetworkPolicies only. '
        "The pod count "
        "includes kube-system/coredns-0, which build_cluster adds. "
        "Peak RSS is the whole process "
        "(interpreter, loader and the kubernetes-validate schemas included).",
        "<!-- analyze:end -->",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    readme = Path(__file__).resolve().parent / "README.md"
    old = readme.read_text() if readme.exists() else "# Benchmarks\n\n"
    begin, end = "<!-- analyze:begin -->", "<!-- analyze:end -->\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    readme.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--distinct", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worst", default="5000", help="sizes also run with every pod distinct")
    ap.add_argument("--tiered", default="5000", help="sizes also run with --anps ANPs + BANP")
    ap.add_argument("--anps", type=int, default=50, help="Admin-tier policies for --tiered")
    ap.add_argument("--anp-count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--cli", type=int, default=1000, help="pods for the CLI run (0: skip)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.distinct, args.anp_count)))
        return
    cli = measure_cli(args.cli) if args.cli else None  # first: see measure_cli
    results = []
    runs: list[tuple[int, list[str]]] = [(int(s), []) for s in args.sizes.split(",")]
    runs += [(int(s), ["--distinct"]) for s in args.worst.split(",") if s]
    runs += [(int(s), ["--anp-count", str(args.anps)]) for s in args.tiered.split(",") if s]
    for size, extra in runs:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(size), *extra],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(r))
        results.append(r)
    cmd = (
        f".venv/bin/python bench/bench_analyze.py --sizes {args.sizes} --worst {args.worst} "
        f"--tiered {args.tiered} --anps {args.anps} --cli {args.cli} --write"
    )
    text = render(results, cmd, cli)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
