// app.js: the views of `backprop ui`, drawn from the JSON endpoints
// (/api/..., cli/ui_api.c) with Chart.js (Debian's libjs-chart.js).
//
// Everything read from the run log is put in the page as text (el() sets
// textContent, never HTML), so a run named <script> is shown, not run. The
// page records its own errors in body[data-errors] and says when a view is
// drawn in body[data-ready], and each chart its series in
// canvas[data-series], for the browser test (tests/ui_browser.sh).
"use strict";

const errors = [];
function noteError(msg) {
  errors.push(String(msg));
  document.body.dataset.errors = errors.join(" | ");
}
// What the console would show as errors: uncaught ones, rejected promises,
// console.error, a file that failed to load (in the capture phase, where
// an element's error reaches the window), a refusal of the page's CSP.
window.addEventListener("error", (ev) => noteError(ev.message || "failed to load " +
  (ev.target && (ev.target.src || ev.target.href))), true);
window.addEventListener("unhandledrejection", (ev) => noteError(ev.reason));
window.addEventListener("securitypolicyviolation", (ev) => noteError("CSP refused " + ev.blockedURI));
const consoleError = console.error.bind(console);
console.error = (...args) => { noteError(args.join(" ")); consoleError(...args); };

// An element with attributes and children (strings become text nodes).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

// JSON from an endpoint; a failure throws its {"error"} text.
async function api(path) {
  const res = await fetch("/api/" + path, { cache: "no-store" });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), { status: res.status });
  return body;
}

// A number as the run log may send it: null (NaN), "Infinity", a number.
function num(v) { return v === null || v === undefined ? NaN : Number(v); }
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string" && !/^-?Infinity$/.test(v)) return v;
  const x = num(v);
  if (!isFinite(x)) return isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? x.toPrecision(6).replace(/\.?0+$/, "") : x.toExponential(4);
}
function when(t) { return t ? new Date(t * 1000).toLocaleString() : "–"; }
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function statusCell(s, tag) { return el(tag || "td", { class: "status-" + s }, s); }
function main() { return document.getElementById("main"); }
function show(...kids) { main().replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined)); }
function showError(e) {
  show(el("h1", {}, e.status === 404 ? "Not found" : "Error"), el("p", { class: "error" }, e.message));
  ready();
}
function ready() { document.body.dataset.ready = "1"; }

// Refreshing by itself: fn every 2 s while live() says so.
let timer = null;
function every2s(fn, live) {
  clearTimeout(timer);
  const mark = document.getElementById("live");
  mark.textContent = live ? "live: updating every 2 s" : "";
  if (live) timer = setTimeout(async () => {
    try { await fn(); } catch (e) { noteError(e.message); }
  }, 2000);
}

// ----------------------------------------------------------------------
// Charts

const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                 "#4b5563", "#db2777", "#65a30d", "#7c3aed"];

// TensorBoard's smoothing: an exponential moving average, debiased.
function smooth(ys, w) {
  if (!w) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y === null || !isFinite(y)) return y;
    last = last * w + (1 - w) * y; n++;
    return last / (1 - Math.pow(w, n));
  });
}

// A line chart of series [{label, x: [], y: []}] in canvas; drag to zoom
// into steps, double-click to zoom out; hover for values.
function lineChart(canvas, series, opts) {
  const datasets = series.map((s, k) => ({
    label: s.label,
    data: s.x.map((x, j) => ({ x, y: s.y[j] === null ? null : num(s.y[j]) })),
    borderColor: palette[k % palette.length], backgroundColor: palette[k % palette.length],
    borderWidth: 1.5, pointRadius: s.x.length < 60 ? 2 : 0, spanGaps: false,
  }));
  const chart = new Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      plugins: { legend: { display: series.length > 1 },
                 tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + fmt(c.parsed.y) } } },
      scales: { x: { type: "linear", title: { display: true, text: opts.xLabel || "step" } },
                y: { type: opts.logY ? "logarithmic" : "linear" } },
    },
  });
  canvas.dataset.series = String(datasets.length);
  canvas.dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
  dragZoom(canvas, chart);
  return chart;
}

