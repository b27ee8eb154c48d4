// sdatasync console: one page, hash routes, plain DOM. Every value shown
// goes through text nodes or attributes (never HTML): resource payloads and
// names are untrusted. The JSON APIs are under api/ (see package console).
"use strict";

(function () {
  const main = document.getElementById("main");
  let timer = null; // the live page's poll, stopped when the page changes

  // el builds an element: attrs are attributes (on* never), kids are
  // nodes or strings (text).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }

  async function api(path, opts) {
    const r = await fetch("api/" + path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, opts || {}));
    const text = await r.text();
    if (!r.ok) {
      let msg = text;
      const m = /<sdata:message>([\s\S]*?)<\/sdata:message>/.exec(text);
      if (m) msg = m[1].replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
      throw new Error(r.status + ": " + msg);
    }
    return JSON.parse(text);
  }

  function fmtTime(s) {
    if (!s) return "";
    const d = new Date(s);
    return isNaN(d) ? s : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function fmtNum(n, digits) {
    if (n === undefined || n === null) return "";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 0 : digits });
  }
  function num(v, cls) { return el("td", { class: "num" + (cls ? " " + cls : "") }, v); }
  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) u.set(k, v);
    return u.toString();
  }
  function table(headers, rows, attrs) {
    return el("table", attrs || {}, el("thead", {}, el("tr", {}, headers.flat().map((h) => typeof h === "string" ? el("th", {}, h) : h))), el("tbody", {}, rows));
  }
  function message(text, error) { return el("div", { class: "message" + (error ? " error" : ""), role: error ? "alert" : "status" }, text); }
  function runLink(r) {
    return el("a", { href: "#/run?" + qs({ runName: r.runName, runStamp: r.runStamp }), class: "run-link" }, r.runName || "(no name)", " ", el("span", { class: "muted" }, r.runStamp));
  }
  function pager(total, offset, limit, go) {
    const prev = el("button", { class: "secondary", type: "button", disabled: offset <= 0 }, "← Newer");
    const next = el("button", { class: "secondary", type: "button", disabled: offset + limit >= total }, "Older →");
    prev.addEventListener("click", () => go(Math.max(0, offset - limit)));
    next.addEventListener("click", () => go(offset + limit));
    const first = total === 0 ? 0 : offset + 1;
    return el("div", { class: "pager" }, prev, next, el("span", { class: "muted", id: "page-info" }, `${first}–${Math.min(total, offset + limit)} of ${fmtNum(total)}`));
  }
  function hashParams() {
    const h = location.hash.slice(1);
    const i = h.indexOf("?");
    return { page: (i < 0 ? h : h.slice(0, i)).replace(/^\//, "") || "endpoints", params: new URLSearchParams(i < 0 ? "" : h.slice(i + 1)) };
  }
  function setHash(page, params) {
    const q = qs(params);
    location.hash = "#/" + page + (q ? "?" + q : "");
  }
  function filterForm(fields, params, page) {
    const form = el("form", { class: "filters", id: "filters" });
    for (const f of fields) {
      let input;
      if (f.options) {
        input = el("select", { name: f.name }, f.options.map((o) => el("option", { value: o[0], selected: params.get(f.name) === o[0] }, o[1])));
      } else {
        input = el("input", { name: f.name, value: params.get(f.name) || "", placeholder: f.placeholder || "", size: f.size || 14 });
      }
      form.append(el("label", {}, f.label, input));
    }
    form.append(el("button", { type: "submit" }, "Filter"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = {};
      for (const [k, v] of new FormData(form).entries()) p[k] = v;
      setHash(page, p);
    });
    return form;
  }

  // Pages -------------------------------------------------------------

  async function endpointsPage() {
    const d = await api("endpoints");
    const peers = d.peers || [];
    const rows = (d.rows || []).map((r) => {
      const own = (r.ticks[r.own] || {}).tick || 0;
      return el("tr", { "data-kind": r.kind, "data-dataset": r.dataset },
        el("td", {}, r.dataset), el("td", {}, r.kind), num(r.priority),
        peers.map((p) => {
          const c = r.ticks[p];
          if (!c) return el("td", { class: "num muted" + (p === r.own ? " own" : "") }, "–");
          return el("td", { class: "num" + (p === r.own ? " own" : ""), title: `${c.url}\ntick ${c.tick} · stamp ${fmtTime(c.stamp)} · priority ${c.priority}` }, fmtNum(c.tick));
        }));
    });
    main.replaceChildren(
      el("h2", {}, "Endpoints and digests"),
      el("p", { class: "muted" }, "Each row is a resource kind of a dataset of this provider; each column a peer (a dataset URL) its digest knows; each cell the first tick not yet held of that peer's endpoint for the kind. Highlighted: this provider's own endpoints."),
      el("div", { class: "matrix" }, table(["Dataset", "Kind", el("th", { class: "num" }, "Priority"),
        peers.map((p) => el("th", { class: "peer num" + ((d.own || []).includes(p) ? " own" : ""), title: p }, shortPeer(p)))], rows, { id: "endpoints" })));
  }
  function shortPeer(p) {
    try {
      const u = new URL(p);
      const parts = u.pathname.split("/").filter(Boolean);
      return u.host + " · " + parts.slice(-1)[0];
    } catch (e) { return p; }
  }

  async function runsPage(params) {
    const offset = Number(params.get("offset") || 0);
    const q = { runName: params.get("runName"), runStamp: params.get("runStamp"), kind: params.get("kind"), status: params.get("status"),
      since: params.get("since"), until: params.get("until"), offset, limit: 50 };
    const d = await api("runs?" + qs(q));
    const rows = d.runs.map((r) => el("tr", { "data-run": r.runName + "|" + r.runStamp },
      el("td", {}, runLink(r)), el("td", {}, fmtTime(r.last)), num(fmtNum(r.seconds, 2)), num(r.kinds), num(fmtNum(r.pages)),
      num(fmtNum(r.entries), "entries"), num(fmtNum(r.applied)), num(fmtNum(r.skipped)), num(fmtNum(r.conflicts), r.conflicts ? "warn" : ""),
      num(fmtNum(r.sent)), num(fmtNum(r.errors), r.errors ? "bad" : "ok"), num(fmtNum(r.entriesPerSecond, 1))));
    main.replaceChildren(
      el("h2", {}, "Passes and runs"),
      filterForm([{ name: "runName", label: "runName" }, { name: "runStamp", label: "runStamp" }, { name: "kind", label: "Kind", size: 16 },
        { name: "status", label: "Status", options: [["", "any"], ["ok", "no error"], ["failed", "with errors"], ["conflicts", "with conflicts"]] },
        { name: "since", label: "Since", placeholder: "2026-11-22" }, { name: "until", label: "Until", placeholder: "2026-11-23T10:00" }], params, "runs"),
      el("p", { class: "muted", id: "runs-total" }, `${fmtNum(d.total)} runs`),
      table(["Run", "Last record", el("th", { class: "num" }, "Seconds"), el("th", { class: "num" }, "Kinds"), el("th", { class: "num" }, "Pages"),
        el("th", { class: "num" }, "Entries in"), el("th", { class: "num" }, "Applied"), el("th", { class: "num" }, "Skipped"), el("th", { class: "num" }, "Conflicts"),
        el("th", { class: "num" }, "Entries out"), el("th", { class: "num" }, "Errors"), el("th", { class: "num" }, "Entries/s")], rows, { id: "runs" }),
      pager(d.total, offset, d.limit, (o) => { const p = Object.fromEntries(params); p.offset = o; setHash("runs", p); }));
  }

  async function runPage(params) {
    const offset = Number(params.get("offset") || 0);
    const d = await api("run?" + qs({ runName: params.get("runName"), runStamp: params.get("runStamp"), offset, limit: 50 }));
    const r = d.run;
    const total = r.applied + r.skipped + r.conflicts + r.invalid;
    const bars = [["Applied", r.applied, "c2"], ["Skipped", r.skipped, "c7"], ["Conflicts", r.conflicts, "c3"], ["Invalid", r.invalid, "c1"]];
    const w = 480;
    let x = 0;
    const stack = svg("svg", { width: w, height: 22, class: "chart", role: "img", "aria-label": "entries by status" },
      bars.map(([label, n, cls]) => {
        const bw = total ? (n / total) * w : 0;
        const rect = svg("rect", { x, y: 0, width: bw, height: 22, class: cls }, svg("title", {}, `${label}: ${n}`));
        x += bw;
        return rect;
      }));
    main.replaceChildren(
      el("h2", {}, "Run ", r.runName, " ", el("span", { class: "muted" }, r.runStamp)),
      el("dl", { class: "summary", id: "run-summary" },
        el("dt", {}, "First record"), el("dd", {}, fmtTime(r.first)),
        el("dt", {}, "Last record"), el("dd", {}, fmtTime(r.last)),
        el("dt", {}, "Duration"), el("dd", {}, fmtNum(r.seconds, 2), " s (", fmtNum(r.workSeconds, 2), " s selecting and applying)"),
        el("dt", {}, "Pages applied"), el("dd", { id: "run-pages" }, fmtNum(r.pages)),
        el("dt", {}, "Entries in"), el("dd", { id: "run-entries" }, fmtNum(r.entries)),
        el("dt", {}, "Entries selected / sent"), el("dd", {}, fmtNum(r.selected), " / ", fmtNum(r.sent)),
        el("dt", {}, "Errors"), el("dd", { class: r.errors ? "bad" : "ok", id: "run-errors" }, fmtNum(r.errors)),
        el("dt", {}, "Entries by status"), el("dd", {}, stack, el("div", { class: "legend" }, bars.map(([l, n, c]) => el("span", {}, el("i", { class: c }), `${l} ${fmtNum(n)}`))))),
      el("h3", {}, "By dataset and kind"),
      table(["Dataset", "Kind", el("th", { class: "num" }, "Pages"), el("th", { class: "num" }, "Entries in"), el("th", { class: "num" }, "Applied"),
        el("th", { class: "num" }, "Skipped"), el("th", { class: "num" }, "Conflicts"), el("th", { class: "num" }, "Selected"), el("th", { class: "num" }, "Sent"),
        el("th", { class: "num" }, "Errors"), el("th", { class: "num" }, "Seconds")],
      d.kinds.map((k) => el("tr", {}, el("td", {}, k.dataset), el("td", {}, k.kind), num(k.pages), num(k.entries), num(k.applied), num(k.skipped),
        num(k.conflicts), num(k.selected), num(k.sent), num(k.errors), num(fmtNum(k.seconds, 2))))),
      el("h3", {}, "Errors"),
      d.errors.length ? table(["Time", "Kind", "Operation", "Status", "Detail"], d.errors.map((e) => el("tr", {}, el("td", {}, fmtTime(e.time)),
        el("td", {}, e.kind), el("td", {}, e.operation), num(e.status, "bad"), el("td", {}, el("pre", {}, e.detail))))) : el("p", { class: "ok" }, "No error."),
      el("h3", {}, "Pages applied here"),
      table(["Time", "Kind", "Tracking ID", el("th", { class: "num" }, "Entries"), el("th", { class: "num" }, "Seconds"), "Outcomes"],
        d.pages.map((p) => el("tr", {}, el("td", {}, fmtTime(p.time)), el("td", {}, p.kind), el("td", {}, p.trackingID), num(p.count),
          num(fmtNum(p.seconds, 3)), el("td", {}, p.detail))), { id: "run-page-list" }),
      pager(d.pagesTotal, offset, d.limit, (o) => { const p = Object.fromEntries(params); p.offset = o; setHash("run", p); }));
  }

  async function jobsPage() {
    const box = el("div", { id: "live" }, el("p", { class: "muted" }, "Loading…"));
    main.replaceChildren(el("h2", {}, "Live jobs ", el("span", { class: "muted", id: "live-clock" })), box);
    async function tick() {
      let d;
      try { d = await api("jobs"); } catch (e) { box.replaceChildren(message(e.message, true)); return; }
      document.getElementById("live-clock")?.replaceChildren(document.createTextNode("updated " + fmtTime(d.now)));
      const act = d.active.map((a) => {
        const bar = el("div", { class: "bar" }, el("div", {}));
        if (a.progress >= 0) bar.firstChild.style.width = (a.progress * 100).toFixed(1) + "%";
        return el("tr", { "data-run": a.runName + "|" + a.runStamp },
          el("td", {}, runLink(a)), num(fmtNum(a.pages), "pages"), num(fmtNum(a.entries), "entries"), num(fmtNum(a.conflicts)),
          num(fmtNum(a.sent) + (a.selected ? " / " + fmtNum(a.selected) : ""), "sent"),
          el("td", {}, a.progress >= 0 ? bar : el("span", { class: "muted" }, "target side")), num(fmtNum(a.entriesPerSecond, 1)),
          num(fmtNum(a.idleSeconds, 0) + " s ago"));
      });
      box.replaceChildren(
        el("p", {}, "Jobs running in this process: ", el("strong", { id: "running-count" }, d.running)),
        el("h3", {}, "Runs active in the last two minutes"),
        act.length ? table(["Run", el("th", { class: "num" }, "Pages in"), el("th", { class: "num" }, "Entries in"), el("th", { class: "num" }, "Conflicts"),
          el("th", { class: "num" }, "Sent / selected"), "Progress", el("th", { class: "num" }, "Entries/s"), el("th", { class: "num" }, "Last record")], act, { id: "active-runs" })
          : el("p", { class: "muted", id: "no-active" }, "No run is active."),
        el("h3", {}, "Jobs held by the store"),
        d.jobs.length ? table(["Type", "Dataset", "Kind", "Tracking ID", "Status", "Run", el("th", { class: "num" }, "Entries"), el("th", { class: "num" }, "Age")],
          d.jobs.map((j) => el("tr", {}, el("td", {}, j.type), el("td", {}, j.dataset), el("td", {}, j.kind), el("td", {}, j.trackingID),
            el("td", { class: j.status === "failed" ? "bad" : j.status === "running" ? "warn" : "" }, j.status), el("td", {}, j.runName, " ", el("span", { class: "muted" }, j.runStamp)),
            num(fmtNum(j.total)), num(fmtNum(j.ageSeconds, 0) + " s"))), { id: "jobs" }) : el("p", { class: "muted" }, "No job."));
    }
    await tick();
    timer = setInterval(tick, 1000);
  }

  async function conflictsPage(params) {
    const offset = Number(params.get("offset") || 0);
    const d = await api("conflicts?" + qs({ kind: params.get("kind"), dataset: params.get("dataset"), runName: params.get("runName"),
      since: params.get("since"), until: params.get("until"), offset, limit: 50 }));
    const rows = d.conflicts.map((c) => {
      const x = c.detail || {};
      return el("tr", { "data-conflict": c.id },
        el("td", {}, el("a", { href: "#/conflict?id=" + c.id }, "#" + c.id)), el("td", {}, fmtTime(c.time)), el("td", {}, c.dataset), el("td", {}, c.kind),
        el("td", {}, x.key || x.uuid || ""), el("td", {}, (x.winnerVersion || {}).title || ""), el("td", {}, (x.loserVersion || {}).title || ""),
        el("td", {}, x.winner || ""), el("td", {}, x.rule || ""), el("td", {}, c.runName));
    });
    main.replaceChildren(
      el("h2", {}, "Conflicts"),
      filterForm([{ name: "kind", label: "Kind", size: 16 }, { name: "dataset", label: "Dataset", size: 8 }, { name: "runName", label: "runName" },
        { name: "since", label: "Since", placeholder: "2026-11-22" }, { name: "until", label: "Until" }], params, "conflicts"),
      el("p", { class: "muted", id: "conflicts-total" }, `${fmtNum(d.total)} conflicts`),
      table(["#", "Time", "Dataset", "Kind", "Key", "Winner's title", "Loser's title", "Winner", "Rule", "Run"], rows, { id: "conflicts" }),
      pager(d.total, offset, d.limit, (o) => { const p = Object.fromEntries(params); p.offset = o; setHash("conflicts", p); }));
  }

  const ruleText = { priority: "the lower conflict priority wins", stamp: "equal priorities: the later stamp wins", endpoint: "equal priorities and stamps: the smaller endpoint URL wins" };

  async function conflictPage(params) {
    const id = params.get("id");
    const d = await api("conflicts('" + encodeURIComponent(id) + "')");
    const c = d.conflict, x = c.detail || {};
    const won = x.winnerVersion || {}, lost = x.loserVersion || {};
    const fields = d.fields || [];
    const restoreBtn = el("button", { type: "button", id: "restore" }, "Restore the losing version");
    const status = el("div", { id: "restore-status" });
    restoreBtn.addEventListener("click", async () => {
      restoreBtn.disabled = true;
      try {
        const r = await api("datasets/" + encodeURIComponent(c.dataset) + "/conflicts('" + c.id + "')/restore",
          { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: "{}" });
        status.replaceChildren(message(`Restored by ${r.by}: ${c.kind}('${r.key}') now has ETag ${r.etag}.`));
        setTimeout(render, 600);
      } catch (e) {
        status.replaceChildren(message(e.message, true));
        restoreBtn.disabled = false;
      }
    });
    const state = (s) => s ? `${s.Endpoint} tick ${s.Tick} · ${fmtTime(s.Stamp)}` + (s.User ? ` · by ${s.User}` : "") : "";
    main.replaceChildren(
      el("h2", {}, `Conflict #${c.id} · ${c.kind}('${x.key || ""}')`),
      el("dl", { class: "summary" },
        el("dt", {}, "When"), el("dd", {}, fmtTime(c.time), " in run ", runLink(c)),
        el("dt", {}, "Resource"), el("dd", {}, c.dataset, " / ", c.kind, " key ", x.key || "", " · uuid ", x.uuid || ""),
        el("dt", {}, "Winner"), el("dd", { id: "winner" }, x.winner === "target" ? "this provider's version (target)" : "the incoming version (source)"),
        el("dt", {}, "Rule"), el("dd", { id: "rule" }, x.rule || "", x.rule ? " — " + (ruleText[x.rule] || "") : ""),
        el("dt", {}, "Winner's state"), el("dd", {}, state(won.state)),
        el("dt", {}, "Loser's state"), el("dd", { id: "loser-state" }, state(lost.state))),
      el("h3", {}, "The two versions, field by field"),
      fields.length ? table(["Field", "Winner" + (won.deleted ? " (deleted)" : ""), "Loser" + (lost.deleted ? " (deleted)" : "")],
        fields.map((f) => el("tr", { class: f.differs ? "differs" : "" }, el("td", { class: "path" }, f.path),
          el("td", { class: "winner" }, f.inWinner ? f.winner : el("span", { class: "muted" }, "absent")),
          el("td", { class: "loser" }, f.inLoser ? f.loser : el("span", { class: "muted" }, "absent")))), { id: "diff" })
        : message("This conflict was recorded without its two versions (before the provider kept them)."),
      el("div", { class: "side" }, el("div", {}, el("h3", {}, "Winner (stored form)"), el("pre", {}, won.payload || "")),
        el("div", {}, el("h3", {}, "Loser (stored form)"), el("pre", {}, lost.payload || ""))),
      el("h3", {}, "Now"),
      d.current ? el("p", { id: "current" }, `${c.kind}('${d.current.key}') · ETag ${d.current.etag} · `, d.current.title, d.current.deleted ? " (deleted)" : "") : el("p", { class: "muted" }, "The resource is not here any more."),
      lost.payload !== undefined && d.current ? el("p", {}, restoreBtn, " ", el("span", { class: "muted" }, "A new local write carrying the loser's content; it synchronizes like any edit and is audited with your name. Needs the writer role.")) : null,
      status,
      el("h3", {}, "Restores"),
      d.restores.length ? table(["Time", "By", "Detail"], d.restores.map((r) => el("tr", {}, el("td", {}, fmtTime(r.time)), el("td", {}, (safeJSON(r.detail).by) || ""), el("td", {}, r.detail))), { id: "restores" })
        : el("p", { class: "muted", id: "no-restores" }, "Not restored."));
  }
  function safeJSON(s) { try { return JSON.parse(s) || {}; } catch (e) { return {}; } }

  async function chartsPage() {
    const d = await api("charts");
    main.replaceChildren(el("h2", {}, "Charts"),
      el("h3", {}, "Throughput of the last runs (entries per second)"), throughputChart(d.throughput),
      el("h3", {}, `Conflicts per kind per day (last ${d.days} days)`), conflictsChart(d.conflicts, d.since, d.days));
  }
  function throughputChart(runs) {
    if (!runs.length) return el("p", { class: "muted" }, "No run yet.");
    const W = 760, H = 220, L = 50, B = 40, T = 10;
    const maxY = Math.max(1, ...runs.map((r) => r.entriesPerSecond));
    const times = runs.map((r) => Date.parse(r.last));
    const t0 = Math.min(...times), t1 = Math.max(...times);
    const xOf = (t) => L + (t1 === t0 ? (W - L - 10) / 2 : ((t - t0) / (t1 - t0)) * (W - L - 10));
    const yOf = (v) => H - B - (v / maxY) * (H - B - T);
    const pts = runs.map((r, i) => [xOf(times[i]), yOf(r.entriesPerSecond)]);
    return svg("svg", { width: W, height: H, class: "chart", id: "throughput-chart", role: "img", "aria-label": "throughput of the last runs" },
      svg("line", { x1: L, y1: H - B, x2: W - 5, y2: H - B, class: "axis" }), svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
      svg("text", { x: 4, y: T + 10 }, fmtNum(maxY, 0)), svg("text", { x: 4, y: H - B }, "0"),
      svg("text", { x: L, y: H - 20 }, fmtTime(new Date(t0).toISOString())), svg("text", { x: W - 170, y: H - 20 }, fmtTime(new Date(t1).toISOString())),
      svg("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: "line" }),
      runs.map((r, i) => svg("circle", { cx: pts[i][0], cy: pts[i][1], r: 4, class: "dot" },
        svg("title", {}, `${r.runName} ${r.runStamp}: ${fmtNum(r.entriesPerSecond, 1)} entries/s, ${r.entries + r.sent} entries`))));
  }
  function conflictsChart(rows, since, days) {
    if (!rows.length) return el("p", { class: "muted", id: "no-conflicts-chart" }, "No conflict in these days.");
    const kinds = [...new Set(rows.map((r) => r.kind))].sort();
    const dayList = [];
    const start = new Date(since + "T00:00:00Z");
    for (let i = 0; i < days; i++) dayList.push(new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10));
    const by = {};
    for (const r of rows) (by[r.day] = by[r.day] || {})[r.kind] = r.count;
    const W = 760, H = 220, L = 40, B = 30, T = 10;
    const maxY = Math.max(1, ...dayList.map((d) => kinds.reduce((s, k) => s + ((by[d] || {})[k] || 0), 0)));
    const bw = (W - L - 10) / dayList.length;
    const bars = [];
    dayList.forEach((d, i) => {
      let y = H - B;
      kinds.forEach((k, ki) => {
        const n = (by[d] || {})[k] || 0;
        if (!n) return;
        const h = (n / maxY) * (H - B - T);
        y -= h;
        bars.push(svg("rect", { x: L + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, class: "c" + (ki % 8), "data-day": d, "data-kind": k },
          svg("title", {}, `${d} · ${k}: ${n}`)));
      });
    });
    return el("div", {}, svg("svg", { width: W, height: H, class: "chart", id: "conflicts-chart", role: "img", "aria-label": "conflicts per kind per day" },
      svg("line", { x1: L, y1: H - B, x2: W - 5, y2: H - B, class: "axis" }), svg("text", { x: 4, y: T + 10 }, fmtNum(maxY)),
      svg("text", { x: L, y: H - 10 }, dayList[0]), svg("text", { x: W - 80, y: H - 10 }, dayList[dayList.length - 1]), bars),
      el("div", { class: "legend" }, kinds.map((k, ki) => el("span", {}, el("i", { class: "c" + (ki % 8) }), k))));
  }

  async function registryPage(params) {
    const offset = Number(params.get("offset") || 0);
    const d = await api("registry?" + qs({ offset, limit: 50 }));
    main.replaceChildren(el("h2", {}, "Registry"),
      el("p", { class: "muted" }, "Endpoints registered by applications (this provider's own are on the Endpoints page)."),
      d.endpoints.length ? table(["Key", "Title", "URL", "Type", "Conflict priority", "Updated"], d.endpoints.map((e) => el("tr", {},
        el("td", {}, e.key), el("td", {}, e.title), el("td", {}, e.url), el("td", {}, e.props.endpointType || ""),
        num(e.props.conflictPriority || ""), el("td", {}, fmtTime(e.updated)))), { id: "registry" })
        : el("p", { class: "muted", id: "registry-empty" }, "No endpoint registered."),
      pager(d.total, offset, d.limit, (o) => setHash("registry", { offset: o })));
  }

  // devicesPage: the mobile sync components, then the device registry,
  // newest sync first, paged by cursor (after) and filtered.
  async function devicesPage(params) {
    const after = params.get("after") || "";
    const filter = { alias: params.get("alias"), user: params.get("user"), device: params.get("device") };
    const [c, d] = await Promise.all([api("components"), api("devices?" + qs(Object.assign({ after, limit: 50 }, filter)))]);
    const title = el("h2", {}, "Devices and mobile sync components");
    if (!c.available || !d.available) { main.replaceChildren(title, message(c.message || d.message)); return; }
    const comps = c.components.map((m) => el("tr", { "data-component": m.alias },
      el("td", {}, el("a", { href: "#/devices?" + qs({ alias: m.alias }) }, m.alias)), el("td", {}, m.dataset), el("td", {}, m.kind),
      el("td", { class: m.state === "enabled" ? "ok" : "warn" }, m.state),
      el("td", {}, m.conflictRule, m.mergeFallback ? el("span", { class: "muted" }, " (else " + m.mergeFallback + ")") : null),
      el("td", {}, m.rowIdentifiers.join(", ")), el("td", {}, m.filterKeys.join(", ") || el("span", { class: "muted" }, "none")),
      el("td", {}, m.storeBusinessData ? "yes" : "no"),
      el("td", {}, m.apps.map((a) => a.name + " " + a.versions.join(", ")).join("; "))));
    const statusClass = { ok: "ok", refused: "warn", failed: "bad" };
    const devs = d.devices.map((x) => el("tr", { "data-device": x.device, "data-component": x.component },
      el("td", {}, x.device), el("td", {}, x.component), el("td", {}, x.user), el("td", {}, x.app, " ", el("span", { class: "muted" }, x.appVersion)),
      el("td", {}, fmtTime(x.lastSync)), el("td", { class: statusClass[x.status] || "", title: "statusCode " + x.lastStatus }, x.status),
      num(fmtNum(x.versionHeld), "version"), num(fmtNum(x.syncs), "syncs"), el("td", {}, fmtTime(x.firstSync))));
    const first = el("button", { class: "secondary", type: "button", disabled: !after }, "← Newest");
    const next = el("button", { class: "secondary", type: "button", disabled: !d.next, id: "devices-next" }, "Older →");
    first.addEventListener("click", () => setHash("devices", filter));
    next.addEventListener("click", () => setHash("devices", Object.assign({ after: d.next }, filter)));
    main.replaceChildren(title,
      el("h3", {}, "Mobile sync components"),
      comps.length ? table(["Alias", "Dataset", "Kind", "State", "Conflict rule", "Row identifiers", "Filter keys", "Stores business data", "Allowed apps"],
        comps, { id: "components" }) : el("p", { class: "muted", id: "no-components" }, "No mobile sync component."),
      el("h3", {}, "Device registry"),
      el("p", { class: "muted" }, "A row per device and component, the latest sync first. Version held: the change sequence number of the version the device last proved it holds."),
      filterForm([{ name: "alias", label: "Component" }, { name: "user", label: "User" }, { name: "device", label: "Device" }], params, "devices"),
      devs.length ? table(["Device", "Component", "User", "App and version", "Last sync", "Status", el("th", { class: "num" }, "Version held"),
        el("th", { class: "num" }, "Syncs"), "First sync"], devs, { id: "devices" }) : el("p", { class: "muted", id: "no-devices" }, "No device has synced."),
      el("div", { class: "pager" }, first, next));
  }

  const pages = { endpoints: endpointsPage, runs: runsPage, run: runPage, jobs: jobsPage, conflicts: conflictsPage, conflict: conflictPage,
    charts: chartsPage, registry: registryPage, devices: devicesPage };

  async function render() {
    if (timer) { clearInterval(timer); timer = null; }
    const { page, params } = hashParams();
    const nav = { run: "runs", conflict: "conflicts" }[page] || page;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === nav);
    const fn = pages[page];
    document.body.dataset.page = page;
    document.body.dataset.ready = "";
    if (!fn) { main.replaceChildren(message("No such page: " + page, true)); return; }
    try {
      await fn(params);
    } catch (e) {
      main.replaceChildren(message(e.message, true));
    }
    document.body.dataset.ready = page;
  }
  window.addEventListener("hashchange", render);
  render();
})();
