// smartfolio dashboard: plain JS, no dependencies, charts drawn as SVG.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const num = (x) => (x == null || x === "" ? null : Number(x));
const COLORS = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899", "#64748b", "#14b8a6"];

function fmt(x, dp) {
  const v = num(x);
  if (v == null || !isFinite(v)) return "–";
  const d = dp == null ? (Math.abs(v) >= 1000 ? 2 : Math.abs(v) >= 1 ? 4 : 8) : dp;
  return v.toLocaleString("en-US", { minimumFractionDigits: Math.min(d, 2), maximumFractionDigits: d });
}
function money(x) { return fmt(x, 2); }
function signed(x, dp) { const v = num(x); if (v == null) return "–"; return (v > 0 ? "+" : "") + fmt(v, dp == null ? 2 : dp); }
function cls(x) { const v = num(x); return v == null ? "" : v > 0 ? "pos" : v < 0 ? "neg" : ""; }
function time(ms) { if (ms == null) return "–"; return new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 16); }

// ------------------------------------------------------------------ token and API

const state = { token: localStorage.getItem("smartfolio.token") || "", status: null, route: null, timer: null, pending: false };

(function takeTokenFromHash() {
  const m = location.hash.match(/token=([0-9a-fA-F]+)/);
  if (m) {
    state.token = m[1];
    localStorage.setItem("smartfolio.token", state.token);
    history.replaceState(null, "", location.pathname + "#/");
  }
})();

function showSigned() {
  $("#signed").textContent = state.token ? "signed in" : "read only";
  $("#token").value = "";
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    return { ok: false, status: 0, error: { message: "network error: " + e } };
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) return { ok: false, status: res.status, error: (data && data.error) || { message: "HTTP " + res.status } };
  return { ok: true, status: res.status, data };
}

// Show an error next to its field inside `root` (an element with data-err="<field>"), else in
// the root's general error box.
function showError(root, err) {
  root.querySelectorAll(".err").forEach((e) => (e.textContent = ""));
  if (!err) return;
  let field = (err.field || "").toLowerCase().replace(/-/g, "_");
  let key = field.split(/[.\[]/)[0];
  if (key === "stop_loss" || key === "stop") key = "stop_loss_pct";
  if (key === "take_profit") key = "take_profit_pct";
  if (key === "investment" || key === "quote") key = "investment";
  if (key === "prices") key = "targets";
  if (key === "weight" || key.startsWith("weight of")) key = "targets";
  const box = root.querySelector('[data-err="' + key + '"]') || root.querySelector('[data-err="_"]');
  let text = err.message || "error";
  if (err.allowed && !text.includes(err.allowed)) text += " (allowed: " + err.allowed + ")";
  if (box) box.textContent = text;
}

// ------------------------------------------------------------------ charts (SVG)

function svgEl(w, h, inner) {
  return '<svg viewBox="0 0 ' + w + " " + h + '" xmlns="http://www.w3.org/2000/svg" role="img">' + inner + "</svg>";
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const span = hi - lo, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= n) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < 1e-9 * span ? 0 : v);
  return out;
}

// series: [{name, color, points: [[x, y], ...]}]; x is epoch ms.
function lineChart(series, opts) {
  opts = opts || {};
  const W = opts.width || 640, H = opts.height || 240, L = 64, R = 12, T = 10, B = 28;
  const pts = series.flatMap((s) => s.points);
  if (pts.length < 2) return '<p class="muted">Not enough data yet.</p>';
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  if (opts.yMin != null) y0 = Math.min(y0, opts.yMin);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 1; y0 -= 1; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  let g = "";
  for (const v of niceTicks(y0, y1, 5)) {
    g += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + sy(v) + '" y2="' + sy(v) + '" stroke="#e5e7eb"/>';
    g += '<text x="' + (L - 6) + '" y="' + (sy(v) + 4) + '" text-anchor="end">' + esc(opts.yFmt ? opts.yFmt(v) : fmt(v, 0)) + "</text>";
  }
  for (let i = 0; i <= 4; i++) {
    const x = x0 + ((x1 - x0) * i) / 4;
    g += '<text x="' + sx(x) + '" y="' + (H - 8) + '" text-anchor="' + (i === 0 ? "start" : i === 4 ? "end" : "middle") + '">' + esc(x1 - x0 < 5 * 86400000 ? time(x).slice(5, 16) : time(x).slice(0, 10)) + "</text>";
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    g += '<path d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="' + (s.width || 1.8) + '"' + (s.dash ? ' stroke-dasharray="5 4"' : "") + ' data-series="' + esc(s.name) + '"/>';
  }
  const legend = '<div class="legend">' + series.map((s) => "<span><i style=\"background:" + s.color + '"></i>' + esc(s.name) + "</span>").join("") + "</div>";
  return '<div class="chart">' + svgEl(W, H, g) + legend + "</div>";
}

// rows: [{asset, current, target}] in percent.
function allocationChart(rows) {
  if (!rows.length) return '<p class="muted">No holdings.</p>';
  const W = 640, rowH = 34, L = 60, R = 190, T = 8, H = T + rows.length * rowH + 22;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.current || 0, r.target || 0)));
  const sx = (v) => L + (v / max) * (W - L - R);
  let g = "";
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    g += '<text x="' + (L - 8) + '" y="' + (y + 17) + '" text-anchor="end" font-weight="600">' + esc(r.asset) + "</text>";
    g += '<rect class="bar-current" data-asset="' + esc(r.asset) + '" x="' + L + '" y="' + (y + 3) + '" width="' + Math.max(0, sx(r.current || 0) - L) + '" height="12" fill="' + COLORS[i % COLORS.length] + '"/>';
    g += '<rect class="bar-target" x="' + L + '" y="' + (y + 17) + '" width="' + Math.max(0, sx(r.target || 0) - L) + '" height="8" fill="#cbd5e1"/>';
    g += '<line x1="' + sx(r.target || 0) + '" x2="' + sx(r.target || 0) + '" y1="' + (y + 1) + '" y2="' + (y + 27) + '" stroke="#111827" stroke-width="1.5"/>';
    const dev = r.current == null ? null : r.current - r.target;
    g += '<text x="' + (W - R + 8) + '" y="' + (y + 17) + '">' + esc(fmt(r.current, 2)) + "% / " + esc(fmt(r.target, 2)) + "% " +
      '<tspan fill="' + (dev == null ? "#6b7280" : Math.abs(dev) < 1 ? "#15803d" : "#b45309") + '">(' + esc(signed(dev, 2)) + " pp)</tspan></text>";
  });
  const legend = '<div class="legend"><span><i style="background:#2563eb"></i>current</span><span><i style="background:#cbd5e1"></i>target (line)</span></div>';
  return '<div class="chart" id="allocation-chart">' + svgEl(W, H, g) + legend + "</div>";
}

// ------------------------------------------------------------------ views

function setActive() {
  $("#nav-overview").classList.toggle("active", state.route && state.route.name === "overview");
  $("#nav-create").classList.toggle("active", state.route && state.route.name === "create");
  $("#nav-templates").classList.toggle("active", state.route && state.route.name === "templates");
}