// New points for a chart drawn already (a running run's), its zoom kept.
function updateChart(chart, series, opts) {
  series.forEach((s, k) => {
    chart.data.datasets[k].data = s.x.map((x, j) => ({ x, y: s.y[j] === null ? null : num(s.y[j]) }));
  });
  chart.options.scales.y.type = opts.logY ? "logarithmic" : "linear";
  chart.update("none");
  chart.canvas.dataset.points = String(chart.data.datasets.reduce((n, d) => n + d.data.length, 0));
}

function dragZoom(canvas, chart) {
  let from = null;
  canvas.addEventListener("mousedown", (ev) => { from = chart.scales.x.getValueForPixel(ev.offsetX); });
  canvas.addEventListener("mouseup", (ev) => {
    if (from === null) return;
    const to = chart.scales.x.getValueForPixel(ev.offsetX);
    if (Math.abs(ev.offsetX - chart.scales.x.getPixelForValue(from)) > 5) {
      chart.options.scales.x.min = Math.min(from, to);
      chart.options.scales.x.max = Math.max(from, to);
      chart.update();
    }
    from = null;
  });
  canvas.addEventListener("dblclick", () => {
    delete chart.options.scales.x.min; delete chart.options.scales.x.max; chart.update();
  });
}

// The chart options every metric view offers: log axis, smoothing, and the
// x axis: the step (or the epoch, for a metric logged per epoch), or the
// wall time since the run began (retime: the charts are drawn anew).
function chartControls(state, redraw, retime) {
  return el("div", { class: "controls" },
    el("label", {}, el("input", { type: "checkbox", id: "logy", checked: state.logY,
      on: { change: (e) => { state.logY = e.target.checked; redraw(); } } }), " log y axis"),
    el("label", {}, "smoothing ", el("input", { type: "range", min: 0, max: 0.99, step: 0.01,
      value: state.smooth, id: "smooth",
      on: { input: (e) => { state.smooth = Number(e.target.value); redraw(); } } })),
    el("label", {}, "x axis ", el("select", { id: "xaxis", on: { change: (e) => { state.x = e.target.value; retime(); } } },
      el("option", { value: "step", selected: state.x === "step" }, "step"),
      el("option", { value: "time", selected: state.x === "time" }, "wall time"))),
    el("span", { class: "muted" }, "drag to zoom, double-click to reset"));
}

// A metric's points for a chart, on the x axis state.x asks for: its x
// (steps or times), y (smoothed), the axis' label, and whether its times
// are estimated (a run recorded before times were kept).
async function metricSeries(id, name, state) {
  const s = await api(`run/${id}/metric?name=${encodeURIComponent(name)}&points=2000&x=${state.x}`);
  const time = state.x === "time";
  return { s, x: time ? s.t : s.x, estimated: time && s.t_estimated,
           label: time ? "wall time since the run began (s)" : s.unit,
           y: smooth(s.y.map(num).map((v) => isNaN(v) ? null : v), state.smooth) };
}
const ESTIMATED = "times estimated at a steady pace from the run's start and end (recorded before times were kept)";

// ----------------------------------------------------------------------
// Runs

const RUN_COLUMNS = [["id", "id"], ["name", "name"], ["status", "status"]];
const RUN_FIGURES = [["final_loss", "final loss"], ["best_loss", "best loss"],
                     ["steps", "last step"], ["duration_s", "duration"], ["started", "started"]];
const STATUSES = ["", "running", "completed", "failed", "interrupted", "diverged", "crashed", "pruned"];

