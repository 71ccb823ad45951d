"""The report's inline CSS and JavaScript (no CDN, no network: the file stands alone).

The script reads the embedded JSON, renders the connectivity matrix for the chosen port
(rows: source groups, columns: destination groups), shows a cell's explanation on hover
(title) and in the side panel on click, highlights a group's box in the drawing, and
finally sets ``data-rendered="ok"`` on <body> and fills #rendered - the marker the
headless-browser test looks for (a JS error before that point leaves it unset).
"""

CSS = """
:root { --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --ok:#16a34a;
  --no:#dc2626; --some:#d97706; }
* { box-sizing: border-box; }
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
svg text { font-family:system-ui,sans-serif; }
.node-box { fill:#f1f5f9; stroke:#cbd5e1; }
.node-name { font-size:14px; font-weight:600; fill:#0f172a; }
.node-meta { font-size:11px; fill:#64748b; }
.grp-box { fill:#fff; stroke-width:1.5; }
.grp-head { font-size:12px; font-weight:600; fill:#fff; }
.grp.hl .grp-box { stroke-width:4; }
.pod { font-size:12px; fill:#111827; }
.ip { font-size:11.5px; fill:#475569; font-family:ui-monospace,monospace; }
.more, .pol { font-size:11px; fill:#6b7280; font-style:italic; }
.svc-box { fill:#eef2ff; stroke:#6366f1; }
.svc-name { font-size:12.5px; font-weight:600; fill:#3730a3; }
.svc-meta { font-size:11px; fill:#4b5563; font-family:ui-monospace,monospace; }
.link { fill:none; stroke:#818cf8; stroke-width:1.4; opacity:.7; }
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
.legend span { display:inline-block; padding:1px 8px; border-radius:4px; margin-right:6px; }
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
  var mark = { all: "\u2713", none: "\u2717", some: "\u25D0" };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function highlight(ids) {
    document.querySelectorAll(".grp").forEach(function (g) {
      g.classList.toggle("hl", ids.indexOf(g.getAttribute("data-group")) >= 0);
    });
  }
  function render(port) {
    tabs.querySelectorAll("button").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-port") === port);
    });
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
          td = el("td", "c self", "\u00B7");
          td.title = "same single pod";
        } else {
          td = el("td", "c " + cell[0], mark[cell[0]]);
          var parts = port === "all" ? cell.slice(1).map(function (p) {
            var c = data.matrix[p][dst][src];
            return ["[" + p + "] " + c[1], "[" + p + "]\n" + (c[2] || c[1])];
          }) : [[cell[1], cell[2] || cell[1]]];
          td.title = src + " \u2192 " + dst + " " + portName(port) + "\n" +
            parts.map(function (x) { return x[0]; }).join("\n");
          td.addEventListener("click", function () {
            holder.querySelectorAll("td.sel").forEach(function (x) { x.classList.remove("sel"); });
            td.classList.add("sel");
            var head = src + "  \u2192  " + dst + "  on " + portName(port) + "\n" +
              ({ all: "allowed for every pod pair", none: "denied for every pod pair",
                 some: "allowed for some pod pairs only" })[cell[0]] + "\n\n";
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
  }
  ports.forEach(function (p, i) {
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
  document.querySelectorAll(".svc").forEach(function (s) {
    s.addEventListener("mouseenter", function () {
      var name = s.getAttribute("data-service");
      var svc = data.services.filter(function (x) { return x.name === name; })[0];
      highlight(svc ? svc.groups : []);
    });
    s.addEventListener("mouseleave", function () { highlight([]); });
  });
  document.body.setAttribute("data-rendered", "ok");
  document.getElementById("rendered").textContent = "";
})();
"""