function parseRoute() {
  const h = location.hash.replace(/^#/, "") || "/";
  let m;
  if ((m = h.match(/^\/bot\/([^/]+)$/))) return { name: "bot", bot: decodeURIComponent(m[1]) };
  if (h === "/create") return { name: "create" };
  if ((m = h.match(/^\/create\/template\/([^/]+)$/))) return { name: "create", template: decodeURIComponent(m[1]) };
  if (h === "/templates") return { name: "templates" };
  return { name: "overview" };
}

async function render() {
  state.route = parseRoute();
  setActive();
  if (state.route.name === "bot") return renderBot(state.route.bot, true);
  if (state.route.name === "create") return renderCreate(state.route.template);
  if (state.route.name === "templates") return renderTemplates();
  return renderOverview();
}

/** What the node's orders do, in words: "paper", "dry run" or "live". */
function tradingWords(t) {
  return t === "dry_run" ? "dry run" : t === "live" ? "LIVE orders" : t;
}

async function loadStatus() {
  const r = await api("GET", "/api/status");
  if (r.ok) {
    state.status = r.data;
    $("#clock").textContent = r.data.market_time_ms ? time(r.data.market_time_ms) + " UTC" : "–";
    $("#trading").textContent = r.data.venue + " · " + r.data.market + " market · " + tradingWords(r.data.trading);
    $("#trading").className = "trading " + r.data.trading;
  }
  return state.status;
}

async function renderOverview() {
  const r = await api("GET", "/api/bots");
  if (state.route.name !== "overview") return;
  const v = $("#view");
  if (!r.ok) { v.innerHTML = '<p class="err">' + esc(r.error.message) + "</p>"; return; }
  const d = r.data;
  let rows = d.bots.map((b) =>
    '<tr data-bot="' + b.id + '"><td><a href="#/bot/' + b.id + '">' + esc(b.name) + "</a></td>" +
    '<td><span class="status ' + esc(b.status) + '">' + esc(b.status) + "</span>" + (b.reason ? ' <span class="muted">' + esc(b.reason) + "</span>" : "") + "</td>" +
    "<td>" + esc(b.venue) + (b.account ? ' <span class="muted">' + esc(b.account) + "</span>" : "") + "</td><td>" + esc(b.targets) + "</td><td>" + esc(b.trigger) + "</td>" +
    '<td class="num">' + money(b.value) + '</td><td class="num">' + money(b.net_invested) + '</td><td class="num ' + cls(b.pnl) + '">' + signed(b.pnl) + "</td>" +
    '<td class="num ' + cls(b.pnl) + '">' + (num(b.net_invested) ? signed((100 * num(b.pnl)) / num(b.net_invested), 2) + "%" : "–") + "</td></tr>").join("");
  if (!rows) rows = '<tr><td colspan="9" class="muted">No bot yet. <a href="#/create">Create one</a>.</td></tr>';
  const running = d.bots.filter((b) => b.status === "running").length;
  const venues = (d.by_venue || []).map((t) =>
    "<tr><td>" + esc(t.venue) + '</td><td>' + esc(t.account) + '</td><td class="num">' + t.bots + '</td><td class="num">' + money(t.value) + '</td><td class="num ' + cls(t.pnl) + '">' + signed(t.pnl) + "</td></tr>").join("");
  v.innerHTML =
    "<h1>Overview</h1>" +
    '<div class="cards">' +
    card("Total value", money(d.total_value) + " " + esc(d.quote), "total-value") +
    card("Total P&amp;L", '<span class="' + cls(d.total_pnl) + '">' + signed(d.total_pnl) + "</span>", "total-pnl") +
    card("Bots", d.bots.length + ' <span class="muted">(' + running + " running)</span>", "bot-count") +
    "</div>" +
    (venues ? '<h2>By venue</h2><div class="panel"><table id="by-venue"><thead><tr><th>Venue</th><th>Account</th><th class="num">Bots</th><th class="num">Value (' + esc(d.quote) + ')</th><th class="num">P&amp;L</th></tr></thead><tbody>' + venues + "</tbody></table></div>" : "") +
    '<h2>Bots</h2><div class="panel"><table id="bots"><thead><tr><th>Name</th><th>State</th><th>Venue</th><th>Targets</th><th>Trigger</th><th class="num">Value</th><th class="num">Net invested</th><th class="num">P&amp;L</th><th class="num">P&amp;L %</th></tr></thead><tbody>' + rows + "</tbody></table></div>";
}

function card(label, value, id) {
  return '<div class="card"' + (id ? ' id="' + id + '"' : "") + '><div class="label">' + label + '</div><div class="value">' + value + "</div></div>";
}

async function renderBot(key, full) {
  // The charts' data: the value series thinned to 400 points and the last 60 rebalances (the
  // weights before and after each); the lists below read their own pages.
  const [s, h] = await Promise.all([api("GET", "/api/bots/" + encodeURIComponent(key)), api("GET", "/api/bots/" + encodeURIComponent(key) + "/history?last=60&points=400")]);
  if (!state.route || state.route.name !== "bot" || state.route.bot !== key) return;
  const v = $("#view");
  if (!s.ok) { v.innerHTML = '<p class="err">' + esc(s.error.message) + "</p>"; return; }
  const b = s.data, hist = h.ok ? h.data : { rebalances: [], orders: [], fills: [], snapshots: [], flows: [] };
  const p = b.pnl || {};
  const quote = b.summary.quote;
  const stats =
    '<div class="cards">' +
    card("Value", money(p.value) + " " + esc(quote), "bot-value") +
    card("Total P&amp;L", '<span class="' + cls(p.total) + '">' + signed(p.total) + "</span>" + (p.total_pct != null ? ' <span class="muted">(' + signed(p.total_pct, 2) + "%)</span>" : ""), "bot-pnl") +
    card("Today's P&amp;L", '<span class="' + cls(p.today) + '">' + signed(p.today) + "</span>", "bot-today") +
    card("Rebalancing gain vs holding", '<span class="' + cls(p.rebalancing_gain) + '">' + signed(p.rebalancing_gain) + "</span>", "bot-gain") +
    "</div>";
  const alloc = allocationChart(b.holdings.filter((x) => num(x.target_pct) > 0 || num(x.weight_pct) >= 0.5).map((x) => ({ asset: x.asset, current: num(x.weight_pct), target: num(x.target_pct) })));
  const snaps = hist.snapshots || [];
  const valueChart = lineChart([
    { name: "value", color: "#2563eb", points: snaps.map((x) => [x.time_ms, num(x.value)]) },
    { name: "holding (no rebalancing)", color: "#f59e0b", dash: true, points: snaps.map((x) => [x.time_ms, num(x.hold_value)]) },
    { name: "net invested", color: "#9ca3af", width: 1, points: snaps.map((x) => [x.time_ms, num(x.net_invested)]) },
  ]);
  const weightSeries = {};
  for (const r of hist.rebalances) {
    const sm = r.summary;
    if (!sm) continue;
    if (r.kind !== "deploy") for (const [a, w] of sm.weights_before || []) (weightSeries[a] = weightSeries[a] || []).push([sm.time_ms, 100 * num(w)]);
    for (const [a, w] of sm.weights_after || []) (weightSeries[a] = weightSeries[a] || []).push([sm.time_ms + 1, 100 * num(w)]);
  }
  const cur = b.holdings.filter((x) => x.weight_pct != null);
  const nowMs = (state.status && state.status.market_time_ms) || null;
  if (nowMs) for (const x of cur) if (weightSeries[x.asset]) weightSeries[x.asset].push([nowMs, num(x.weight_pct)]);
  const weightsChart = lineChart(Object.keys(weightSeries).map((a, i) => ({ name: a, color: COLORS[i % COLORS.length], points: weightSeries[a] })), { yFmt: (v) => fmt(v, 0) + "%", yMin: 0, width: 1200, height: 260 });
  const active = b.summary.status !== "stopped";
  const head = "<h1>" + esc(b.summary.name) + ' <span class="status ' + esc(b.summary.status) + '" id="bot-status">' + esc(b.summary.status) + "</span></h1>" +
    '<p class="row"><a class="button" id="bot-export" href="/api/bots/' + b.summary.id + '/profile" download="' + esc(b.summary.name) + '.toml" title="its settings as a TOML profile: no keys, balances or history">Export profile</a>' +
    '<span class="muted">the file <code>smartfolio bot export</code> writes; import it in “Create bot” to make a bot with the same settings</span></p>' +
    '<p class="muted">venue ' + esc(b.summary.venue) + (state.status ? " (" + tradingWords(state.status.trading) + ")" : "") + " · targets " + esc(b.summary.targets) + " · trigger " + esc(b.summary.trigger) + " · " + b.rebalances + " rebalances · last " + time(b.last_rebalance_ms) + (b.summary.reason ? " · " + esc(b.summary.reason) : "") + "</p>";
  const top =
    stats +
    '<div class="grid2"><div class="panel"><h2>Allocation: current vs target</h2>' + alloc + "</div>" +
    '<div class="panel"><h2>Value vs holding</h2><div id="value-chart">' + valueChart + "</div></div></div>" +
    '<div class="panel"><h2>Weights over time (before → after each rebalance)</h2><div id="weights-chart">' + weightsChart + "</div></div>";
  if (full || !$("#bot-top")) {
    v.innerHTML = '<div id="bot-head">' + head + '</div><div id="bot-top">' + top + "</div>" + (active ? controlsHtml(b) : "") + exportsHtml(b) + '<div id="bot-bottom">' + historyHtml(key) + "</div>";
    if (active) wireControls(b);
    wireHistory(key);
  } else {
    $("#bot-head").innerHTML = head;
    $("#bot-top").innerHTML = top;
  }
  loadHistory(key);
}

// ------------------------------------------------------------------ history lists

// The bot page's rebalances, orders and fills, each a page at a time from the paged routes
// (newest first), over the date range of the filter bar, with the CSV of that range from the
// API. Each list keeps the cursors of the pages it has gone through ("Older" pushes the page's
// `next`, "Newer" pops), so a live refresh reloads the page shown, never the whole list.
const LISTS = {
  rebalances: {
    empty: "No rebalance yet.", cols: 6,
    head: "<th>Time</th><th>Kind</th><th>Reason</th><th>Status</th><th>Legs (filled/planned)</th><th class=\"num\">Fees</th>",
    row: (r) => {
      const sm = r.summary || {};
      const legs = (sm.legs || []).map((l) => esc(l.side + " " + fmt(l.filled_quantity) + "/" + fmt(l.planned_quantity) + " " + l.asset + " (" + l.outcome + ")")).join("<br>");
      return "<tr data-time=\"" + r.started_ms + "\"><td>" + time(r.started_ms) + "</td><td>" + esc(r.kind) + "</td><td>" + esc(r.reason) + "</td><td>" + esc(r.status) + "</td><td>" + (legs || '<span class="muted">none</span>') + '</td><td class="num">' + fmt(sm.fees, 4) + "</td></tr>";
    },
  },
  orders: {
    empty: "No order yet.", cols: 7,
    head: "<th>Time</th><th>Side</th><th>Asset</th><th class=\"num\">Qty</th><th class=\"num\">Filled</th><th>Status</th><th>Error</th>",
    row: (o) => "<tr data-time=\"" + o.created_ms + "\"><td>" + time(o.created_ms) + "</td><td>" + esc(o.side) + "</td><td>" + esc(o.base) + '</td><td class="num">' + fmt(o.quantity) + '</td><td class="num">' + fmt(o.filled_quantity) + "</td><td>" + esc(o.status) + "</td><td>" + esc(o.error || "") + "</td></tr>",
  },
  fills: {
    empty: "No fill yet.", cols: 6,
    head: "<th>Time</th><th>Side</th><th>Asset</th><th class=\"num\">Qty</th><th class=\"num\">Price</th><th class=\"num\">Fee</th>",
    row: (f) => "<tr data-time=\"" + f.time_ms + "\"><td>" + time(f.time_ms) + "</td><td>" + esc(f.side) + "</td><td>" + esc(f.base) + '</td><td class="num">' + fmt(f.quantity) + '</td><td class="num">' + fmt(f.price) + '</td><td class="num">' + fmt(f.fee) + " " + esc(f.fee_asset || "") + "</td></tr>",
  },
};
const PAGE_SIZES = [10, 25, 50, 100];

/** The history state of bot `key` (a new bot starts on the newest pages, no range). */
function histOf(key) {
  if (!state.hist || state.hist.bot !== key) {
    state.hist = { bot: key, from: "", to: "", limit: 25, lists: {} };
    for (const n of Object.keys(LISTS)) state.hist.lists[n] = { stack: [], seq: 0 };
  }
  return state.hist;
}

/** `from`/`to` (ms) of the range: `from` the start of its UTC day, `to` the end of its day. */
function rangeParams(h) {
  const p = new URLSearchParams();
  if (h.from) p.set("from", String(Date.parse(h.from + "T00:00:00Z")));
  if (h.to) p.set("to", String(Date.parse(h.to + "T00:00:00Z") + 86400000));
  return p;
}

function historyHtml(key) {
  const h = histOf(key);
  const sizes = PAGE_SIZES.map((n) => "<option" + (n === h.limit ? " selected" : "") + ">" + n + "</option>").join("");
  const list = (n, title) => {
    const l = LISTS[n];
    return "<h2>" + title + "</h2>" +
      '<div class="panel"><table id="' + n + '"><thead><tr>' + l.head + '</tr></thead><tbody><tr><td colspan="' + l.cols + '" class="muted">Loading…</td></tr></tbody></table>' +
      '<div class="pager row"><button id="' + n + '-newer" disabled>Newer</button><button id="' + n + '-older" disabled>Older</button>' +
      '<span class="muted" id="' + n + '-page"></span><a id="' + n + '-csv" class="csv" download>CSV</a></div></div>';
  };
  return '<h2>History</h2><form id="hist-filter" class="row panel">' +
    '<label>From <input type="date" id="hist-from" value="' + esc(h.from) + '"></label>' +
    '<label>To <input type="date" id="hist-to" value="' + esc(h.to) + '"></label>' +
    '<label>Rows <select id="hist-limit">' + sizes + "</select></label>" +
    '<button type="submit" id="hist-apply">Apply</button><button type="button" id="hist-clear">Clear</button>' +
    '<span class="err" id="hist-err"></span></form>' +
    list("rebalances", "Rebalance history") +
    '<div class="grid2"><div>' + list("orders", "Orders") + "</div><div>" + list("fills", "Fills") + "</div></div>";
}

function wireHistory(key) {
  const h = histOf(key);
  const restart = () => { for (const n of Object.keys(LISTS)) h.lists[n].stack = []; loadHistory(key); };
  $("#hist-filter").onsubmit = (ev) => {
    ev.preventDefault();
    h.from = $("#hist-from").value;
    h.to = $("#hist-to").value;
    h.limit = Number($("#hist-limit").value);
    restart();
  };
  $("#hist-clear").onclick = () => { $("#hist-from").value = ""; $("#hist-to").value = ""; h.from = ""; h.to = ""; restart(); };
  for (const n of Object.keys(LISTS)) {
    const l = h.lists[n];
    $("#" + n + "-older").onclick = () => { if (l.next) { l.stack.push(l.next); loadList(key, n); } };
    $("#" + n + "-newer").onclick = () => { if (l.stack.length) { l.stack.pop(); loadList(key, n); } };
  }
}

function loadHistory(key) {
  for (const n of Object.keys(LISTS)) loadList(key, n);
}

async function loadList(key, n) {
  const h = histOf(key), l = h.lists[n], spec = LISTS[n];
  const range = rangeParams(h);
  const p = new URLSearchParams(range);
  p.set("limit", String(h.limit));
  if (l.stack.length) p.set("before", l.stack[l.stack.length - 1]);
  const seq = ++l.seq;
  const base = "/api/bots/" + encodeURIComponent(key) + "/" + n;
  const r = await api("GET", base + "?" + p);
  // A later request for this list, or another page, took over.
  if (seq !== l.seq || !state.route || state.route.name !== "bot" || state.route.bot !== key) return;
  const body = $("#" + n + " tbody");
  if (!body) return;
  const csv = $("#" + n + "-csv");
  const err = $("#hist-err");
  if (!r.ok) {
    l.next = null;
    body.innerHTML = '<tr><td colspan="' + spec.cols + '" class="err">' + esc(r.error.message) + "</td></tr>";
    $("#" + n + "-page").textContent = "";
    $("#" + n + "-older").disabled = true;
    $("#" + n + "-newer").disabled = !l.stack.length;
    csv.removeAttribute("href");
    if (err) err.textContent = r.error.message;
    return;
  }
  if (err) err.textContent = "";
  const d = r.data;
  l.next = d.next || null;
  const filtered = h.from || h.to;
  body.innerHTML = d.items.map(spec.row).join("") || '<tr><td colspan="' + spec.cols + '" class="muted">' + (filtered ? "Nothing in this range." : spec.empty) + "</td></tr>";
  const pages = Math.max(1, Math.ceil(d.total / h.limit));
  $("#" + n + "-page").textContent = "page " + (l.stack.length + 1) + " of " + pages + " · " + d.total + (filtered ? " in range" : " in all");
  $("#" + n + "-older").disabled = !l.next;
  $("#" + n + "-newer").disabled = !l.stack.length;
  const q = range.toString();
  csv.href = base + ".csv" + (q ? "?" + q : "");
}

// The ledger's CSV downloads (GET /api/bots/{bot}/export): generic, Koinly, CoinTracker.
function exportsHtml(b) {
  const base = "/api/bots/" + encodeURIComponent(b.summary.id) + "/export?format=";
  const link = (f, label) => '<a class="btn" id="export-' + f + '" download href="' + base + f + '">' + label + "</a> ";
  return '<div class="panel" id="bot-exports"><h2>Export the ledger</h2>' + link("generic", "CSV (every entry)") + link("koinly", "Koinly") + link("cointracker", "CoinTracker") + "</div>";
}

function controlsHtml(b) {
  return '<h2>Controls</h2><div class="controls">' +
    '<div class="control" id="ctl-invest"><h3>Invest</h3><div class="row"><input name="amount" placeholder="amount" size="10"><button data-action="invest">Invest…</button></div><p class="err" data-err="amount"></p><p class="err" data-err="_"></p></div>' +
    '<div class="control" id="ctl-withdraw"><h3>Withdraw</h3><div class="row"><input name="amount" placeholder="amount" size="10"><select name="mode"><option value="pro_rata">pro rata</option><option value="overweights">from overweights</option></select><button data-action="withdraw">Withdraw…</button></div><p class="err" data-err="amount"></p><p class="err" data-err="_"></p></div>' +
    '<div class="control" id="ctl-modify"><h3>Modify</h3><div class="row"><input name="targets" placeholder="' + esc(b.summary.targets) + '" size="22"></div><p class="err" data-err="targets"></p><div class="row"><input name="trigger" placeholder="' + esc(b.summary.trigger) + '" size="14"><button data-action="modify">Modify…</button></div><p class="err" data-err="trigger"></p><p class="err" data-err="_"></p></div>' +
    '<div class="control" id="ctl-state"><h3>Pause / resume</h3><div class="row"><button data-action="pause">Pause…</button><button data-action="resume">Resume…</button></div><p class="err" data-err="_"></p></div>' +
    '<div class="control" id="ctl-stop"><h3>Stop</h3><div class="row"><select name="mode"><option value="sell_all">sell everything</option><option value="keep_coins">keep the coins</option></select><button class="danger" data-action="stop">Stop…</button></div><p class="err" data-err="mode"></p><p class="err" data-err="_"></p></div>' +
    "</div>";
}

function controlBody(action, box) {
  const val = (n) => { const e = box.querySelector('[name="' + n + '"]'); return e && e.value.trim() !== "" ? e.value.trim() : undefined; };
  switch (action) {
    case "invest": return { amount: val("amount") || "" };
    case "withdraw": return { amount: val("amount") || "", mode: val("mode") };
    case "modify": return { targets: val("targets"), trigger: val("trigger") };
    case "stop": return { mode: val("mode") };
    default: return {};
  }
}

function planTable(p) {
  const legs = (p.legs || []).map((l) => "<tr><td>" + esc(l.side) + "</td><td>" + esc(l.asset) + '</td><td class="num">' + fmt(l.quantity) + '</td><td class="num">' + fmt(l.price) + '</td><td class="num">' + money(l.notional) + '</td><td class="num">' + fmt(l.fee, 4) + "</td></tr>").join("");
  const skipped = (p.skipped || []).map((l) => "<li>" + esc(l.side + " " + l.asset + ": " + l.reason) + "</li>").join("");
  return (legs ? '<table class="plan"><thead><tr><th>Side</th><th>Asset</th><th class="num">Qty</th><th class="num">Price</th><th class="num">Notional</th><th class="num">Fee</th></tr></thead><tbody>' + legs + "</tbody></table>" : '<p class="muted">No trade.</p>') +
    '<p class="muted">Value ' + money(p.value_before) + " → " + money(p.value_after) + ", fees " + fmt(p.fees, 4) + "</p>" +
    (skipped ? '<p>Skipped:</p><ul class="notes">' + skipped + "</ul>" : "") +
    ((p.notes || []).length ? '<ul class="notes">' + p.notes.map((n) => "<li>" + esc(n) + "</li>").join("") + "</ul>" : "");
}

// Preview, confirm, act: resolves when the dialog closes.
function confirmPlan(title, plan, act) {
  return new Promise((resolve) => {
    const d = $("#confirm");
    $("#confirm-title").textContent = title;
    $("#confirm-summary").textContent = plan.summary || "";
    $("#confirm-body").innerHTML = planTable(plan);
    $("#confirm-error").textContent = "";
    const ok = $("#confirm-ok"), cancel = $("#confirm-cancel");
    ok.disabled = false;
    ok.onclick = async () => {
      ok.disabled = true;
      const r = await act();
      if (r.ok) { d.close(); resolve(r); } else {
        ok.disabled = false;
        $("#confirm-error").textContent = r.error.message + (r.status === 401 ? " — sign in with the API token (top right)." : "");
        resolve(r);
      }
    };
    cancel.onclick = () => { d.close(); resolve(null); };
    d.showModal();
  });
}

function wireControls(b) {
  document.querySelectorAll(".control button[data-action]").forEach((btn) => {
    btn.onclick = async () => {
      const box = btn.closest(".control");
      const action = btn.dataset.action;
      const body = controlBody(action, box);
      showError(box, null);
      const pv = await api("POST", "/api/bots/" + b.summary.id + "/preview", Object.assign({ action }, body));
      if (!pv.ok) { showError(box, pv.error); return; }
      const path = "/api/bots/" + b.summary.id + "/" + action;
      const payload = action === "pause" || action === "resume" ? undefined : Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
      const r = await confirmPlan(action[0].toUpperCase() + action.slice(1) + " " + b.summary.name, pv.data, () => api("POST", path, payload));
      if (r && !r.ok) showError(box, r.error);
      if (r && r.ok) renderBot(String(b.summary.id), true);
    };
  });
}

// ------------------------------------------------------------------ templates

// A small equity line: points evenly spaced, no axes.
function sparkline(values) {
  const ys = (values || []).map(Number).filter((y) => isFinite(y));
  if (ys.length < 2) return '<p class="muted">No out-of-sample record.</p>';
  const W = 300, H = 48, lo = Math.min(...ys), hi = Math.max(...ys), span = hi > lo ? hi - lo : 1;
  const d = ys.map((y, i) => (i ? "L" : "M") + ((i / (ys.length - 1)) * W).toFixed(1) + " " + (2 + (1 - (y - lo) / span) * (H - 4)).toFixed(1)).join(" ");
  const up = ys[ys.length - 1] >= ys[0];
  return '<svg class="sparkline" viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="out-of-sample equity">' +
    '<path d="' + d + '" fill="none" stroke="' + (up ? "#15803d" : "#b91c1c") + '" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>';
}

function pct(x, dp) { const v = num(x); return v == null ? "–" : fmt(100 * v, dp == null ? 1 : dp) + "%"; }

function templateCard(t) {
  const r = t.recommendation;
  const weights = t.targets ? t.targets.split(",").map((p) => esc(p.replace("=", " ")) + "%").join(" · ") : '<span class="err">' + esc(t.weights_error) + "</span>";
  const trigger = r
    ? '<b class="tpl-trigger">' + esc(r.trigger) + "</b>" + (r.cooldown_ms ? ' <span class="muted">cooldown ' + esc(fmt(r.cooldown_ms / 3600000, 0)) + " h</span>" : "") +
      '<div class="muted">walk-forward: best training ' + esc(r.criterion) + " of " + r.grid_size + " rules, " + r.folds + " folds</div>"
    : '<span class="muted">none: ' + esc(t.recommendation_error) + "</span>";
  const record = r
    ? '<table class="tpl-record"><thead><tr><th>out of sample ' + esc(time(r.out_of_sample_from_ms).slice(0, 10)) + " → " + esc(time(r.out_of_sample_to_ms).slice(0, 10)) + '</th><th class="num">Return</th><th class="num">Max drawdown</th></tr></thead><tbody>' +
      '<tr data-run="strategy"><td>this template</td><td class="num ' + cls(r.strategy.total_return) + '">' + pct(r.strategy.total_return) + '</td><td class="num">' + pct(r.strategy.max_drawdown) + "</td></tr>" +
      '<tr data-run="buy_and_hold"><td>buy and hold</td><td class="num ' + cls(r.buy_and_hold.total_return) + '">' + pct(r.buy_and_hold.total_return) + '</td><td class="num">' + pct(r.buy_and_hold.max_drawdown) + "</td></tr>" +
      '<tr data-run="equal_weight"><td>equal weight, same rule</td><td class="num ' + cls(r.equal_weight.total_return) + '">' + pct(r.equal_weight.total_return) + '</td><td class="num">' + pct(r.equal_weight.max_drawdown) + "</td></tr>" +
      "</tbody></table>" + sparkline(r.sparkline)
    : "";
  const missing = t.missing.length ? '<ul class="notes tpl-missing">' + t.missing.map((m) => "<li>" + esc(m) + "</li>").join("") + "</ul>" : "";
  return '<div class="tpl-card" data-template="' + esc(t.name) + '">' +
    '<div class="sector">' + esc(t.sector) + "</div><h3>" + esc(t.name) + "</h3>" +
    (t.description ? '<div class="muted">' + esc(t.description) + "</div>" : "") +
    '<div><b>Weights:</b> <span class="muted">(' + esc(t.weighting) + ")</span><div class=\"tpl-weights\">" + weights + "</div></div>" +
    "<div><b>Recommended trigger:</b> " + trigger + "</div>" + record + missing +
    '<button type="button" class="use primary" data-template="' + esc(t.name) + '"' + (t.targets ? "" : " disabled") + ">Use</button></div>";
}

async function loadTemplates() {
  const r = await api("GET", "/api/templates");
  if (r.ok) state.templates = r.data;
  return r;
}

async function renderTemplates() {
  const r = await loadTemplates();
  if (state.route.name !== "templates") return;
  const v = $("#view");
  if (!r.ok) { v.innerHTML = '<p class="err">' + esc(r.error.message) + "</p>"; return; }
  v.innerHTML = "<h1>Templates</h1>" +
    '<p class="muted">Ready-made portfolios. The trigger is chosen by walk-forward (picked on a training window, reported on the following test window, rolled forward), never the in-sample best; history from ' +
    esc(r.data.history_dir || "nowhere (no data directory)") + ".</p>" +
    '<div class="gallery" id="gallery">' + r.data.templates.map(templateCard).join("") + "</div>";
  v.querySelectorAll("button.use").forEach((b) => (b.onclick = () => { location.hash = "#/create/template/" + encodeURIComponent(b.dataset.template); }));
}

// ------------------------------------------------------------------ create

async function renderCreate(templateName) {
  const st = state.status || (await loadStatus());
  let tpl = null;
  if (templateName) {
    if (!state.templates) await loadTemplates();
    tpl = state.templates && state.templates.templates.find((t) => t.name === templateName);
  }
  if (state.route.name !== "create" || state.route.template !== templateName) return;
  const assets = (st && st.assets) || [];
  const methods = (st && st.methods) || ["manual", "equal"];
  const quote = esc((st && st.quote) || "USDT");
  const v = $("#view");
  v.innerHTML = "<h1>Create a bot</h1>" +
    '<div class="grid2"><form class="panel" id="create-form" autocomplete="off">' +
    '<p class="err" data-err="_"></p>' +
    (templateName ? '<div class="field from-template"><label for="f-template">Template</label><input id="f-template" name="template" readonly value="' + esc(templateName) + '"> <a href="#/create">clear</a>' +
      '<div class="hint">' + (tpl ? "its assets, weights and trigger below; change any to override it" : "not in the gallery") + '</div><p class="err" data-err="template"></p></div>'
      : '<div class="field from-profile" id="f-profile-box"><label for="f-profile-file">Import a profile</label><input type="file" id="f-profile-file" accept=".toml,application/toml,text/plain">' +
      '<div class="hint">a file that “Export profile” (or <code>smartfolio bot export</code>) wrote: fill the form from it, or create from it with an amount</div>' +
      '<div id="f-profile-out"></div><p class="err" id="f-profile-err"></p></div>') +
    '<div class="field"><label for="f-name">Name</label><input id="f-name" name="name" value="bot-' + Math.floor(Math.random() * 9000 + 1000) + '"><p class="err" data-err="name"></p></div>' +
    '<div class="field"><label>Assets</label><div class="assets" id="f-assets">' + assets.map((a, i) => '<label><input type="checkbox" name="asset" value="' + esc(a) + '"' + (i < 3 ? " checked" : "") + "> " + esc(a) + "</label>").join("") + '</div><p class="err" data-err="assets"></p></div>' +
    '<div class="field"><label for="f-method">Targets</label><select id="f-method" name="method">' + methods.map((m) => '<option value="' + esc(m) + '">' + esc(m) + "</option>").join("") + "</select> " +
    '<span id="f-window-box">window <input id="f-window" name="window" size="6" value="500"> bars</span>' +
    '<div class="hint" id="f-method-hint">manual: type the weights; any other method recomputes them when an asset is added or removed (a preview: the weights below are what the bot gets once you confirm)</div>' +
    '<div class="targets-inputs row" id="f-targets"></div><div id="f-alloc-out" class="rationale"></div><p class="err" data-err="targets"></p><p class="err" data-err="method"></p><p class="err" data-err="window"></p></div>' +
    triggerBuilderHtml() +
    '<div class="field"><label for="f-investment">Investment (' + quote + ')</label><input id="f-investment" name="investment" value="1000" size="12"><p class="err" data-err="investment"></p></div>' +
    '<div class="field row"><label>Stop-loss % <input name="stop_loss_pct" size="5"></label><label>Take-profit % <input name="take_profit_pct" size="5"></label></div><p class="err" data-err="stop_loss_pct"></p><p class="err" data-err="take_profit_pct"></p>' +
    '<div class="row"><button type="button" id="f-preview">Preview</button><button type="submit" class="primary" id="f-create">Create bot</button></div>' +
    "</form>" +
    '<div><div class="panel"><h2>Initial orders</h2><div id="create-plan" class="muted">Press Preview.</div></div>' +
    '<div class="panel" style="margin-top:1rem"><h2>Backtest over the server\'s history</h2><div id="create-backtest" class="muted">Press Preview.</div></div></div></div>';
  const form = $("#create-form");
  wireTriggerBuilder(form);
  let allocSeq = 0;
  // Smart allocation: the chosen method's weights over the checked assets, recomputed on every
  // change, with what they rest on; manual weights are typed.
  const refreshTargets = async () => {
    const checked = [...form.querySelectorAll('input[name="asset"]:checked')].map((e) => e.value);
    const method = form.method.value;
    $("#f-window-box").style.display = method === "manual" || method === "equal" ? "none" : "";
    const box = $("#f-targets"), out = $("#f-alloc-out");
    const seq = ++allocSeq;
    showError(form, null);
    if (method === "manual") {
      out.innerHTML = "";
      const defaults = { BTC: 50, ETH: 30, SOL: 20 };
      const allDefault = checked.every((a) => defaults[a]) && checked.length === 3;
      const even = checked.length ? Math.floor(10000 / checked.length) / 100 : 0;
      setTargets(checked.map((a, i) => [a, allDefault ? defaults[a] : i === checked.length - 1 ? (100 - even * (checked.length - 1)).toFixed(2) : even]));
      return;
    }
    if (checked.length < 2) { box.innerHTML = ""; out.innerHTML = '<p class="muted">Choose at least 2 assets.</p>'; return; }
    out.innerHTML = '<p class="muted">computing ' + esc(method) + " weights…</p>";
    const body = { assets: checked, method };
    if (method !== "equal") { const w = parseInt(form.window.value, 10); if (w) body.window = w; }
    const r = await api("POST", "/api/preview/allocation", body);
    if (seq !== allocSeq) return; // a later change took over
    if (!r.ok) { box.innerHTML = ""; out.innerHTML = ""; showError(form, r.error); return; }
    setTargets(r.data.targets.split(",").map((p) => p.split("=")));
    out.innerHTML = rationaleHtml(r.data);
  };
  form.querySelectorAll('input[name="asset"]').forEach((e) => (e.onchange = refreshTargets));
  form.method.onchange = refreshTargets;
  form.window.onchange = refreshTargets;
  refreshTargets();
  if (tpl) fillFromTemplate(form, tpl);
  if (!templateName) wireProfileImport(form);
  $("#f-preview").onclick = () => previewCreate(form);
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const body = createBody(form);
    const pv = await previewCreate(form);
    if (!pv) return;
    const r = await confirmPlan("Create " + body.name, pv, () => api("POST", "/api/bots", body));
    if (r && !r.ok) showError(form, r.error);
    if (r && r.ok) location.hash = "#/bot/" + r.data.bot.summary.id;
  };
}