async function viewRuns() {
  const q = new URLSearchParams(location.search);
  const st = { status: q.get("status") || "", name: q.get("name") || "", filter: q.get("filter") || "",
               sort: q.get("sort") || "id", desc: q.get("desc") !== "0", offset: Number(q.get("offset") || 0),
               limit: 50, chosen: new Set() };
  const table = el("div", { class: "scroll" });
  const info = el("span", { class: "muted" });
  const go = () => {
    const p = new URLSearchParams({ status: st.status, name: st.name, filter: st.filter, sort: st.sort,
                                    desc: st.desc ? "1" : "0", offset: st.offset });
    history.replaceState(null, "", "/runs?" + p);
    return load();
  };
  const load = async () => {
    const p = new URLSearchParams({ status: st.status, name: st.name, filter: st.filter, sort: st.sort,
                                    desc: st.desc ? "1" : "0", offset: st.offset, limit: st.limit });
    let d;
    try { d = await api("runs?" + p); } catch (e) {
      table.replaceChildren(el("p", { class: "error", id: "runs-error" }, e.message)); ready(); return;
    }
    table.replaceChildren(runsTable(d, st, go));
    const last = Math.min(st.offset + d.runs.length, d.total);
    info.textContent = d.total ? `runs ${st.offset + 1}–${last} of ${d.total}` : "no runs";
    document.getElementById("prev").disabled = st.offset === 0;
    document.getElementById("next").disabled = last >= d.total;
    ready();
    every2s(load, d.runs.some((r) => r.status === "running"));
  };
  const input = (id, key, ph) => el("input", { type: "text", id, value: st[key], placeholder: ph,
    on: { change: (e) => { st[key] = e.target.value; st.offset = 0; go(); } } });
  show(el("h1", {}, "Runs"),
    el("div", { class: "controls" },
      el("label", {}, "status ", el("select", { id: "status", on: { change: (e) => { st.status = e.target.value; st.offset = 0; go(); } } },
        STATUSES.map((s) => el("option", { value: s, selected: s === st.status }, s || "any")))),
      input("name", "name", "name contains"), input("filter", "filter", "lr < 0.05, hidden = 4"),
      el("button", { id: "prev", on: { click: () => { st.offset = Math.max(0, st.offset - st.limit); go(); } } }, "‹ newer"),
      el("button", { id: "next", on: { click: () => { st.offset += st.limit; go(); } } }, "older ›"),
      info,
      el("button", { id: "compare", on: { click: () => {
        if (st.chosen.size) location.href = "/compare?runs=" + [...st.chosen].join(",");
      } } }, "compare chosen")),
    table);
  await load();
}

function runsTable(d, st, go) {
  const head = (key, label) => el("th", {
    class: "sortable" + (st.sort === key ? " sorted" + (st.desc ? " desc" : "") : ""),
    on: { click: () => { st.desc = st.sort === key ? !st.desc : key === "id"; st.sort = key; st.offset = 0; go(); } },
  }, label);
  const cols = [...RUN_COLUMNS.map(([k, l]) => head(k, l)), ...d.keys.map((k) => head("param:" + k, k)),
                ...RUN_FIGURES.map(([k, l]) => head(k, l))];
  const rows = d.runs.map((r) => el("tr", { class: "run" },
    el("td", {}, el("input", { type: "checkbox", checked: st.chosen.has(r.id),
      on: { change: (e) => e.target.checked ? st.chosen.add(r.id) : st.chosen.delete(r.id) } })),
    el("td", { class: "num" }, el("a", { href: "/run/" + r.id }, r.id)),
    el("td", {}, r.name), statusCell(r.status),
    d.keys.map((k) => el("td", { class: "num" }, k in r.params ? fmt(r.params[k]) : "")),
    el("td", { class: "num" }, r.final_nan ? "nan" : fmt(r.final_loss)),
    el("td", { class: "num" }, fmt(r.best_loss)), el("td", { class: "num" }, fmt(r.steps)),
    el("td", { class: "num" }, duration(r.duration_s)), el("td", {}, when(r.started))));
  return el("table", { id: "runs" }, el("thead", {}, el("tr", {}, el("th", {}, ""), cols)), el("tbody", {}, rows));
}

// ----------------------------------------------------------------------
// A run

function kvTable(obj, id) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return el("p", { class: "muted" }, "none");
  return el("table", { class: "kv", id }, keys.map((k) => el("tr", {}, el("td", {}, k), el("td", {}, fmt(obj[k])))));
}

