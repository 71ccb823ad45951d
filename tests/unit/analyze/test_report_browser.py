"""The report in headless Chromium at 10, 50 and 500 pods, over the DevTools protocol.

One browser for the three pages. Per page: no exception, console error or log error;
the script finished (``data-rendered``); the flow edges Graphviz drew are exactly the
matrix's allowed pairs (expanded as the page's data says, checked against
:meth:`Matrix.connections`); the drawing's legend lists exactly the kinds drawn; at 500
pods, choosing a namespace shows its own drawing, with exactly the pairs into or out of it; the
matrix legend lists exactly the statuses of the cells shown, in the all-ports view and in
a one-port view, with that view's words; the port filter hides exactly the other edges.
With ``PODNET_REPORT_SHOTS=DIR`` it also writes DIR/report-<pods>.png (docs/).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.report_clusters import state_of

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.run import lint_context
from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.analyze.report.flows import DrawnNode, Flow, expand
from podnet.analyze.report.graph import build_graph
from podnet.analyze.report.groups import groups_of
from podnet.analyze.report.page import legend_kinds, render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SIZES = (10, 50, 500)
WIDTH, HEIGHT = 1400, 1800
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-port=0", "about:blank",
]  # fmt: skip
PROBE = """JSON.stringify((() => {
  const q = (s, root) => Array.from((root || document).querySelectorAll(s));
  const view = () => ({
    legend: q('#legend [data-status]').map((e) => [e.dataset.status, e.textContent]),
    cells: Array.from(new Set(q('#matrix td.c').map((e) => e.dataset.status || 'self'))),
  });
  const drawing = () => {  // the drawing shown, what it has by Graphviz's classes
    const root = q('.drawing').filter((d) => !d.hidden)[0];
    return {
      edges: q('g.edge.flow', root).map((e) => e.id),
      legend: q('#glegend [data-legend]').filter((e) => !e.hidden).map((e) => e.dataset.legend),
      drawn: {
        flow: q('g.edge.flow', root).some((e) => !e.matches('.some, .feed')),
        some: q('g.edge.some', root).length > 0,
        any: q('g.node.any', root).length > 0,
        ns: q('g.edge.ns-end', root).length > 0,
        junction: q('g.node.junction', root).length > 0,
        members: q('g.node.members', root).length > 0,
        route: q('g.edge.route', root).length > 0,
      },
    };
  };
  const out = { rendered: document.body.dataset.rendered, whole: drawing(), all: view() };
  const tab = q('#tabs button')[1];
  out.port = tab.dataset.port;
  tab.click();
  out.one = view();
  const set = (id, value) => {
    const sel = document.getElementById(id);
    sel.value = value;
    sel.dispatchEvent(new Event('change'));
  };
  set('f-port', out.port);
  out.shown = q('#graph g.edge.flow').filter((e) => e.style.display !== 'none').map((e) => e.id);
  set('f-port', '');
  const focus = q('.drawing.focus');
  if (focus.length) {
    out.ns = focus[focus.length - 1].dataset.ns;
    set('f-ns', out.ns);
    out.focus = drawing();
    out.focus.shown = q('.drawing').filter((d) => !d.hidden).map((d) => d.id || d.dataset.ns);
    set('f-ns', '');
  }
  document.querySelector('#tabs button').click();
  return out;
})())"""
WORDS = {  # what the script must say per status, per view (assets.py)
    "all": {
        "all": "every port allowed",
        "none": "every port denied",
        "ports": "some ports",
        "some": "some pod pairs",
    },
    "one": {"all": "every pod pair", "none": "denied for every", "some": "some pod pairs"},
}


class Page:
    """One tab over one DevTools websocket session (flat mode)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0
        self.session = ""
        self.errors: list[str] = []
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def pump(self) -> None:
        async for msg in self.ws:
            m = json.loads(msg.data)
            if "id" in m and m["id"] in self.waiting:
                self.waiting.pop(m["id"]).set_result(m)
                continue
            method, p = m.get("method", ""), m.get("params", {})
            if method == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(p["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                self.errors.append(json.dumps(p["args"])[:500])
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                self.errors.append(p["entry"]["text"])
            else:
                self.events.put_nowait(m)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        msg: dict[str, Any] = {"id": self.n, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.n] = fut
        await self.ws.send_str(json.dumps(msg))
        got = await asyncio.wait_for(fut, 60)
        assert "error" not in got, got
        result: dict[str, Any] = got["result"]
        return result

    async def wait_event(self, method: str) -> None:
        while (await asyncio.wait_for(self.events.get(), 60)).get("method") != method:
            pass


async def browse(pages: dict[int, Path], shots: Path | None) -> dict[int, dict[str, Any]]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        argv = [CHROMIUM, *FLAGS[:-1], f"--user-data-dir={profile}", FLAGS[-1]]
        # TMPDIR: chromium's singleton socket dir (/tmp/org.chromium.Chromium.*) goes
        # with the profile rather than staying behind in /tmp
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TMPDIR": profile},
        )
        drain: asyncio.Future[bytes] | None = None
        try:
            url = ""
            assert proc.stderr is not None
            while not url:
                line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
                assert line, "chromium exited before DevTools listened"
                if line.startswith("DevTools listening on "):
                    url = line.split(" on ", 1)[1].strip()
            drain = asyncio.ensure_future(proc.stderr.read())
            async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
                page = Page(ws)
                pump = asyncio.ensure_future(page.pump())
                target = await page.call("Target.createTarget", url="about:blank")
                attached = await page.call(
                    "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                page.session = attached["sessionId"]
                for domain in ("Runtime", "Log", "Page"):
                    await page.call(f"{domain}.enable")
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                out = {}
                for size, path in pages.items():
                    await page.call("Page.navigate", url=path.as_uri())
                    await page.wait_event("Page.loadEventFired")
                    got = await page.call("Runtime.evaluate", expression=PROBE)
                    result = json.loads(got["result"]["value"])
                    result["errors"] = list(page.errors)
                    page.errors.clear()
                    if shots is not None:
                        png = await page.call("Page.captureScreenshot", format="png")
                        (shots / f"report-{size}.png").write_bytes(base64.b64decode(png["data"]))
                    out[size] = result
                pump.cancel()
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have died first
                proc.terminate()
            await proc.wait()
            if drain is not None:
                await drain
    return out


def check_drawing(
    got: dict[str, Any],
    graph: dict[str, Any],
    nodes: Sequence[DrawnNode],
    want: dict[tuple[str, str, str], bool],
) -> None:
    """Graphviz drew every edge of ``graph``; they are the pairs ``want``; legend = drawn."""
    by_id = {e["id"]: e for e in graph["edges"]}
    assert sorted(got["edges"]) == sorted(by_id)
    drawn = [
        Flow(e["tail"], e["head"], tuple(e["ports"]), tuple(e["partial"]))
        for e in (by_id[i] for i in got["edges"])
    ]
    assert expand(drawn, nodes) == want
    assert set(got["legend"]) == {k for k, there in got["drawn"].items() if there}


def truth(m: Matrix) -> dict[tuple[str, str, str], bool]:
    node_of = {p.key: g.id for g in groups_of(m.pods) for p in g.pods}
    total: Counter[tuple[str, str, str]] = Counter()
    allowed: Counter[tuple[str, str, str]] = Counter()
    for c in m.connections():
        k = (node_of[c.src.key], node_of[c.dst.key], f"{c.port}/{c.protocol}")
        total[k] += 1
        allowed[k] += c.allowed
    return {k: allowed[k] == n for k, n in total.items() if allowed[k]}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_report_in_chromium(tmp_path: Path) -> None:
    pages: dict[int, Path] = {}
    expected: dict[int, tuple[Matrix, dict[str, Any]]] = {}
    for size in SIZES:
        _, state, pods = state_of(size)
        html = render_report(state, lint_context(context_for_state(state)), f"{size} pods", pods)
        pages[size] = tmp_path / f"r{size}.html"
        pages[size].write_text(html)
        m = compute_matrix(state, pods)
        graph = build_graph(m, "workload", state)
        expected[size] = (m, {"graph": graph, "html": html, "state": state})
    shots = os.environ.get("PODNET_REPORT_SHOTS")
    seen = asyncio.run(browse(pages, Path(shots) if shots else None))
    for size in SIZES:
        got = seen[size]
        m, exp = expected[size]
        g = exp["graph"]
        assert got["rendered"] == "ok" and got["errors"] == [], (size, got["errors"])
        data = json.loads(exp["html"].split('id="report-data">', 1)[1].split("</script>", 1)[0])
        whole = truth(m)
        check_drawing(got["whole"], data["graph"], g.nodes, whole)
        assert got["whole"]["legend"] == legend_kinds(data["graph"])
        if size == 500:  # big: fdp, and a drawing per namespace
            ns = got["ns"]
            assert got["focus"]["shown"] == [ns]  # the whole drawing hidden
            part = {k: v for k, v in whole.items() if ns in {e.split("/")[0] for e in k[:2]}}
            nodes = build_graph(m, "workload", exp["state"], ns).nodes
            check_drawing(got["focus"], data["focus"][ns], nodes, part)
        else:
            assert "focus" not in got
        for view, words in WORDS.items():
            legend = dict(got[view]["legend"])
            assert set(legend) == set(got[view]["cells"]), (size, view)
            for status, text in legend.items():
                assert status == "self" or words[status] in text, (size, view, status, text)
        port = got["port"]
        want = {e["id"] for e in data["graph"]["edges"] if port in e["ports"]}
        by_id = {e["id"]: e for e in data["graph"]["edges"]}
        shown = {i for i in got["shown"] if by_id[i]["ports"]}  # not junction feeders
        assert shown == want, size