/** The target inputs, one per [asset, percent]. */
function setTargets(pairs) {
  $("#f-targets").innerHTML = pairs.map(([a, w]) => "<label>" + esc(a) + ' <input data-target="' + esc(a) + '" value="' + esc(w) + '">%</label>').join("");
}

/** What an allocation rests on, as `smartfolio allocate` prints it. */
function rationaleHtml(d) {
  const p = (x) => (x == null || !isFinite(x) ? "–" : fmt(100 * x, 2) + "%");
  const bars = d.periods_per_year === 365 ? "daily bars" : d.periods_per_year === 8760 ? "hourly bars" : d.periods_per_year + " bars a year";
  // The weight column shows the targets the bot gets (2 decimals summing to 100).
  const target = Object.fromEntries(d.targets.split(",").map((pair) => pair.split("=")));
  const rows = d.assets.map((a, i) =>
    '<tr data-asset="' + esc(a) + '"><td>' + esc(a) + '</td><td class="num">' + esc(target[a] != null ? target[a] : fmt(d.weights_pct[i], 2)) + '%</td><td class="num">' + p(d.volatilities[i]) +
    '</td><td class="num">' + p(d.returns[i]) + '</td><td class="num">' + p(d.risk_contributions[i]) + "</td></tr>").join("");
  return '<table class="rationale-table" data-method="' + esc(d.method) + '" data-assets="' + esc(d.assets.join(",")) + '" data-targets="' + esc(d.targets) + '">' +
    '<thead><tr><th>asset</th><th class="num">weight</th><th class="num">volatility</th><th class="num">return</th><th class="num">risk</th></tr></thead><tbody>' + rows + "</tbody></table>" +
    '<p class="hint">method ' + esc(d.method) + "; window " + esc(time(d.from_ms)) + " → " + esc(time(d.to_ms)) + ": " + d.n_returns + " returns (" + esc(bars) + "); portfolio volatility " +
    '<span id="f-portfolio-vol">' + p(d.portfolio_volatility) + "</span> (annualised; risk = share of the portfolio variance, " + esc(d.covariance) + " covariance). A preview: the weights above are what the bot gets when you confirm.</p>";
}