async function viewRun(id) {
  const state = { logY: false, smooth: 0, x: "step", charts: {} };
  let run;
  try { run = await api("run/" + id); } catch (e) { return showError(e); }
  const grid = el("div", { class: "grid", id: "metrics" });
  const record = el("div");
  const draw = async () => {
    record.replaceChildren(runRecord(run));
    for (const m of run.metrics) {
      const ms = await metricSeries(id, m.name, state), s = ms.s;
      let card = state.charts[m.name];
      if (!card) {
        card = state.charts[m.name] = { canvas: el("canvas", { "data-metric": m.name }), note: el("span", { class: "muted" }) };
        grid.append(el("div", { class: "card" }, el("h3", {}, m.name, " ", card.note), el("div", { class: "chartbox" }, card.canvas)));
      }
      card.note.textContent = `${s.count} values${s.reduced ? ", " + s.x.length + " points shown (min/max per stretch)" : ""}` +
        (ms.estimated ? "; " + ESTIMATED : "");
      card.canvas.dataset.x = state.x;
      card.canvas.dataset.estimated = String(ms.estimated);
      const series = [{ label: m.name, x: ms.x, y: ms.y }];
      if (card.chart) updateChart(card.chart, series, { logY: state.logY }); // keeps the zoom
      else card.chart = lineChart(card.canvas, series, { logY: state.logY, xLabel: ms.label });
    }
    ready();
  };
  const retime = () => { // another x axis: the charts drawn anew, unzoomed
    for (const card of Object.values(state.charts)) if (card.chart) { card.chart.destroy(); delete card.chart; }
    return draw();
  };
  const refresh = async () => {
    run = await api("run/" + id);
    await draw();
    every2s(refresh, run.status === "running");
  };
  show(el("h1", {}, `Run ${run.id}: `, run.name), record,
       el("h2", {}, "Metrics"), chartControls(state, draw, retime), grid,
       run.snapshots.length ? el("p", {}, el("a", { href: "/weights/" + id }, "Weights of its snapshots")) : null);
  await draw();
  every2s(refresh, run.status === "running");
}

function runRecord(r) {
  const rows = [["status", r.status], ["script", r.script_path], ["command", r.command], ["seed", r.seed],
    ["started", when(r.started)], ["ended", r.ended ? when(r.ended) : "–"],
    ["host", r.host && `${r.host} (pid ${r.pid})`], ["version", r.version],
    ["sweep", r.sweep_id ? `sweep ${r.sweep_id}, trial ${r.trial}` : null]].filter(([, v]) => v !== null && v !== undefined);
  return el("div", {},
    el("table", { class: "kv", id: "record" }, rows.map(([k, v]) => el("tr", {}, el("td", {}, k),
      k === "status" ? statusCell(v) : k === "sweep" ? el("td", {}, el("a", { href: "/sweep/" + r.sweep_id }, v)) : el("td", {}, v)))),
    el("h2", {}, "Parameters"), kvTable(r.params, "params"),
    el("h2", {}, "Tags"), kvTable(r.tags, "tags"),
    el("h2", {}, "Notes"), r.notes.length ? el("ul", { id: "notes" }, r.notes.map((n) => el("li", {}, when(n.time), " — ", n.text)))
                                          : el("p", { class: "muted" }, "none"),
    r.message ? [el("h2", {}, "Error"), el("p", { class: "error", id: "message" }, r.message)] : null,
    r.traceback ? el("pre", { id: "traceback" }, r.traceback) : null);
}

// ----------------------------------------------------------------------
// Compare

