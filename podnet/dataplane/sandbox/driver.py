"""Drive a :class:`Sandbox` in this process from JSON lines on stdin (tests, bench, debug).

``python -m podnet.dataplane.sandbox.driver`` enters a sandbox, then answers one JSON
line per request line:

    {"op": "nodes", "n": 2}
    {"op": "pods", "pods": [{"namespace": "default", "name": "a", "node": "node-0",
                             "ip": "10.244.0.2", "hostname": null, "subdomain": null}]}
    {"op": "exec", "pod": "default/a", "argv": ["hostname"], "timeout": 10}
    {"op": "node_exec", "node": "node-0", "argv": ["ip", "route"]}
    {"op": "spawn", "pod": "default/a", "argv": ["nc", "-l", "-p", "80"], "id": "srv"}
    {"op": "wait", "id": "srv", "timeout": 5}      # -> rc, stdout, stderr
    {"op": "remove", "pod": "default/a"}
    {"op": "pids"}
    {"op": "close"}

Replies are ``{"ok": true, ...}`` or ``{"ok": false, "error": "<PodnetError class>",
"message": ...}``. The process is the podnet process of the lifetime design: kill it
(even with SIGKILL) and the whole cluster goes with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import PodnetError
from podnet.model.cluster import Node
from podnet.model.objects import Pod


def make_nodes(n: int) -> list[Node]:
    """Nodes as the cluster builder makes them: 10.244.i.0/24, 172.18.0.(i+2)."""
    return [
        Node(
            name=f"node-{i}",
            labels={"kubernetes.io/hostname": f"node-{i}", "kubernetes.io/os": "linux"},
            pod_cidr=f"10.244.{i}.0/24",
            address=f"172.18.0.{i + 2}",
        )
        for i in range(n)
    ]


def _pod(d: dict[str, Any]) -> Pod:
    return Pod(
        namespace=d["namespace"],
        name=d["name"],
        labels={},
        containers=(),
        hostname=d.get("hostname"),
        subdomain=d.get("subdomain"),
        ip=d["ip"],
        node=d["node"],
    )


def _run(sb: Sandbox, argv: list[str], timeout: float) -> dict[str, Any]:
    """Run to completion in the cluster's PID namespace (where the pod's /proc is)."""
    proc = sb.popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"ok": True, "rc": -1, "stdout": out, "stderr": "timeout"}
    return {"ok": True, "rc": proc.returncode, "stdout": out, "stderr": err}


_SPAWNED: dict[str, subprocess.Popen[str]] = {}


def _spawn(sb: Sandbox, req: dict[str, Any]) -> dict[str, Any]:
    proc = sb.spawn(
        req["pod"],
        req["argv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    _SPAWNED[req["id"]] = proc  # type: ignore[assignment]
    return {"ok": True, "pid": proc.pid}


def _wait(req: dict[str, Any]) -> dict[str, Any]:
    proc = _SPAWNED.pop(req["id"])
    try:
        out, err = proc.communicate(timeout=float(req.get("timeout", 10)))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return {"ok": True, "rc": proc.returncode, "stdout": out, "stderr": err}


def handle(sb: Sandbox, req: dict[str, Any]) -> dict[str, Any]:
    op = req["op"]
    if op == "spawn":
        return _spawn(sb, req)
    if op == "wait":
        return _wait(req)
    t0 = time.perf_counter()
    if op == "nodes":
        sb.add_nodes(make_nodes(int(req["n"])))
    elif op == "pods":
        sb.add_pods([_pod(p) for p in req["pods"]])
    elif op == "exec":
        return _run(sb, sb.pod_exec_argv(req["pod"], req["argv"]), float(req.get("timeout", 10)))
    elif op == "node_exec":
        return _run(sb, sb.node_exec_argv(req["node"], req["argv"]), float(req.get("timeout", 10)))
    elif op == "remove":
        sb.remove_pod(req["pod"])
    elif op == "pids":
        return {"ok": True, "pids": sb.pids()}
    elif op == "close":
        sb.close()
        for proc in _SPAWNED.values():  # killed with the cluster; reap them
            proc.wait()
    else:
        return {"ok": False, "error": "ValueError", "message": f"unknown op {op}"}
    return {"ok": True, "seconds": time.perf_counter() - t0}


def main() -> int:
    try:
        sb = Sandbox.enter()
    except PodnetError as e:
        print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)}), flush=True)
        return 1
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(sb, json.loads(line))
        except PodnetError as e:
            reply = {"ok": False, "error": type(e).__name__, "message": str(e)}
        print(json.dumps(reply), flush=True)
        if reply.get("ok") and json.loads(line)["op"] == "close":
            return 0
    sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