// ------------------------------------------------------------------ trigger builder

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MINUTES = { m: 1, min: 1, h: 60, d: 1440, w: 10080 };

function triggerBuilderHtml() {
  return '<div class="field" id="f-trigger-box"><label>Trigger</label><div class="builder" id="f-trig">' +
    '<div class="row"><label>Rebalance <select id="f-trig-mode"><option value="threshold">when a weight drifts</option><option value="schedule">on a schedule</option><option value="both">on a schedule and a drift</option></select></label>' +
    '<label id="f-trig-combine-box">combined as <select id="f-trig-combine"><option value="gated">on schedule, only if drifted</option><option value="either">whichever comes first</option></select></label></div>' +
    '<div class="row" id="f-trig-pp-box"><label>drift of <input id="f-trig-pp" type="number" min="0.01" max="100" step="any" value="5" size="5"> pp</label><span class="hint">percentage points of any asset\'s weight from its target</span></div>' +
    '<div class="row" id="f-trig-sched-box"><select id="f-trig-sched"><option value="every">every N hours</option><option value="daily">daily at</option><option value="weekly">weekly on</option></select>' +
    '<label id="f-trig-hours-box"><input id="f-trig-hours" type="number" min="1" max="672" step="1" value="24" size="4"> hours</label>' +
    '<select id="f-trig-day">' + WEEKDAYS.map((d, i) => '<option value="' + d + '">' + DAY_NAMES[i] + "</option>").join("") + "</select>" +
    '<label id="f-trig-time-box">at <input id="f-trig-time" type="time" value="08:00"> UTC</label></div>' +
    '<p class="hint" id="f-trig-custom"></p></div>' +
    '<div class="row advanced"><label for="f-trigger">Advanced (text form)</label><input id="f-trigger" name="trigger" value="threshold:5" size="28"></div>' +
    '<div class="hint">threshold:5 (pp), rel-threshold:20 (%), every:1d, daily@00:00, weekly@MON/00:00, cron:…; a schedule gated as every:1d+threshold:2; rules combined as A|B</div>' +
    '<div class="row"><label>Cooldown after a rebalance <input id="f-cooldown" name="cooldown" type="number" min="0" step="any" size="5" placeholder="default"></label>' +
    '<select id="f-cooldown-unit"><option value="60000">minutes</option><option value="3600000" selected>hours</option><option value="86400000">days</option></select></div>' +
    '<p class="err" data-err="trigger"></p><p class="err" data-err="cooldown_ms"></p></div>';
}