async function viewCompare() {
  const ids = (new URLSearchParams(location.search).get("runs") || "").split(",").filter((s) => /^\d+$/.test(s));
  if (!ids.length) { show(el("h1", {}, "Compare"), el("p", {}, "Choose runs in the ", el("a", { href: "/runs" }, "table of runs"), ".")); return ready(); }
  let runs;
  try { runs = await Promise.all(ids.map((id) => api("run/" + id))); } catch (e) { return showError(e); }
  const state = { logY: false, smooth: 0, x: "step", charts: [] };
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const params = el("table", { id: "compare-params" },
    el("tr", {}, el("th", {}, "parameter"), runs.map((r) => el("th", {}, el("a", { href: "/run/" + r.id }, `${r.id} ${r.name}`)))),
    keys.map((k) => {
      const vals = runs.map((r) => (k in r.params ? fmt(r.params[k]) : "–"));
      return el("tr", { class: new Set(vals).size > 1 ? "diff" : "" }, el("td", {}, k), vals.map((v) => el("td", { class: "num" }, v)));
    }));
  const names = [...new Set(runs.flatMap((r) => r.metrics.map((m) => m.name)))].sort();
  const grid = el("div", { class: "grid", id: "metrics" });
  const draw = async () => {
    state.charts.forEach((c) => c.destroy());
    state.charts = [];
    grid.replaceChildren();
    for (const name of names) {
      const series = [], units = new Set(), estimated = [];
      for (const r of runs) {
        if (!r.metrics.some((m) => m.name === name)) continue;
        const ms = await metricSeries(r.id, name, state);
        units.add(ms.label);
        if (ms.estimated) estimated.push(r.id);
        series.push({ label: `${r.id} ${r.name}`, x: ms.x, y: ms.y });
      }
      const canvas = el("canvas", { "data-metric": name, "data-x": state.x, "data-estimated": String(estimated.length > 0) });
      grid.append(el("div", { class: "card" }, el("h3", {}, name, " ", el("span", { class: "muted" },
        estimated.length ? `run ${estimated.join(", ")}: ${ESTIMATED}` : "")), el("div", { class: "chartbox" }, canvas)));
      state.charts.push(lineChart(canvas, series, { logY: state.logY, xLabel: [...units].sort().reverse().join(" / ") }));
    }
    ready();
  };
  show(el("h1", {}, "Compare runs ", ids.join(", ")), el("h2", {}, "Parameters (differences marked)"), params,
       el("h2", {}, "Metrics"), chartControls(state, draw, draw), grid);
  await draw();
}

// ----------------------------------------------------------------------
// Sweeps

async function viewSweeps() {
  let d;
  try { d = await api("sweeps"); } catch (e) { return showError(e); }
  show(el("h1", {}, "Sweeps"), d.length ? el("table", { id: "sweeps" },
    el("tr", {}, ["id", "name", "status", "strategy", "trials", "objective", "started"].map((h) => el("th", {}, h))),
    d.map((s) => el("tr", { class: "sweep" }, el("td", { class: "num" }, el("a", { href: "/sweep/" + s.id }, s.id)),
      el("td", {}, s.name), statusCell(s.status), el("td", {}, s.strategy), el("td", { class: "num" }, s.planned),
      el("td", {}, `${s.objective} (${s.direction})`), el("td", {}, when(s.started)))))
    : el("p", { class: "muted" }, "no sweeps"));
  ready();
}

