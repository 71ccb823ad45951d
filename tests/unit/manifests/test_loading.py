"""Reading -f paths: files, directories, stdin, JSON, multi-document YAML, Lists."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.errors import ManifestError
from podnet.manifests import load_paths

SEED = REPO / "examples" / "seed"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: c
      image: busybox
"""


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("file", "pods", "services"),
    [
        ("service.yaml", [], ["default/my-service"]),
        ("pod-to-service.yaml", ["default/pod-a", "default/pod-b"], ["default/my-service"]),
        ("pitfall-pod-ip.yaml", ["default/pod-client"], []),
    ],
)
def test_seed_examples_load(file: str, pods: list[str], services: list[str]) -> None:
    m = load_paths([str(SEED / file)])
    assert [p.key for p in m.pods] == pods
    assert [s.key for s in m.services] == services
    assert m.warnings == ()


def test_seed_service_target_port() -> None:
    m = load_paths([str(SEED / "service.yaml")])
    (port,) = m.services[0].ports
    assert (port.port, port.target_port, port.protocol) == (80, 8080, "TCP")


def test_multi_document_lines(tmp_path: Path) -> None:
    text = "# comment\n---\n" + POD.format(name="a") + "---\n---\n" + POD.format(name="b")
    m = load_paths([write(tmp_path, "m.yaml", text)])
    assert [(p.name, p.meta.location.line) for p in m.pods if p.meta and p.meta.location] == [
        ("a", 3),
        ("b", 13),
    ]


def test_list_items_keep_their_line(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a}
    spec: {containers: [{name: c, image: busybox}]}
  - apiVersion: v1
    kind: Service
    metadata: {name: s}
    spec: {ports: [{port: 80}]}
"""
    m = load_paths([write(tmp_path, "l.yaml", text)])
    assert m.pods[0].meta is not None and m.pods[0].meta.location is not None
    assert m.pods[0].meta.location.line == 4
    assert m.services[0].meta is not None and m.services[0].meta.location is not None
    assert m.services[0].meta.location.line == 8


def test_list_item_error_points_into_item(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n"
        "    metadata: {name: s}\n    spec:\n      ports:\n        - port: 0\n"
    )
    with pytest.raises(ManifestError) as e:
        load_paths([write(tmp_path, "l.yaml", text)])
    assert e.value.location is not None and e.value.location.line == 9
    assert e.value.field == "spec.ports[0].port"


def test_json_file(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "j"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    m = load_paths([write(tmp_path, "p.json", json.dumps(doc, indent=2))])
    assert [p.name for p in m.pods] == ["j"]


def test_directory_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", POD.format(name="b"))
    write(tmp_path, "a/z.yml", POD.format(name="az"))
    write(
        tmp_path,
        "c.json",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "c"},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            }
        ),
    )
    write(tmp_path, "notes.txt", "not yaml: [")
    m = load_paths([str(tmp_path)])
    assert [p.name for p in m.pods] == ["az", "b", "c"]


def test_stdin() -> None:
    m = load_paths(["-"], stdin=io.StringIO(POD.format(name="s")))
    assert [p.name for p in m.pods] == ["s"]
    assert m.pods[0].meta is not None and m.pods[0].meta.location is not None
    assert m.pods[0].meta.location.file == "<stdin>"


def test_stdin_and_files_mix(tmp_path: Path) -> None:
    f = write(tmp_path, "a.yaml", POD.format(name="a"))
    m = load_paths([f, "-"], stdin=io.StringIO(POD.format(name="b")))
    assert [p.name for p in m.pods] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n", 5),
        ("a: 1\n b: 2\n", 2),
        ("apiVersion: v1\nkind: Pod\nkind: Service\n", 3),  # duplicate key
        ("- a\n- b\n", 1),  # not a mapping
    ],
)
def test_yaml_errors_carry_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ManifestError) as e:
        load_paths([path])
    assert e.value.location is not None
    assert (e.value.location.file, e.value.location.line) == (path, line)


def test_missing_file() -> None:
    with pytest.raises(ManifestError) as e:
        load_paths(["/nonexistent/x.yaml"])
    assert e.value.location is not None and e.value.location.file == "/nonexistent/x.yaml"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", POD.format(name="a"))
    os.chmod(path, 0)
    with pytest.raises(ManifestError):
        load_paths([path])


def test_directory_read_error(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ManifestError) as e:
        load_paths([str(tmp_path)])
    assert e.value.location is not None


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        load_paths([str(tmp_path)])


def test_one_bad_document_loads_nothing(tmp_path: Path) -> None:
    good = POD.format(name="good")
    bad = POD.format(name="Bad_Name")
    with pytest.raises(ManifestError) as e:
        load_paths([write(tmp_path, "x.yaml", good + "---\n" + bad)])
    assert e.value.obj == "Pod/default/Bad_Name"
    assert e.value.field == "metadata.name"
    assert e.value.location is not None and e.value.location.line == 13


def test_all_errors_listed_first_on_top(tmp_path: Path) -> None:
    text = POD.format(name="Bad1") + "---\n" + POD.format(name="Bad2")
    with pytest.raises(ManifestError) as e:
        load_paths([write(tmp_path, "x.yaml", text)])
    assert e.value.obj == "Pod/default/Bad1"
    assert "Bad2" in str(e.value)
    assert len(getattr(e.value, "errors", ())) == 2


def test_field_line_points_at_the_field(tmp_path: Path) -> None:
    text = (
        POD.format(name="a") + "      ports:\n        - containerPort: 80\n"
        "          name: http\n        - containerPort: 81\n          name: http\n"
    )
    with pytest.raises(ManifestError) as e:
        load_paths([write(tmp_path, "x.yaml", text)])
    assert e.value.field == "spec.containers[0].ports[1].name"
    assert e.value.location is not None and e.value.location.line == 13


def test_unknown_field_points_at_the_field(tmp_path: Path) -> None:
    text = POD.format(name="a") + "      contaners: 1\n"
    with pytest.raises(ManifestError) as e:
        load_paths([write(tmp_path, "x.yaml", text)])
    assert e.value.field == "spec.containers[0].contaners"
    assert e.value.location is not None and e.value.location.line == 9


def test_yaml_timestamps_stay_strings(tmp_path: Path) -> None:
    text = POD.format(name="a").replace("metadata:\n", "metadata:\n  labels:\n    d: 2020-01-01\n")
    m = load_paths([write(tmp_path, "x.yaml", text)])
    assert m.pods[0].labels == {"d": "2020-01-01"}