/** The text a builder state makes. */
function builderText(b) {
  const sched = b.sched === "every" ? "every:" + b.hours + "h" : b.sched === "daily" ? "daily@" + b.time : "weekly@" + b.day + "/" + b.time;
  if (b.mode === "threshold") return "threshold:" + b.pp;
  if (b.mode === "schedule") return sched;
  return b.combine === "gated" ? sched + "+threshold:" + b.pp : "threshold:" + b.pp + "|" + sched;
}

function parseSchedule(s) {
  let m;
  if ((m = s.match(/^every:(\d+)(m|min|h|d|w)$/))) {
    const minutes = Number(m[1]) * MINUTES[m[2]];
    return minutes % 60 === 0 && minutes >= 60 && minutes <= 28 * 1440 ? { sched: "every", hours: minutes / 60 } : null;
  }
  if ((m = s.match(/^daily@([01]\d|2[0-3]):([0-5]\d)$/))) return { sched: "daily", time: m[1] + ":" + m[2] };
  if ((m = s.match(/^weekly@([a-z]+)\/([01]\d|2[0-3]):([0-5]\d)$/i))) {
    const d = m[1].toLowerCase(), day = WEEKDAYS.find((w) => d === w || d.startsWith(w));
    return day ? { sched: "weekly", day, time: m[2] + ":" + m[3] } : null;
  }
  return null;
}

