"""Generate podnet/apiserver/http/k8s_proto.json: the protobuf field table of the kinds
podnet serves, from Kubernetes' own ``generated.proto`` files and the ``types.go``
struct tags beside them (which say whether a Go field is a pointer, so that a zero
value that was set can be told from one that was not).

Run: python tools/gen_k8s_proto.py API_REPO APIMACHINERY_REPO
(git checkouts of k8s.io/api and k8s.io/apimachinery; HEAD is read).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

API_PKGS = {
    "core/v1": "k8s.io.api.core.v1",
    "apps/v1": "k8s.io.api.apps.v1",
    "batch/v1": "k8s.io.api.batch.v1",
    "discovery/v1": "k8s.io.api.discovery.v1",
    "networking/v1": "k8s.io.api.networking.v1",
    "events/v1": "k8s.io.api.events.v1",
    "coordination/v1": "k8s.io.api.coordination.v1",
    "autoscaling/v1": "k8s.io.api.autoscaling.v1",
    "autoscaling/v2": "k8s.io.api.autoscaling.v2",
    "policy/v1": "k8s.io.api.policy.v1",
    "rbac/v1": "k8s.io.api.rbac.v1",
    "authorization/v1": "k8s.io.api.authorization.v1",
    "authentication/v1": "k8s.io.api.authentication.v1",
    "scheduling/v1": "k8s.io.api.scheduling.v1",
}
MACHINERY_PKGS = {
    "pkg/apis/meta/v1": "k8s.io.apimachinery.pkg.apis.meta.v1",
    "pkg/runtime": "k8s.io.apimachinery.pkg.runtime",
    "pkg/api/resource": "k8s.io.apimachinery.pkg.api.resource",
    "pkg/util/intstr": "k8s.io.apimachinery.pkg.util.intstr",
}
ROOTS = (
    [
        "k8s.io.api.core.v1." + k
        for k in [
            "Namespace",
            "Node",
            "Pod",
            "Service",
            "Endpoints",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Event",
            "ReplicationController",
            "Binding",
        ]
    ]
    + [
        "k8s.io.api.apps.v1.Deployment",
        "k8s.io.api.apps.v1.ReplicaSet",
        "k8s.io.api.apps.v1.StatefulSet",
        "k8s.io.api.apps.v1.DaemonSet",
        "k8s.io.api.apps.v1.ControllerRevision",
        "k8s.io.api.batch.v1.Job",
        "k8s.io.api.discovery.v1.EndpointSlice",
        "k8s.io.api.networking.v1.NetworkPolicy",
        "k8s.io.api.events.v1.Event",
        "k8s.io.api.coordination.v1.Lease",
        "k8s.io.api.autoscaling.v1.Scale",
        "k8s.io.api.policy.v1.Eviction",
        "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    ]
    + [
        f"k8s.io.api.rbac.v1.{k}"
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    ]
    + [
        f"k8s.io.api.authorization.v1.{k}"
        for k in (
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
            "LocalSubjectAccessReview",
        )
    ]
    + [
        f"k8s.io.api.authentication.v1.{k}"
        for k in ("SelfSubjectReview", "TokenReview", "TokenRequest")
    ]
    + [
        "k8s.io.api.batch.v1.CronJob",
        "k8s.io.api.networking.v1.Ingress",
        "k8s.io.api.networking.v1.IngressClass",
        "k8s.io.api.policy.v1.PodDisruptionBudget",
        "k8s.io.api.scheduling.v1.PriorityClass",
        "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler",
        "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
    ]
)
FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP = re.compile(r"^\s*map<\s*(\S+?)\s*,\s*(\S+?)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
TAG = re.compile(r'^\s*(?:\w+\s+)?(\*?)[\w.\[\]*]+\s+`json:"([^"]*)"\s+protobuf:"([^"]*)"')


def _show(repo: Path, path: str) -> str:
    return subprocess.run(
        [
            "git",
            "--git-dir",
            str(repo / ".git") if (repo / ".git").exists() else str(repo),
            "show",
            f"HEAD:{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _proto(text: str, package: str, out: dict[str, list[list[object]]]) -> None:
    msg: str | None = None
    depth = 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("//"):
            continue
        if depth == 0 and (m := re.match(r"message (\w+) \{", s)):
            msg, depth = f"{package}.{m.group(1)}", 1
            out[msg] = []
            continue
        if msg is None:
            continue
        if s.startswith("message ") or s.startswith("enum "):
            depth += 1
            continue
        if s == "}":
            depth -= 1
            if depth == 0:
                msg = None
            continue
        if depth != 1:
            continue
        if m := MAP.match(line):
            k, v, name, num = m.groups()
            out[msg].append([int(num), name, "map", _qualify(k, package), _qualify(v, package)])
        elif m := FIELD.match(line):
            label, typ, name, num = m.groups()
            out[msg].append([int(num), name, label, _qualify(typ, package)])


SCALARS = {"string", "bytes", "bool", "int32", "int64", "double", "float", "uint32", "uint64"}


def _qualify(typ: str, package: str) -> str:
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    return f"{package}.{typ}"


def _tags(text: str, package: str, out: dict[tuple[str, int], tuple[str, bool]]) -> None:
    """(message, field number) -> (json name, Go pointer) from the struct tags."""
    struct: str | None = None
    for line in text.splitlines():
        if m := re.match(r"^type (\w+) struct \{", line):
            struct = f"{package}.{m.group(1)}"
            continue
        if line.startswith("}"):
            struct = None
            continue
        if struct is None or (m := TAG.match(line)) is None:
            continue
        pointer, json_tag, pb = m.groups()
        parts = pb.split(",")
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        out[(struct, int(parts[1]))] = (json_tag.split(",")[0], pointer == "*")


def main() -> None:
    api, machinery = Path(sys.argv[1]), Path(sys.argv[2])
    messages: dict[str, list[list[object]]] = {}
    tags: dict[tuple[str, int], tuple[str, bool]] = {}
    for repo, pkgs in ((api, API_PKGS), (machinery, MACHINERY_PKGS)):
        for path, package in pkgs.items():
            _proto(_show(repo, f"{path}/generated.proto"), package, messages)
            for go in ("types.go", "meta.go", "generated.pb.go"):
                with contextlib.suppress(subprocess.CalledProcessError):
                    _tags(_show(repo, f"{path}/{go}"), package, tags)
    keep: dict[str, list[list[object]]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep or name not in messages:
            continue
        fields = []
        for f in messages[name]:
            num, proto_name = int(str(f[0])), str(f[1])
            json_name, pointer = tags.get((name, num), (proto_name, False))
            # "" is a Go struct embedded with `json:",inline"` (Volume's VolumeSource,
            # Probe's ProbeHandler): its fields sit in the parent's JSON object
            fields.append([num, json_name, *f[2:], pointer])
            for t in f[3:]:
                if isinstance(t, str) and t not in SCALARS:
                    todo.append(t)
        keep[name] = sorted(fields, key=lambda x: int(str(x[0])))
    target = Path(__file__).resolve().parents[1] / "podnet/apiserver/http/k8s_proto.json"
    target.write_text(json.dumps(dict(sorted(keep.items())), separators=(",", ":")) + "\n")
    print(f"{len(keep)} messages -> {target}")


if __name__ == "__main__":
    main()
