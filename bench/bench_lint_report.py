"""Benchmark: ``podnet lint`` and ``podnet report`` on a generated 1,000-pod cluster.

Usage:  .venv/bin/python bench/bench_lint_report.py [--namespaces 10] [--runs 3] [--write]

The cluster: per namespace 100 pods - Deployments web (20 x nginx), api (30 x agnhost,
env URLs to db and cache), worker (30 x busybox running wget/nc against the Services,
one typo), cache (5 x redis), a StatefulSet db (3 x postgres) and 12 bare debug pods
using pod IPs - four Services and seven NetworkPolicies (default deny, per-tier allows
across namespaces, an egress policy with DNS, one without). Every lint rule has work.

Timed, best of ``--runs``, wall clock: each command in a fresh ``python -m podnet``
process; each command end to end in-process as the CLI runs it (``main([...])``: YAML
loading, validation, build_cluster, analysis, output); the analysis alone on an
already built cluster. ``--write`` replaces the "lint-report" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.run import lint_context
from podnet.analyze.report.page import render_report
from podnet.cli.main import main as podnet_main
from podnet.control.cluster import build_cluster
from podnet.manifests import load_paths

NODES = 10  # 110 pods per node (kubelet's default --max-pods): 1,001 pods need 10, else Pending


def _deploy(
    ns: str, name: str, n: int, container: dict[str, Any], kind: str = "Deployment"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": n,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name, "tier": name}},
            "spec": {"containers": [container]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _svc(ns: str, name: str, port: int, target: int | str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": target}]},
    }


def _pol(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _from(*apps: str) -> list[dict[str, Any]]:
    return [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": a}}} for a in apps]


def namespace_docs(i: int) -> list[dict[str, Any]]:
    ns = f"team-{i}"
    other = f"team-{(i + 1) % 10}"
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}},
        _deploy(
            ns,
            "web",
            20,
            {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80, "name": "http"}]},
        ),
        _deploy(
            ns,
            "api",
            30,
            {
                "name": "api",
                "image": "registry.k8s.io/e2e-test-images/agnhost:2.45",
                "args": ["netexec", "--http-port=8080"],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [
                    {"name": "DB_URL", "value": "postgres://db:5432/app"},
                    {"name": "CACHE_ADDR", "value": "cache:6379"},
                ],
            },
        ),
        _deploy(
            ns,
            "worker",
            30,
            {
                "name": "w",
                "image": "busybox",
                "command": [
                    "sh",
                    "-c",
                    f"while true; do wget -qO- http://api/; nc -z cache 6379; "
                    f"wget -qO- http://web.{other}/; wget -qO- http://apii/; sleep 5; done",
                ],
            },
        ),
        _deploy(
            ns,
            "cache",
            5,
            {"name": "redis", "image": "redis:7", "ports": [{"containerPort": 6379}]},
        ),
        _deploy(
            ns,
            "db",
            3,
            {
                "name": "pg",
                "image": "postgres:16",
                "ports": [{"containerPort": 5432, "name": "pg"}],
            },
            "StatefulSet",
        ),
        _svc(ns, "web", 80, "http"),
        _svc(ns, "api", 80, "http"),
        _svc(ns, "cache", 6379, 6379),
        _svc(ns, "db", 5432, "pg"),
        _pol(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        _pol(
            ns,
            "web",
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"ports": [{"port": 80}]}],
            },
        ),
        _pol(
            ns,
            "api",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [{"from": _from("web", "worker"), "ports": [{"port": 8080}]}],
            },
        ),
        _pol(
            ns,
            "db",
            {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}],
            },
        ),
        _pol(
            ns,
            "cache",
            {
                "podSelector": {"matchLabels": {"app": "cache"}},
                "ingress": [{"from": _from("api"), "ports": [{"port": 6379}]}],
            },
        ),
        _pol(
            ns,
            "api-egress",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"podSelector": {}}]},
                    {
                        "to": [
                            {
                                "namespaceSelector": {},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                ],
            },
        ),
        _pol(
            ns,
            "worker-egress",
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
    ]
    for j in range(12):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"debug-{j}", "namespace": ns, "labels": {"app": "debug"}},
                "spec": {
                    "containers": [
                        {
                            "name": "sh",
                            "image": "busybox",
                            "command": [
                                "sh",
                                "-c",
                                f"wget -qO- http://10.244.{i}.{j + 2}; sleep 3600",
                            ],
                        }
                    ]
                },
            }
        )
    return docs


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def quiet(argv: list[str]) -> Callable[[], object]:
    def run() -> object:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return podnet_main(argv)

    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def measure(namespaces: int, runs: int, tmp: Path) -> dict[str, Any]:
    path = tmp / "cluster.yaml"
    docs = [d for i in range(namespaces) for d in namespace_docs(i)]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    state = build_cluster(load_paths([str(path)]), nodes=NODES)
    findings = lint_context(context_for_state(state))
    out = tmp / "report.html"
    r: dict[str, Any] = {
        "pods": len(state.pods),
        "services": len(state.services),
        "policies": len(state.policies),
        "findings": len(findings),
        "lint_cli_s": best(quiet(["lint", "-f", str(path), "--nodes", str(NODES)]), runs),
        "report_cli_s": best(
            quiet(["report", "-f", str(path), "--output", str(out), "--nodes", str(NODES)]), runs
        ),
        "load_build_s": best(lambda: build_cluster(load_paths([str(path)]), nodes=NODES), runs),
        "lint_s": best(lambda: lint_context(context_for_state(state)), runs),
        "report_s": best(
            lambda: render_report(state, lint_context(context_for_state(state))), runs
        ),
    }
    r["html_kib"] = out.stat().st_size // 1024
    py = [sys.executable, "-m", "podnet"]
    r["proc_lint_s"] = best(
        lambda: subprocess.run(
            [*py, "lint", "-f", str(path), "--nodes", str(NODES)], capture_output=True
        ),
        runs,
    )
    r["proc_report_s"] = best(
        lambda: subprocess.run(
            [*py, "report", "-f", str(path), "--output", str(out), "--nodes", str(NODES)],
            capture_output=True,
        ),
        runs,
    )
    return r


def render(r: dict[str, Any], cmd: str) -> str:
    lint_cmd = f"podnet lint -f cluster.yaml --nodes {NODES}"
    report_cmd = f"podnet report -f cluster.yaml --output r.html --nodes {NODES}"
    lines = [
        "<!-- lint-report:begin -->",
        "## podnet lint and podnet report",
        "",
        f"Machine: {machine()}.",
        f"Command: `{cmd}` (best of the runs, wall clock, in-process).",
        "",
        f"Cluster: {NODES} nodes, {r['pods']} pods (with the DNS pod), "
        f"{r['services']} Services, {r['policies']} NetworkPolicies; lint finds "
        f"{r['findings']} findings; the report is {r['html_kib']} KiB.",
        "",
        "| step | time |",
        "|---|---:|",
        f"| `{lint_cmd}` end to end (load, validate, build, lint, print) "
        f"| {r['lint_cli_s']:.2f} s |",
        f"| `{report_cmd}` end to end | {r['report_cli_s']:.2f} s |",
        f"| in-process: load + validate + build_cluster | {r['load_build_s']:.2f} s |",
        f"| lint rules on the built cluster | {r['lint_s']:.2f} s |",
        f"| report (matrix, explanations, lint, HTML) on the built cluster "
        f"| {r['report_s']:.2f} s |",
        f"| `python -m {lint_cmd}` in a fresh process (interpreter start, imports) "
        f"| {r['proc_lint_s']:.2f} s |",
        f"| `python -m {report_cmd}` in a fresh process | {r['proc_report_s']:.2f} s |",
        "<!-- lint-report:end -->",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    readme = Path(__file__).resolve().parent / "README.md"
    old = readme.read_text() if readme.exists() else "# Benchmarks\n\n"
    begin, end = "<!-- lint-report:begin -->", "<!-- lint-report:end -->\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    readme.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=10, help="100 pods each")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = measure(args.namespaces, args.runs, Path(tmp))
    cmd = (
        f".venv/bin/python bench/bench_lint_report.py --namespaces {args.namespaces} "
        f"--runs {args.runs}" + (" --write" if args.write else "")
    )
    text = render(r, cmd)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