function parseThreshold(s) {
  const m = s.match(/^threshold:(\d+(?:\.\d+)?)$/);
  return m && Number(m[1]) > 0 && Number(m[1]) <= 100 ? m[1] : null;
}

/** The builder state of a trigger's text, or null when the builder cannot express it. */
function parseTriggerText(text) {
  const parts = text.trim().split("|").map((s) => s.trim());
  if (parts.length === 1) {
    const pp = parseThreshold(parts[0]);
    if (pp) return { mode: "threshold", pp };
    const [sched, gate, more] = parts[0].split("+").map((s) => s.trim());
    const s = parseSchedule(sched || "");
    if (!s || more !== undefined) return null;
    if (gate === undefined) return Object.assign({ mode: "schedule" }, s);
    const g = parseThreshold(gate);
    return g ? Object.assign({ mode: "both", combine: "gated", pp: g }, s) : null;
  }
  if (parts.length === 2) {
    let pp = parseThreshold(parts[0]), s = parseSchedule(parts[1]);
    if (!pp) { pp = parseThreshold(parts[1]); s = parseSchedule(parts[0]); }
    if (pp && s) return Object.assign({ mode: "both", combine: "either", pp }, s);
  }
  return null;
}

function builderState() {
  return { mode: $("#f-trig-mode").value, combine: $("#f-trig-combine").value, pp: $("#f-trig-pp").value.trim(), sched: $("#f-trig-sched").value,
    hours: $("#f-trig-hours").value.trim(), day: $("#f-trig-day").value, time: $("#f-trig-time").value };
}