async function viewSweep(id) {
  let s;
  try { s = await api("sweep/" + id); } catch (e) { return showError(e); }
  const ranked = s.trials.filter((t) => t.status === "completed" && t.objective !== null);
  const others = s.trials.filter((t) => !ranked.includes(t));
  const trialRows = (ts, best) => ts.map((t, k) => el("tr", { class: "trial" + (best && k === 0 ? " best" : "") },
    el("td", {}, best && k === 0 ? "★ " : "", t.trial), el("td", {}, el("a", { href: "/run/" + t.run }, t.run)), statusCell(t.status),
    s.keys.map((key) => el("td", { class: "num" }, fmt(t.params[key]))), el("td", { class: "num" }, fmt(t.objective))));
  const head = el("tr", {}, ["trial", "run", "status", ...s.keys, s.objective].map((h) => el("th", {}, h)));
  const grid = el("div", { class: "grid", id: "sweep-charts" });
  show(el("h1", {}, `Sweep ${s.id}: `, s.name),
    el("p", {}, `${s.strategy}, ${s.planned} trials, ${s.objective} (${s.direction}), `, statusCell(s.status, "span"), ": ", s.spec),
    el("h2", {}, "Trials ranked by the objective"), el("table", { id: "trials" }, head, trialRows(ranked, true)),
    others.length ? [el("h2", {}, "Pruned, failed and unfinished trials"), el("table", { id: "other-trials" }, head.cloneNode(true), trialRows(others, false))] : null,
    el("h2", {}, "The objective against each parameter"), grid);
  for (const key of s.keys) {
    const canvas = el("canvas", { "data-param": key });
    grid.append(el("div", { class: "card" }, el("h3", {}, key), el("div", { class: "chartbox" }, canvas)));
    const pts = ranked.map((t) => ({ x: num(t.params[key]), y: num(t.objective) })).filter((p) => isFinite(p.x));
    const c = new Chart(canvas, { type: "scatter", data: { datasets: [
      { label: "trials", data: pts.slice(1), backgroundColor: palette[0] },
      { label: "best", data: pts.slice(0, 1), backgroundColor: palette[1], pointRadius: 7 }] },
      options: { animation: false, maintainAspectRatio: false, scales: { x: { title: { display: true, text: key } }, y: { title: { display: true, text: s.objective } } } } });
    canvas.dataset.series = String(c.data.datasets.length);
  }
  grid.append(parallel(s, ranked));
  ready();
}

// Parallel coordinates: an axis per parameter and the objective, each
// scaled to [0, 1]; a line per ranked trial, the best drawn thick.
function parallel(s, ranked) {
  const axes = [...s.keys, s.objective];
  const value = (t, a) => num(a === s.objective ? t.objective : t.params[a]);
  const range = axes.map((a) => { const v = ranked.map((t) => value(t, a)).filter(isFinite); return [Math.min(...v), Math.max(...v)]; });
  const canvas = el("canvas", { id: "parallel" });
  const card = el("div", { class: "card" }, el("h3", {}, "Parallel coordinates (each axis from its least to its greatest value)"), el("div", { class: "chartbox" }, canvas));
  const c = new Chart(canvas, { type: "line", data: { labels: axes, datasets: ranked.map((t, k) => ({
    label: "trial " + t.trial, data: axes.map((a, j) => { const [lo, hi] = range[j]; const v = value(t, a); return hi > lo ? (v - lo) / (hi - lo) : 0.5; }),
    borderColor: k === 0 ? palette[1] : "rgba(37,99,235,0.35)", borderWidth: k === 0 ? 3 : 1, pointRadius: 2 })) },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 1 } } } });
  canvas.dataset.series = String(c.data.datasets.length);
  return card;
}

// ----------------------------------------------------------------------
// Weights

async function viewWeights(id) {
  const name = new URLSearchParams(location.search).get("name") || "net";
  let w;
  try { w = await api(`run/${id}/weights?name=${encodeURIComponent(name)}&steps=12&bins=30`); } catch (e) { return showError(e); }
  const grid = el("div", { class: "grid", id: "weights" });
  const hist = el("div", { class: "card" });
  const pick = el("input", { type: "number", min: 0, value: 0, id: "weight-index" });
  show(el("h1", {}, `Weights of run ${id} (`, w.name, ")"),
    el("p", { class: "muted" }, `each layer's distribution at ${w.steps.length} snapshots, light to dark by step; click a chart for one weight's history`),
    grid, el("h2", {}, "One value's history"),
    el("div", { class: "controls" }, "value number (in the flat order) ", pick,
       el("button", { on: { click: () => history1(id, name, pick.value, hist) } }, "show")), hist);
  w.layers.forEach((layer, li) => {
    const canvas = el("canvas", { "data-layer": layer.label });
    grid.append(el("div", { class: "card" }, el("h3", {}, layer.label), el("div", { class: "chartbox" }, canvas)));
    const bins = layer.counts[0] ? layer.counts[0].length : 0;
    const lo = num(layer.lo), hi = num(layer.hi), width = bins ? (hi - lo) / bins : 0;
    const c = new Chart(canvas, { type: "line", data: { datasets: layer.counts.map((cs, j) => ({
      label: "step " + w.steps[j], data: cs.map((n, b) => ({ x: lo + (b + 0.5) * width, y: n })),
      borderColor: `rgba(234,88,12,${0.15 + 0.85 * (j + 1) / layer.counts.length})`, borderWidth: 1.2, pointRadius: 0 })) },
      options: { animation: false, parsing: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
                 scales: { x: { type: "linear", title: { display: true, text: "value" } }, y: { title: { display: true, text: "count" } } } } });
    canvas.dataset.series = String(c.data.datasets.length);
    canvas.addEventListener("click", () => { pick.value = String(li); history1(id, name, li, hist); });
  });
  ready();
}

