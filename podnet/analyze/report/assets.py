"""The report's inline CSS and JavaScript (no CDN, no network: the file stands alone).

The script reads the embedded JSON, renders the connectivity matrix for the chosen port
(rows: source groups, columns: destination groups), shows a cell's explanation on hover
(title) and in the side panel on click with the legend of that view (a symbol means one
thing for one port, another for all ports at once), highlights the pair's nodes in the
drawing, and filters the drawing's edges (namespace, port, kind). It finally sets
``data-rendered="ok"`` on <body> and fills #rendered - the marker the
headless-browser test looks for (a JS error before that point leaves it unset).
"""

CSS = """
:root { --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --ok:#16a34a;
  --no:#dc2626; --some:#d97706; }
* { box-sizing: border-box; }
[hidden] { display:none !important; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
header { background:#0f172a; color:#f8fafc; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header .sub { color:#cbd5e1; font-size:13px; }
.stats { display:flex; gap:12px; margin-top:12px; flex-wrap:wrap; }
.stat { background:#1e293b; border-radius:8px; padding:6px 12px; font-size:13px; }
.stat b { font-size:17px; margin-right:4px; }
main { padding:18px 28px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px;
  padding:16px 18px; margin-bottom:18px; }
h2 { margin:0 0 12px; font-size:17px; }
.scroll { overflow:auto; max-height:720px; }
.gbar { display:flex; gap:14px; align-items:center; flex-wrap:wrap; margin-bottom:6px; }
.gbar select, .gbar button { font:inherit; padding:2px 6px; }
.drawing { max-height:900px; border:1px solid var(--line); border-radius:8px; background:#fff; }
.drawing svg { display:block; max-width:100%; height:auto; }
.drawing.full svg { max-width:none; }
.drawing .hl path, .drawing .hl polygon, .drawing .hl ellipse { stroke-width:4px; }
.drawing .dim { opacity:.18; }
.glegend .lg { display:inline-flex; align-items:center; gap:4px; margin-right:14px; }
.glegend svg { vertical-align:middle; }
.tabs { display:flex; gap:6px; flex-wrap:wrap; margin-bottom:10px; }
.tabs button { border:1px solid var(--line); background:#fff; border-radius:6px;
  padding:4px 10px; cursor:pointer; font:inherit; }
.tabs button.on { background:#0f172a; color:#fff; border-color:#0f172a; }
.mx-wrap { display:flex; gap:16px; align-items:flex-start; }
table { border-collapse:collapse; font-size:12.5px; }
th, td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
th { background:#f1f5f9; font-weight:600; }
table.mx th.col { writing-mode:vertical-rl; transform:rotate(180deg); white-space:nowrap;
  max-height:260px; }
table.mx td.c { width:30px; height:26px; text-align:center; cursor:pointer; font-weight:700; }
.all { background:#dcfce7; color:var(--ok); } .none { background:#fee2e2; color:var(--no); }
.some { background:#fef3c7; color:var(--some); } td.self { background:#f8fafc; color:#cbd5e1; }
td.c.sel { outline:3px solid #0f172a; outline-offset:-3px; }
#detail { flex:1; min-width:280px; background:#f8fafc; border:1px solid var(--line);
  border-radius:8px; padding:12px; white-space:pre-wrap; font-family:ui-monospace,monospace;
  font-size:12px; }
#legend span { display:inline-block; padding:1px 8px; border-radius:4px; margin-right:6px; }
.ports { background:#e0f2fe; color:#0369a1; } .self-key { background:#f8fafc; color:#94a3b8; }
.sev-error { color:#fff; background:var(--no); border-radius:4px; padding:1px 6px; }
.sev-warning { color:#fff; background:var(--some); border-radius:4px; padding:1px 6px; }
.sev-info { color:#fff; background:#0891b2; border-radius:4px; padding:1px 6px; }
.mono { font-family:ui-monospace,monospace; font-size:12px; }
.muted { color:var(--muted); }
"""

JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var groups = data.groups.map(function (g) { return g.id; });
  var ports = Object.keys(data.matrix).filter(function (p) { return p !== "all"; });
  ports.sort(function (a, b) { return parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b); });
  if (ports.length) { ports.unshift("all"); }
  function portName(p) { return p === "all" ? "all ports" : p; }
  var tabs = document.getElementById("tabs");
  var holder = document.getElementById("matrix");
  var detail = document.getElementById("detail");
  var legend = document.getElementById("legend");
  var mark = { all: "\u2713", none: "\u2717", some: "\u25D0", ports: "\u25D1", self: "\u00B7" };
  // What a symbol means depends on the view: one port, or every port at once.
  var words = {
    port: { all: "allowed for every pod pair", none: "denied for every pod pair",
            some: "allowed for some pod pairs only", self: "a single pod and itself" },
    all: { all: "every port allowed, for every pod pair", none: "every port denied",
           ports: "some ports allowed, others denied",
           some: "some port allowed for some pod pairs only", self: "a single pod and itself" }
  };
  var graph, nodeOf, feeds, outs;  // the drawing shown: the whole one or a namespace's
  function setView(g) {
    graph = g;
    nodeOf = {}; feeds = {}; outs = {};
    graph.nodes.forEach(function (n) { nodeOf[n.key] = n; });
    // A junction ("j:<k>") stands for its feeders' nodes: its namespaces are theirs.
    graph.edges.forEach(function (e) {
      if (e.head.indexOf("j:") === 0) { (feeds[e.head] = feeds[e.head] || []).push(e); }
      if (e.tail.indexOf("j:") === 0) { (outs[e.tail] = outs[e.tail] || []).push(e); }
    });
  }
  setView(data.graph);

  // A per-port cell: [status, text index, source pod index, destination pod index].
  function explain(cell) {
    if (cell[1] < 0) { return ["(not explained: too many cells)", ""]; }
    var t = data.texts[cell[1]], s = data.pod_keys[cell[2]], d = data.pod_keys[cell[3]];
    return t.map(function (x) { return x.split("\u0001D").join(d).split("\u0001S").join(s); });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function highlight(ids) {
    graph.nodes.forEach(function (n) {
      var g = document.getElementById(n.id);
      if (g) { g.classList.toggle("hl", ids.indexOf(n.key) >= 0); }
    });
  }
  function showLegend(port, seen) {
    var w = words[port === "all" ? "all" : "port"];
    legend.textContent = "";
    ["all", "ports", "some", "none", "self"].forEach(function (k) {
      if (!seen[k]) { return; }
      var s = el("span", k === "self" ? "self-key" : k, mark[k] + " " + w[k]);
      s.setAttribute("data-status", k);
      legend.appendChild(s);
    });
  }
  function render(port) {
    tabs.querySelectorAll("button").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-port") === port);
    });
    var seen = {};
    var cols = groups.filter(function (g) { return data.matrix[port][g]; });
    var t = el("table", "mx");
    var hr = el("tr");
    hr.appendChild(el("th", "", "from \u2193  to \u2192"));
    cols.forEach(function (c) { hr.appendChild(el("th", "col", c)); });
    t.appendChild(hr);
    groups.forEach(function (src) {
      var tr = el("tr");
      tr.appendChild(el("th", "", src));
      cols.forEach(function (dst) {
        var cell = data.matrix[port][dst][src];
        var td;
        if (!cell) {
          td = el("td", "c self", mark.self);
          td.title = words.port.self;
          seen.self = true;
        } else {
          seen[cell[0]] = true;
          td = el("td", "c " + cell[0], mark[cell[0]]);
          td.setAttribute("data-status", cell[0]);
          var parts = port === "all" ? cell.slice(1).map(function (p) {
            var c = data.matrix[p][dst][src], w2 = explain(c);
            var tag = "[" + p + "] " + c[0];
            return [tag + ": " + w2[0], tag + "\n" + (w2[1] || w2[0])];
          }) : [explain(cell)].map(function (w2) { return [w2[0], w2[1] || w2[0]]; });
          td.title = src + " \u2192 " + dst + " " + portName(port) + "\n" +
            parts.map(function (x) { return x[0]; }).join("\n");
          td.addEventListener("click", function () {
            holder.querySelectorAll("td.sel").forEach(function (x) { x.classList.remove("sel"); });
            td.classList.add("sel");
            var w = words[port === "all" ? "all" : "port"];
            var head = src + "  \u2192  " + dst + "  on " + portName(port) + "\n" +
              w[cell[0]] + "\n\n";
            detail.textContent = head + parts.map(function (x) { return x[1]; }).join("\n\n");
            highlight([src, dst]);
          });
        }
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    holder.textContent = "";
    holder.appendChild(t);
    showLegend(port, seen);
  }
  ports.forEach(function (p) {
    var b = el("button", "", portName(p));
    b.setAttribute("data-port", p);
    b.addEventListener("click", function () { render(p); });
    tabs.appendChild(b);
  });
  if (ports.length) {
    render(ports[0]);
    var first = holder.querySelector("td.c.none") || holder.querySelector("td.c.some, td.c.all");
    if (first) { first.click(); }
  } else {
    holder.textContent = "No pod serves a port.";
  }

  // The drawing's filter: namespace (an edge touching it), port, kinds of edge.
  var fNs = document.getElementById("f-ns");
  var fPort = document.getElementById("f-port");
  var fFlows = document.getElementById("f-flows");
  var fRoutes = document.getElementById("f-routes");
  var count = document.getElementById("f-count");
  function nsOf(end) {
    if (end === "*") { return null; }
    if (end.indexOf("ns:") === 0) { return end.slice(3); }
    if (end.indexOf("wl:") === 0) { return end.slice(3).split("/")[0]; }
    return nodeOf[end] ? nodeOf[end].namespace : null;
  }
  function show(id, on) {
    var e = document.getElementById(id);
    if (e) { e.style.display = on ? "" : "none"; }
  }
  function touches(end, ns) {
    if (end.indexOf("j:") === 0) {
      return (feeds[end] || []).some(function (f) { return nsOf(f.tail) === ns; });
    }
    return nsOf(end) === ns;
  }
  function isNs(end) { return end.indexOf("ns:") === 0 || end.indexOf("wl:") === 0; }
  // The legend entries of what the shown drawing has (page.py's legend_kinds).
  function showKinds() {
    var es = graph.edges, has = {
      flow: es.some(function (e) { return e.ports.length && !e.partial.length; }),
      some: es.some(function (e) { return e.partial.length > 0; }),
      any: es.some(function (e) { return e.tail === "*"; }),
      ns: es.some(function (e) { return isNs(e.tail) || isNs(e.head); }),
      junction: es.some(function (e) { return e.head.indexOf("j:") === 0; }),
      members: graph.collapsed.length > 0,
      route: graph.services.some(function (s) { return s.routes.length > 0; })
    };
    document.querySelectorAll("#glegend [data-legend]").forEach(function (x) {
      x.hidden = !has[x.getAttribute("data-legend")];
    });
  }
  function filter() {
    var focus = data.focus && data.focus[fNs.value];
    setView(focus || data.graph);
    document.getElementById("graph").hidden = !!focus;
    document.querySelectorAll(".drawing.focus").forEach(function (d) {
      d.hidden = !focus || d.getAttribute("data-ns") !== fNs.value;
    });
    showKinds();
    var ns = fNs.value, port = fPort.value, shown = 0, touched = {}, on = {};
    graph.edges.forEach(function (e) {
      if (!e.ports.length) { return; }  // feeders follow their junction's edges below
      on[e.id] = fFlows.checked && (!port || e.ports.indexOf(port) >= 0) &&
        (!ns || touches(e.tail, ns) || touches(e.head, ns));
    });
    graph.edges.forEach(function (e) {
      if (e.ports.length) { return; }
      on[e.id] = (outs[e.head] || []).some(function (o) {
        return on[o.id] && (!ns || nsOf(e.tail) === ns || nsOf(o.head) === ns);
      });
    });
    graph.edges.forEach(function (e) {
      show(e.id, on[e.id]);
      if (on[e.id]) {
        if (e.ports.length) { shown += 1; }
        touched[e.tail] = true; touched[e.head] = true;
      }
    });
    graph.services.forEach(function (s) {
      var vis = fRoutes.checked && (!ns || s.namespace === ns);
      s.routes.forEach(function (r) { show(r, vis); });
      show(s.id, fRoutes.checked);
      var g = document.getElementById(s.id);
      if (g) { g.classList.toggle("dim", !vis); }
      if (vis) { s.targets.forEach(function (t) { touched[t] = true; }); }
    });
    graph.nodes.forEach(function (n) {  // an edge's box or "any pod" end touches its nodes
      var g = document.getElementById(n.id);
      var near = touched[n.key] || touched["ns:" + n.namespace] || touched["*"] ||
        (n.box && touched["wl:" + n.box]);
      if (g) { g.classList.toggle("dim", !focus && !!ns && n.namespace !== ns && !near); }
    });
    var total = graph.edges.filter(function (e) { return e.ports.length; }).length;
    count.textContent = shown + " of " + total + " flow edges shown";
    count.setAttribute("data-shown", String(shown));
  }
  if (fNs) {
    var nss = {};
    data.graph.nodes.forEach(function (n) { nss[n.namespace] = true; });
    Object.keys(nss).sort().forEach(function (n) { fNs.appendChild(new Option(n, n)); });
    ports.forEach(function (p) { if (p !== "all") { fPort.appendChild(new Option(p, p)); } });
    [fNs, fPort, fFlows, fRoutes].forEach(function (x) { x.addEventListener("change", filter); });
    var zoom = document.getElementById("f-zoom");
    zoom.addEventListener("click", function () {
      var full = !document.getElementById("graph").classList.contains("full");
      document.querySelectorAll(".drawing").forEach(function (d) {
        d.classList.toggle("full", full);
      });
      zoom.textContent = full ? "fit to width" : "actual size";
    });
    filter();
  }
  document.body.setAttribute("data-rendered", "ok");
  document.getElementById("rendered").textContent = "";
})();
"""
