"""podnet's imports only go down: no cycles, no package reaching up or sideways.

The layers, bottom up (STYLE.md, "The shape of the system"): leaves (errors, paths,
lazy, text, jsonbytes) < model < manifests < control < analyze | dataplane | apiserver <
controllers < live < cli. ``analyze`` and ``dataplane`` never import each other: the
policy engine and the nftables policy compiler are independent implementations of one
semantics, which is what makes ``podnet probe`` comparing them a real check. The API
server (store, REST semantics, HTTP) and the controllers over it know nothing of the
data plane: ``live`` joins them (the kubelet). ``kube`` (the Kubernetes API client and
the conversion of what a cluster has into the model) sits beside ``analyze``, over
``control``, and imports neither the data plane nor ``live``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.layers import collapse, cycles, import_graph, layer_violations
from support.paths import REPO

PODNET = REPO / "podnet"
RANKS = {
    "podnet.errors": 0,
    "podnet.paths": 0,
    "podnet.lazy": 0,
    "podnet.text": 0,
    "podnet.jsonbytes": 0,
    "podnet.model": 1,
    "podnet.manifests": 2,
    "podnet.control": 3,
    "podnet.analyze": 4,
    "podnet.dataplane": 4,
    "podnet.apiserver": 4,
    "podnet.kube": 4,
    "podnet.controllers": 5,
    "podnet.live": 6,
    "podnet.cli": 7,
    "podnet.__main__": 8,
}
INDEPENDENT = [
    ("podnet.analyze", "podnet.dataplane"),
    ("podnet.apiserver", "podnet.dataplane"),
    ("podnet.apiserver", "podnet.analyze"),
    ("podnet.controllers", "podnet.dataplane"),
    ("podnet.kube", "podnet.dataplane"),
    ("podnet.kube", "podnet.analyze"),
    ("podnet.kube", "podnet.apiserver"),
]
MAX_MODULES_PER_FOLDER = 20


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PODNET)


def test_no_import_cycle_between_modules(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_no_import_cycle_between_packages(graph: dict[str, set[str]]) -> None:
    for depth in (2, 3):
        assert cycles(collapse(graph, depth)) == [], f"at depth {depth}"


def test_imports_go_down_and_analyze_stays_apart_from_dataplane(
    graph: dict[str, set[str]],
) -> None:
    assert [str(v) for v in layer_violations(graph, RANKS, INDEPENDENT)] == []


def test_every_top_level_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    tops = {".".join(m.split(".")[:2]) for m in graph if m != "podnet"}
    assert sorted(tops - set(RANKS)) == []


def test_no_folder_holds_more_than_20_modules() -> None:
    for folder in [PODNET, *(p for p in PODNET.rglob("*") if p.is_dir())]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES_PER_FOLDER, folder


# The checker itself, on small packages written here: it must fail when it should.


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in files.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for d in [pkg, *(p for p in pkg.rglob("*") if p.is_dir())]:
        (d / "__init__.py").touch()
    return pkg


def test_checker_finds_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "low/a.py": "from pkg.low import b\n",
            "low/b.py": "def f():\n    from pkg.low.c import x\n    return x\n",
            "low/c.py": "from pkg.low.a import *\nx = 1\n",
        },
    )
    assert cycles(import_graph(pkg)) == [["pkg.low.a", "pkg.low.b", "pkg.low.c"]]


def test_checker_finds_a_relative_import_cycle(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"m/a.py": "from . import b\n", "m/b.py": "from .a import x\n"})
    assert cycles(import_graph(pkg)) == [["pkg.m.a", "pkg.m.b"]]


def test_checker_finds_a_package_cycle_without_a_module_cycle(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "one/a.py": "import pkg.two.b\n",
            "two/b.py": "x = 1\n",
            "two/c.py": "import pkg.one.d\n",
            "one/d.py": "y = 2\n",
        },
    )
    graph = import_graph(pkg)
    assert cycles(graph) == []
    assert cycles(collapse(graph, 2)) == [["pkg.one", "pkg.two"]]


def test_checker_finds_an_upward_and_a_sideways_import(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "model/m.py": "from pkg.cli.main import run\n",
            "cli/main.py": "def run(): ...\n",
            "analyze/x.py": "from pkg.dataplane import y\n",
            "dataplane/y.py": "",
        },
    )
    ranks = {"pkg.model": 0, "pkg.analyze": 1, "pkg.dataplane": 1, "pkg.cli": 2}
    found = layer_violations(import_graph(pkg), ranks, [("pkg.analyze", "pkg.dataplane")])
    assert [str(v) for v in found] == [
        "pkg.analyze.x imports pkg.dataplane.y: pkg.analyze and pkg.dataplane stay independent",
        "pkg.model.m imports pkg.cli.main: pkg.cli is above pkg.model",
    ]


def test_checker_passes_a_clean_package(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path, {"model/m.py": "x = 1\n", "cli/main.py": "from pkg.model.m import x\n"}
    )
    graph = import_graph(pkg)
    assert cycles(graph) == []
    assert layer_violations(graph, {"pkg.model": 0, "pkg.cli": 1}) == []