function showBuilderParts() {
  const b = builderState(), show = (id, on) => ($(id).style.display = on ? "" : "none");
  show("#f-trig-combine-box", b.mode === "both");
  show("#f-trig-pp-box", b.mode !== "schedule");
  show("#f-trig-sched-box", b.mode !== "threshold");
  show("#f-trig-hours-box", b.sched === "every");
  show("#f-trig-day", b.sched === "weekly");
  show("#f-trig-time-box", b.sched !== "every");
}

/** Put the trigger's text into the builder when it can express it; else say it is custom. */
function syncBuilderFromText(text) {
  const b = parseTriggerText(text);
  const note = $("#f-trig-custom"), box = $("#f-trig");
  if (!b) {
    box.dataset.custom = "true";
    note.textContent = text.trim() ? "custom: “" + text.trim() + "” is not one the builder makes; it is kept as typed below" : "the server's default trigger";
    return;
  }
  box.dataset.custom = "false";
  note.textContent = "";
  $("#f-trig-mode").value = b.mode;
  if (b.combine) $("#f-trig-combine").value = b.combine;
  if (b.pp) $("#f-trig-pp").value = b.pp;
  if (b.sched) $("#f-trig-sched").value = b.sched;
  if (b.hours) $("#f-trig-hours").value = b.hours;
  if (b.day) $("#f-trig-day").value = b.day;
  if (b.time) $("#f-trig-time").value = b.time;
  showBuilderParts();
}

/** Set the form's trigger text and the builder with it. */
function setTrigger(form, text) {
  form.trigger.value = text;
  syncBuilderFromText(text);
}

/** Set the cooldown fields from milliseconds (empty: the server's default). */
function setCooldown(ms) {
  if (ms == null) { $("#f-cooldown").value = ""; return; }
  const unit = ms % 86400000 === 0 && ms > 0 ? 86400000 : ms % 3600000 === 0 ? 3600000 : 60000;
  $("#f-cooldown-unit").value = String(unit);
  $("#f-cooldown").value = String(ms / unit);
}

function cooldownMs() {
  const v = $("#f-cooldown").value.trim();
  if (v === "") return undefined;
  const n = Number(v) * Number($("#f-cooldown-unit").value);
  return isFinite(n) ? Math.round(n) : v;
}

function wireTriggerBuilder(form) {
  const fromBuilder = () => {
    showBuilderParts();
    form.trigger.value = builderText(builderState());
    $("#f-trig").dataset.custom = "false";
    $("#f-trig-custom").textContent = "";
  };
  ["#f-trig-mode", "#f-trig-combine", "#f-trig-pp", "#f-trig-sched", "#f-trig-hours", "#f-trig-day", "#f-trig-time"].forEach((id) => {
    $(id).addEventListener("input", fromBuilder);
    $(id).addEventListener("change", fromBuilder);
  });
  form.trigger.addEventListener("input", () => syncBuilderFromText(form.trigger.value));
  syncBuilderFromText(form.trigger.value);
}

// ------------------------------------------------------------------ profiles

