"""matrix_dot and the report's data: the drawn edges are exactly the matrix's allowed pairs.

The truth is computed apart from the code under test: every judged connection
(:meth:`Matrix.connections`, pod by pod) grouped by drawn node. The DOT is read back
through Graphviz's own parser (``gvpr``), so what is checked is what ``dot`` will draw.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from support.paths import REPO
from support.random_cluster import generate
from support.report_clusters import state_of

from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.analyze.report.data import build_report_data, cell_text
from podnet.analyze.report.flows import (
    ANY,
    JUNCTION,
    NS_PREFIX,
    WL_PREFIX,
    DrawnNode,
    Flow,
    compress,
    expand,
)
from podnet.analyze.report.graph import BIG_FLOWS, build_graph, graph_dot, matrix_dot
from podnet.analyze.report.groups import groups_of
from podnet.analyze.report.layout import layout_svg
from podnet.analyze.report.page import legend_kinds
from podnet.cli.main import main
from podnet.control.cluster import build_cluster, user_pods
from podnet.errors import CommandError, Location, NotSupportedError
from podnet.manifests import from_documents, load_paths

Truth = dict[tuple[str, str, str], bool]
GVPR = shutil.which("gvpr")
EDGES = (
    'E { printf("%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n", $.tail.name, $.head.name, aget($, "class"),'
    ' aget($, "ltail"), aget($, "lhead"), aget($, "tooltip")); }'
)
NODES = 'N { if (aget($, "class") == "pn") printf("%s\\n", $.name); }'


def truth(m: Matrix, level: str) -> Truth:
    """(src node, dst node, port) -> every pod pair allowed, for the allowed ones."""
    if level == "pod":
        node_of = {p.key: p.key for p in m.pods}
    else:
        node_of = {p.key: g.id for g in groups_of(m.pods) for p in g.pods}
    total: Counter[tuple[str, str, str]] = Counter()
    allowed: Counter[tuple[str, str, str]] = Counter()
    for c in m.connections():
        k = (node_of[c.src.key], node_of[c.dst.key], f"{c.port}/{c.protocol}")
        total[k] += 1
        allowed[k] += c.allowed
    return {k: allowed[k] == n for k, n in total.items() if allowed[k]}


def gvpr(program: str, dot: str) -> list[list[str]]:
    assert GVPR is not None
    done = subprocess.run(
        [GVPR, program], input=dot, capture_output=True, text=True, timeout=60, check=True
    )
    return [line.split("\t") for line in done.stdout.splitlines()]


def parsed_flows(dot: str) -> list[Flow]:
    """The flow edges as Graphviz reads them (box ends from ltail/lhead)."""
    out = []
    for tail, head, cls, ltail, lhead, tip in gvpr(EDGES, dot):
        if "flow" not in cls.split():
            continue
        tail, head = ltail or tail, lhead or head  # dot's clipped ends; fdp's are the box
        tail, head = _end(tail), _end(head)
        if "feed" in cls.split():
            out.append(Flow(tail, head, ()))
            continue
        ports = [p.strip() for p in tip.split(": ", 1)[1].split(", ")]
        partial = tuple(p.split(" ")[0] for p in ports if p.endswith("(some pod pairs)"))
        out.append(Flow(tail, head, tuple(p.split(" ")[0] for p in ports), partial))
    return out


def _end(name: str) -> str:
    """A DOT cluster name as the flow end it stands for."""
    if name.startswith("cluster_ns_"):
        return NS_PREFIX + name.removeprefix("cluster_ns_")
    if name.startswith("cluster_wl_"):
        return WL_PREFIX + name.removeprefix("cluster_wl_")
    return name


def random_state(seed: int) -> Matrix:
    docs = generate(seed, tiers=True)
    state = build_cluster(from_documents([(d, Location("r.yaml", 1)) for d in docs]))
    return compute_matrix(state)


@pytest.mark.skipif(GVPR is None, reason="graphviz (gvpr) not installed")
@pytest.mark.parametrize(
    ("size", "level"),
    [(10, "pod"), (10, "workload"), (50, "pod"), (50, "workload"), (500, "workload")],
)
def test_dot_edges_are_the_allowed_pairs(size: int, level: str) -> None:
    _, state, pods = state_of(size)
    m = compute_matrix(state, pods)
    dot = matrix_dot(m, level=level, state=state)
    g = build_graph(m, level, state)
    big = sum(1 for f in g.flows if f.ports) > BIG_FLOWS
    assert g.layout == ("fdp" if big else "dot") and (size != 500 or big)
    assert sorted(r[0] for r in gvpr(NODES, dot)) == sorted(n.key for n in g.nodes)
    assert expand(parsed_flows(dot), g.nodes) == truth(m, level)


@pytest.mark.skipif(GVPR is None, reason="graphviz (gvpr) not installed")
@pytest.mark.parametrize("seed", range(8))
def test_dot_edges_random_clusters_with_tiers(seed: int) -> None:
    m = random_state(seed)
    for level in ("pod", "workload"):
        dot = matrix_dot(m, level=level)
        g = build_graph(m, level)
        assert expand(parsed_flows(dot), g.nodes) == truth(m, level), level


@pytest.mark.skipif(GVPR is None, reason="graphviz (gvpr) not installed")
@pytest.mark.parametrize("size", [50, 500])
def test_focus_graph_is_the_pairs_into_or_out_of_a_namespace(size: int) -> None:
    _, state, pods = state_of(size)
    m = compute_matrix(state, pods)
    whole = truth(m, "workload")
    for ns in sorted({p.namespace for p in m.pods})[:3]:
        g = build_graph(m, "workload", state, ns)
        part = {k: v for k, v in whole.items() if ns in {e.split("/")[0] for e in k[:2]}}
        assert expand(parsed_flows(graph_dot(g, ns)), g.nodes) == part
        assert all(s.namespace == ns for s in g.services)
        assert ns not in g.collapsed


def test_default_allow_is_one_edge_per_destination() -> None:
    """Nothing isolated: every pod reaches every pod - one edge, "any pod" to the box."""
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "labels": {"app": f"a{i}"}},
            "spec": {
                "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]
            },
        }
        for i in range(6)
    ]
    state = build_cluster(from_documents([(d, Location("x.yaml", 1)) for d in docs]))
    m = compute_matrix(state, [p for p in state.pods if p.namespace == "default"])
    g = build_graph(m, "pod")
    assert g.flows == (Flow(ANY, NS_PREFIX + "default", ("80/TCP",)),)
    assert expand(g.flows, g.nodes) == truth(m, "pod")


def test_junction_joins_identical_tails() -> None:
    nodes = [DrawnNode(k, "ns", ((0, 1),), frozenset({"80/TCP"})) for k in "abcdef"]
    flows = {(s, d, "80/TCP"): True for s in "ab" for d in "cdef"}
    edges = compress(nodes, flows)
    assert len(edges) == 2 + 4 and {e.tail for e in edges if e.ports} == {JUNCTION + "0"}
    assert expand(edges, nodes) == flows


def test_bad_level() -> None:
    with pytest.raises(ValueError, match="level"):
        matrix_dot(random_state(0), level="namespace")


@pytest.mark.parametrize("size", [10, 50])
def test_page_data_matches_matrix(size: int) -> None:
    _, state, pods = state_of(size)
    data = build_report_data(state, [], "t", pods)
    m = compute_matrix(state, pods)
    want = truth(m, "workload")
    nodes = build_graph(m, "workload", state).nodes
    edges = [
        Flow(e["tail"], e["head"], tuple(e["ports"]), tuple(e["partial"]))
        for e in data["graph"]["edges"]
    ]
    assert expand(edges, nodes) == want
    statuses: Counter[str] = Counter()
    for port, rows in data["matrix"].items():
        if port == "all":
            continue
        for dst, row in rows.items():
            for src, cell in row.items():
                got = want.get((src, dst, port))
                assert cell[0] == ("none" if got is None else "all" if got else "some")
                statuses[cell[0]] += 1
                reason, text = cell_text(data, cell)  # the pair's own pods, put back
                src_pod, dst_pod = data["pod_keys"][cell[2]], data["pod_keys"][cell[3]]
                assert reason and dst_pod in text and src_pod in text
    assert statuses["all"] and statuses["none"] and statuses["some"]  # the cluster varies
    overview = {c[0] for row in data["matrix"]["all"].values() for c in row.values()}
    assert "ports" in overview  # cells allowed on one port, denied on another
    kinds = set(legend_kinds(data["graph"]))
    assert "flow" in kinds and "route" in kinds
    assert (
        data["pods"] == size and len({p["name"] for g in data["groups"] for p in g["pods"]}) == size
    )


def test_overview_status_over_ports() -> None:
    _, state, pods = state_of(50)
    data = build_report_data(state, [], "t", pods)
    ports = [p for p in data["matrix"] if p != "all"]
    for dst, row in data["matrix"]["all"].items():
        for src, cell in row.items():
            have = [p for p in ports if src in data["matrix"][p].get(dst, {})]
            per = [data["matrix"][p][dst][src][0] for p in have]
            assert sorted(cell[1:]) == sorted(have)
            if "some" in per:
                assert cell[0] == "some"
            elif len(set(per)) == 1:
                assert cell[0] == per[0]
            else:
                assert cell[0] == "ports"


SEED = [REPO / "examples/seed/pod-to-service.yaml", REPO / "examples/seed/pitfall-pod-ip.yaml"]


@pytest.mark.parametrize("extra", [[], ["--all"]])
def test_cli_report_counts_pods_as_analyze(
    extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [a for p in SEED for a in ("-f", str(p))]
    assert main(["analyze", *files, *extra]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    out = tmp_path / "r.html"
    assert main(["report", *files, *extra, "--output", str(out)]) == 0
    pods = int(first.split(" pods")[0])
    assert f"<div class=stat><b>{pods}</b>pods" in out.read_text()
    assert pods == (4 if extra else 3)  # the cluster DNS pod only with --all


def test_analyze_dot_is_the_reports_drawing(capsys: pytest.CaptureFixture[str]) -> None:
    """`podnet analyze -o dot --level workload` writes the DOT the report lays out."""
    paths = [REPO / "examples/shop/base", REPO / "examples/shop/broken"]
    files = [a for p in paths for a in ("-f", str(p))]
    assert main(["analyze", *files, "-o", "dot", "--level", "workload"]) == 0
    cli = capsys.readouterr().out
    manifests = load_paths([str(p) for p in paths])
    state = build_cluster(manifests)
    report = build_report_data(state, [], "t", user_pods(manifests, state))["dot"]
    assert cli.split("\n", 1)[1] == report.split("\n", 1)[1]  # all but the graph's name


def test_layout_errors_are_classified() -> None:
    """No Graphviz: NotSupportedError (the page says so); bad DOT: CommandError."""
    with pytest.raises(NotSupportedError, match="install Graphviz"):
        layout_svg("digraph {}", program="podnet-no-such-dot")
    if shutil.which("dot") is not None:
        with pytest.raises(CommandError):
            layout_svg("digraph { a -> }")
        assert layout_svg("digraph { a -> b }").startswith("<svg")