async function history1(id, name, index, card) {
  try {
    const h = await api(`run/${id}/weight?name=${encodeURIComponent(name)}&index=${Number(index)}`);
    const canvas = el("canvas", {});
    card.replaceChildren(el("h3", {}, `value ${h.index}`), el("div", { class: "chartbox" }, canvas));
    lineChart(canvas, [{ label: "value " + h.index, x: h.steps, y: h.values }], {});
  } catch (e) { card.replaceChildren(el("p", { class: "error" }, e.message)); }
}

// ----------------------------------------------------------------------
// SQL

async function readmeQueries() {
  const text = await (await fetch("/readme.md")).text();
  const out = [];
  for (const block of text.split("```sql").slice(1)) {
    const body = block.split("```")[0].trim();
    const m = body.match(/^-- name: (\S+)/);
    if (m) out.push({ name: m[1], sql: body });
  }
  return out;
}

async function viewSql() {
  const box = el("textarea", { id: "sql", spellcheck: "false" });
  box.value = new URLSearchParams(location.search).get("q") || "SELECT id, name, status, final_loss FROM run_summary ORDER BY id DESC LIMIT 20;";
  const out = el("div", { id: "sql-out" });
  const run = async () => {
    history.replaceState(null, "", "/sql?q=" + encodeURIComponent(box.value));
    out.replaceChildren(el("p", { class: "muted" }, "running…"));
    let d;
    try { d = await api("sql?q=" + encodeURIComponent(box.value)); } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return ready(); }
    out.replaceChildren(...[
      d.error ? el("p", { class: "error", id: "sql-error" }, d.error) : null,
      d.columns.length ? el("p", { class: "muted", id: "sql-count" }, `${d.count} rows` + (d.capped ? `, the first ${d.rows.length} shown` : "")) : null,
      d.columns.length ? el("div", { class: "scroll" }, el("table", { id: "sql-table" },
        el("tr", {}, d.columns.map((c) => el("th", {}, c))),
        d.rows.map((r) => el("tr", {}, r.map((v) => el("td", { class: typeof v === "number" ? "num" : "" }, fmt(v))))))) : null].filter(Boolean));
    ready();
  };
  const queries = el("div", { class: "queries", id: "queries" });
  show(el("h1", {}, "SQL"), el("p", { class: "muted" }, "read only; stopped after its time limit (5 s unless --sql-timeout says otherwise); 1000 rows shown. README's queries:"),
       queries, box, el("p", {}, el("button", { id: "run-sql", on: { click: run } }, "Run")), out);
  try {
    for (const q of await readmeQueries())
      queries.append(el("button", { on: { click: () => { box.value = q.sql; run(); } } }, q.name));
  } catch (e) { noteError(e.message); }
  await run();
}

// ----------------------------------------------------------------------

async function route() {
  const p = location.pathname;
  let m;
  if (p === "/" || p === "/runs") return viewRuns();
  if ((m = p.match(/^\/run\/(\d+)$/))) return viewRun(m[1]);
  if (p === "/compare") return viewCompare();
  if (p === "/sweeps") return viewSweeps();
  if ((m = p.match(/^\/sweep\/(\d+)$/))) return viewSweep(m[1]);
  if ((m = p.match(/^\/weights\/(\d+)$/))) return viewWeights(m[1]);
  if (p === "/sql") return viewSql();
  showError({ status: 404, message: "no such page: " + p });
}

route().catch((e) => { noteError(e.message); showError(e); });