// Import: the file is checked by the server (errors name the file, line, key and value), then
// fills the form (the profile is sent along: what the form does not show, such as the price
// margin, comes from it) or creates a bot with only a name and an amount.
function wireProfileImport(form) {
  const input = $("#f-profile-file");
  input.onchange = async () => {
    const f = input.files && input.files[0];
    $("#f-profile-out").innerHTML = "";
    $("#f-profile-err").textContent = "";
    delete form.dataset.profile;
    if (!f) return;
    const upload = { toml: await f.text(), file: f.name };
    const r = await api("POST", "/api/preview/profile", upload);
    if (!r.ok) {
      const e = r.error;
      $("#f-profile-err").textContent = e.message + (e.allowed && !e.message.includes(e.allowed) ? " (allowed: " + e.allowed + ")" : "");
      return;
    }
    const p = r.data;
    form.dataset.profile = JSON.stringify(upload);
    $("#f-profile-out").innerHTML = '<div class="profile-view" id="f-profile-view" data-targets="' + esc(p.targets) + '" data-trigger="' + esc(p.trigger) + '">' +
      "<b>" + esc(p.file) + "</b>: " + esc(p.targets) + " · trigger " + esc(p.trigger) +
      (p.cooldown_ms != null ? " · cooldown " + esc(fmt(p.cooldown_ms / 3600000, 2)) + " h" : "") +
      (p.stop_loss_pct ? " · stop-loss " + esc(p.stop_loss_pct) + "%" : "") + (p.take_profit_pct ? " · take-profit " + esc(p.take_profit_pct) + "%" : "") +
      (p.price_margin ? " · price margin " + esc(p.price_margin) : "") + "</div>" +
      '<div class="row"><button type="button" id="f-profile-fill">Fill the form</button> or ' +
      '<input id="f-profile-amount" size="10" placeholder="amount"> ' + esc((state.status && state.status.quote) || "USDT") +
      ' <button type="button" class="primary" id="f-profile-create">Create from profile…</button></div>';
    $("#f-profile-fill").onclick = () => fillFromProfile(form, p);
    $("#f-profile-create").onclick = async () => {
      $("#f-profile-err").textContent = "";
      const body = { name: form.name.value.trim(), investment: $("#f-profile-amount").value.trim(), profile: upload };
      const pv = await api("POST", "/api/preview/create", body);
      if (!pv.ok) { $("#f-profile-err").textContent = pv.error.message; return; }
      const c = await confirmPlan("Create " + body.name + " from " + p.file, pv.data, () => api("POST", "/api/bots", body));
      if (c && !c.ok) $("#f-profile-err").textContent = c.error.message;
      if (c && c.ok) location.hash = "#/bot/" + c.data.bot.summary.id;
    };
  };
}

function fillFromProfile(form, p) {
  form.method.value = "manual";
  form.querySelectorAll('input[name="asset"]').forEach((e) => (e.checked = p.assets.includes(e.value)));
  $("#f-window-box").style.display = "none";
  $("#f-alloc-out").innerHTML = '<p class="hint">weights from the profile ' + esc(p.file) + "</p>";
  setTargets(p.targets.split(",").map((pair) => pair.split("=")));
  setTrigger(form, p.trigger);
  setCooldown(p.cooldown_ms);
  form.stop_loss_pct.value = p.stop_loss_pct || "";
  form.take_profit_pct.value = p.take_profit_pct || "";
}

// The create form as a template fills it: its assets with their weights today and its
// recommended trigger and cooldown (empty: the server's default); what is left unchanged is not
// sent, so the server takes it from the template.
function fillFromTemplate(form, t) {
  form.method.value = "manual";
  form.querySelectorAll('input[name="asset"]').forEach((e) => (e.checked = t.assets.includes(e.value)));
  $("#f-window-box").style.display = "none";
  $("#f-alloc-out").innerHTML = "";
  setTargets((t.targets || "").split(",").filter(Boolean).map((pair) => pair.split("=")));
  const trigger = t.recommendation ? t.recommendation.trigger : "";
  setTrigger(form, trigger);
  form.trigger.placeholder = trigger ? "" : "the server's default";
  setCooldown(t.recommendation ? t.recommendation.cooldown_ms : null);
  form.name.value = t.name + "-" + Math.floor(Math.random() * 9000 + 1000);
  form.dataset.tplTargets = targetsOf(form);
  form.dataset.tplTrigger = trigger;
  form.dataset.tplCooldown = String(cooldownMs());
}

function targetsOf(form) {
  return [...form.querySelectorAll("[data-target]")].map((e) => e.dataset.target + "=" + e.value.trim()).join(",");
}

// The body of a create: the targets shown (typed, or the method's weights the user saw), the
// trigger's text (built or typed), the cooldown; with a template, only what differs from it.
function createBody(form) {
  const body = { name: form.name.value.trim(), investment: form.investment.value.trim() };
  const targets = targetsOf(form), trigger = form.trigger.value.trim(), cooldown = cooldownMs();
  if (form.template) {
    body.template = form.template.value;
    if (targets !== form.dataset.tplTargets) body.targets = targets;
    if (trigger && trigger !== form.dataset.tplTrigger) body.trigger = trigger;
    if (cooldown !== undefined && String(cooldown) !== form.dataset.tplCooldown) body.cooldown_ms = cooldown;
  } else {
    body.targets = targets;
    body.trigger = trigger;
    if (cooldown !== undefined) body.cooldown_ms = cooldown;
    if (form.dataset.profile) body.profile = JSON.parse(form.dataset.profile);
  }
  const sl = form.stop_loss_pct.value.trim(), tp = form.take_profit_pct.value.trim();
  if (sl) body.stop_loss_pct = sl;
  if (tp) body.take_profit_pct = tp;
  return body;
}

async function previewCreate(form) {
  const body = createBody(form);
  // A template's values are shown in the form: the backtest runs what it shows.
  const shown = { targets: targetsOf(form), trigger: form.trigger.value.trim() || undefined };
  const [pv, bt] = await Promise.all([
    api("POST", "/api/preview/create", body),
    api("POST", "/api/preview/backtest", { targets: shown.targets, trigger: shown.trigger, investment: body.investment }),
  ]);
  showError(form, pv.ok ? null : pv.error);
  $("#create-plan").innerHTML = pv.ok ? "<p>" + esc(pv.data.summary) + "</p>" + planTable(pv.data) : '<p class="err">' + esc(pv.error.message) + "</p>";
  if (bt.ok) {
    const d = bt.data;
    $("#create-backtest").innerHTML = lineChart([
      { name: "rebalanced (" + d.rebalances + " rebalances)", color: "#2563eb", points: d.times_ms.map((t, i) => [t, d.equity[i]]) },
      { name: "holding", color: "#f59e0b", dash: true, points: d.times_ms.map((t, i) => [t, d.hold[i]]) },
    ]) + '<p class="muted">' + d.bars + " bars from " + time(d.from_ms) + " to " + time(d.to_ms) + ": final " + money(d.final_value) + " vs holding " + money(d.hold_final_value) +
      ' (<span class="' + cls(d.rebalancing_gain) + '">' + signed(d.rebalancing_gain) + "</span>), fees " + money(d.fees) + "</p>";
  } else {
    $("#create-backtest").innerHTML = '<p class="err">' + esc(bt.error.message) + "</p>";
  }
  return pv.ok ? pv.data : null;
}

// ------------------------------------------------------------------ live updates

function refreshSoon() {
  if (state.pending) return;
  state.pending = true;
  setTimeout(async () => {
    state.pending = false;
    if (!state.route) return;
    if ($("#confirm").open) return;
    if (state.route.name === "overview") renderOverview();
    else if (state.route.name === "bot") renderBot(state.route.bot, false);
  }, 1000);
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("hello", () => $("#live").classList.add("on"));
  es.addEventListener("tick", (e) => {
    try { const d = JSON.parse(e.data); $("#clock").textContent = time(d.time_ms) + " UTC"; if (state.status) state.status.market_time_ms = d.time_ms; } catch (err) { /* ignore */ }
    refreshSoon();
  });
  es.addEventListener("rebalance", refreshSoon);
  es.addEventListener("state", refreshSoon);
  es.onerror = () => $("#live").classList.remove("on");
}

$("#signin").onsubmit = (ev) => {
  ev.preventDefault();
  const t = $("#token").value.trim();
  state.token = t;
  if (t) localStorage.setItem("smartfolio.token", t); else localStorage.removeItem("smartfolio.token");
  showSigned();
};

window.addEventListener("hashchange", render);
showSigned();
loadStatus().then(render);
connect();
