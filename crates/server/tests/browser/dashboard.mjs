// Browser test of the dashboard in headless Chromium (run by its own CI step):
//   cargo build -p smartfolio-cli && (cd crates/server/tests/browser && npm ci && node dashboard.mjs)
// It starts `smartfolio demo` on a free port in a new data directory, signs in with the printed
// token, creates a bot through the form (preview, confirm), and checks that the allocation chart,
// the value chart and the rebalance history render with data and that a rebalance appears; pages
// through the orders (10 a page) and filters the lists by a day, with the CSV of that day; then
// goes from a template card (the gallery, computed from the shared daily history copied into the
// data directory's history/ before the demo starts) to a running bot, typing only the amount;
// then the create form's smart allocation (a method's weights recomputed as assets are added
// and removed, with the rationale), the trigger builder and its text form in sync both ways, a
// bot created with them, and its profile exported, imported (a bad copy refused) and used to
// create a second bot with the same settings.
// Screenshots go to $ARTIFACTS (default <repo>/target/ci-artifacts).
//
// Env: SMARTFOLIO_BIN (default <repo>/target/debug/smartfolio, else $CARGO_TARGET_DIR/debug/...),
//      CHROMIUM (default /usr/bin/chromium), SMARTFOLIO_DATA (default <repo>/../shared/data: its
//      daily/ files of the demo's assets become the demo's history).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, rmSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../../..");
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");
const bin = process.env.SMARTFOLIO_BIN || join(targetDir, "debug", "smartfolio");
const artifacts = process.env.ARTIFACTS || join(repo, "target", "ci-artifacts");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const sharedData = resolve(process.env.SMARTFOLIO_DATA || join(repo, "..", "shared", "data"));
const started = Date.now();

function fail(msg) {
  console.error("FAIL: " + msg);
  process.exitCode = 1;
  throw new Error(msg);
}
if (!existsSync(bin)) fail(`no smartfolio binary at ${bin} (cargo build -p smartfolio-cli, or set SMARTFOLIO_BIN)`);
if (!existsSync(chromiumPath)) fail(`no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
if (!existsSync(join(sharedData, "daily", "BTC.csv"))) fail(`no daily history at ${sharedData}/daily (set SMARTFOLIO_DATA)`);
mkdirSync(artifacts, { recursive: true });

const dataDir = mkdtempSync(join(tmpdir(), "smartfolio-browser-"));
// The history the template cards read (<data-dir>/history): the demo's assets' daily closes, so
// the templates within the demo's market get a walk-forward record and the others say what is
// missing.
mkdirSync(join(dataDir, "history"));
for (const a of ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA"]) copyFileSync(join(sharedData, "daily", a + ".csv"), join(dataDir, "history", a + ".csv"));
const demo = spawn(bin, ["demo", "--port", "0", "--data-dir", dataDir, "--max-seconds", "240", "--speed", "96"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let stderr = "";
demo.stderr.on("data", (d) => (stderr += d));

const signInUrl = await new Promise((res, rej) => {
  let out = "";
  const timer = setTimeout(() => rej(new Error("the demo printed no URL within 60 s:\n" + out + stderr)), 60000);
  demo.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/sign in the dashboard: (\S+)/);
    if (m) { clearTimeout(timer); res(m[1]); }
  });
  demo.on("exit", (code) => rej(new Error(`the demo exited with ${code}:\n${out}${stderr}`)));
});
console.log("demo at", signInUrl.replace(/#token=.*/, "#token=…"));

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const step = (s) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${s}`);
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => fail("page error: " + e.message));

  // Overview: the sample bot with its value; the token from the URL signs in.
  await page.goto(signInUrl);
  await page.waitForSelector("#bots tbody tr[data-bot]", { timeout: 20000 });
  const signed = await page.textContent("#signed");
  if (signed !== "signed in") fail("not signed in from the URL's token: " + signed);
  const total = await page.textContent("#total-value .value");
  if (!/\d/.test(total)) fail("no total value on the overview: " + total);
  // The totals by venue account, and each bot's venue with its account.
  const byVenue = await page.$$eval("#by-venue tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  if (byVenue.length !== 1 || byVenue[0][0] !== "paper" || byVenue[0][2] !== "1" || byVenue[0][3] !== total.trim().split(" ")[0])
    fail("the overview's totals by venue are not the one paper account's: " + JSON.stringify(byVenue) + " vs " + total);
  const venueCell = await page.textContent("#bots tbody tr[data-bot] td:nth-child(3)");
  if (venueCell.trim() !== "paper " + byVenue[0][1]) fail("the bot's venue cell is not venue and account: " + venueCell);
  await page.waitForFunction(() => document.querySelector("#live").classList.contains("on"), null, { timeout: 10000 });
  await page.screenshot({ path: join(artifacts, "overview.png"), fullPage: true });
  step("overview ok: total value " + total.trim() + ", by venue " + JSON.stringify(byVenue));

  // Create a bot through the form: preview (initial orders + backtest), then confirm.
  await page.click("#nav-create");
  await page.waitForSelector("#create-form");
  await page.fill("#f-name", "browser-bot");
  await page.fill("#f-trigger", "threshold:1");
  await page.fill("#f-investment", "abc");
  await page.click("#f-preview");
  await page.waitForFunction(() => /investment/i.test(document.querySelector('[data-err="investment"]').textContent), null, { timeout: 10000 });
  step("a bad investment shows its error next to the field");
  await page.fill("#f-investment", "2000");
  await page.click("#f-preview");
  await page.waitForSelector("#create-plan table.plan tbody tr", { timeout: 10000 });
  await page.waitForSelector("#create-backtest svg path", { timeout: 10000 });
  const legs = await page.$$eval("#create-plan table.plan tbody tr", (rs) => rs.length);
  if (legs !== 3) fail("expected 3 initial orders, got " + legs);
  await page.screenshot({ path: join(artifacts, "create.png"), fullPage: true });
  step("create preview ok: 3 initial orders and a backtest chart");
  await page.click("#f-create");
  await page.waitForSelector("#confirm[open]");
  const summary = await page.textContent("#confirm-summary");
  if (!summary.includes("browser-bot")) fail("the confirmation does not show the plan: " + summary);
  await page.click("#confirm-ok");
  await page.waitForFunction(() => /^#\/bot\/\d+$/.test(location.hash), null, { timeout: 15000 });
  step("bot created: " + (await page.evaluate(() => location.hash)));

  // The bot page: allocation chart with data, value history, and a rebalance in the history.
  await page.waitForSelector("#allocation-chart rect.bar-current", { timeout: 15000 });
  const widths = await page.$$eval("#allocation-chart rect.bar-current", (rs) => rs.map((r) => Number(r.getAttribute("width"))));
  if (widths.length < 3 || widths.filter((w) => w > 0).length < 3) fail("allocation bars without data: " + widths);
  await page.waitForSelector("#value-chart svg path[data-series='value']", { timeout: 30000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#rebalances tbody tr td:nth-child(2)")].some((td) => td.textContent === "rebalance"), null, { timeout: 90000 });
  await page.waitForSelector("#weights-chart svg path", { timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll("#orders tbody tr[data-time]").length >= 3 && document.querySelectorAll("#fills tbody tr[data-time]").length >= 3, null, { timeout: 30000 });
  const rows = await page.$$eval("#rebalances tbody tr", (rs) => rs.map((r) => r.textContent));
  const orders = await page.$$eval("#orders tbody tr", (rs) => rs.length);
  const fills = await page.$$eval("#fills tbody tr", (rs) => rs.length);
  if (orders < 3 || fills < 3) fail(`orders ${orders}, fills ${fills}`);
  step(`rebalance visible (${rows.length} rows in the history, ${orders} orders, ${fills} fills)`);
  await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });

  // The ledger's downloads: each link names its format and serves that format's CSV.
  const exports = await page.$$eval("#bot-exports a[download]", (as) => as.map((a) => a.getAttribute("href")));
  const heads = await page.evaluate(async (hrefs) => Promise.all(hrefs.map(async (h) => {
    const r = await fetch(h);
    return [r.headers.get("content-type"), (await r.text()).split("\n")[0]];
  })), exports);
  const want = { generic: "ledger_id,time,", koinly: "Date,Sent Amount,Sent Currency,", cointracker: "Date,Received Quantity," };
  if (exports.length !== 3) fail("export links: " + exports);
  exports.forEach((h, i) => {
    const f = new URL(h, "http://x").searchParams.get("format");
    if (!heads[i][0].startsWith("text/csv") || !heads[i][1].startsWith(want[f])) fail(`export ${h}: ${heads[i]}`);
  });
  step("ledger downloads: " + exports.map((h) => new URL(h, "http://x").searchParams.get("format")).join(", "));

  // The history lists by page: 10 rows a page, "Older" shows the next older page by its cursor.
  const botId = (await page.evaluate(() => location.hash)).match(/\d+$/)[0];
  const pageInfo = (n) => page.textContent("#" + n + "-page");
  const times = (n) => page.$$eval("#" + n + " tbody tr[data-time]", (rs) => rs.map((r) => Number(r.dataset.time)));
  await page.selectOption("#hist-limit", "10");
  await page.click("#hist-apply");
  await page.waitForFunction(() => {
    const m = /^page 1 of (\d+) · (\d+) in all$/.exec(document.querySelector("#orders-page").textContent);
    return m && Number(m[2]) > 10 && !document.querySelector("#orders-older").disabled && document.querySelectorAll("#orders tbody tr[data-time]").length === 10;
  }, null, { timeout: 120000 });
  const first = await times("orders");
  await page.click("#orders-older");
  await page.waitForFunction(() => /^page 2 of /.test(document.querySelector("#orders-page").textContent), null, { timeout: 10000 });
  const second = await times("orders");
  if (!second.length || second.length > 10) fail("the second page of orders: " + second.length + " rows");
  const oldestFirst = Math.min(...first);
  if (second.some((t) => t > oldestFirst)) fail(`the older page has newer orders: ${second} after ${first}`);
  for (let i = 1; i < second.length; i++) if (second[i] > second[i - 1]) fail("orders not newest first: " + second);
  await page.click("#orders-newer");
  await page.waitForFunction(() => /^page 1 of /.test(document.querySelector("#orders-page").textContent) && document.querySelector("#orders-newer").disabled, null, { timeout: 10000 });
  step(`orders paged: page 1 (${first.length} rows), page 2 (${second.length} rows, all older), back to page 1`);

  // A date range: the UTC day of the oldest order seen; every list shows that day only, its
  // total is the API's for the same range, and its CSV link downloads that range.
  const day = new Date(Math.min(...second)).toISOString().slice(0, 10);
  const from = Date.parse(day + "T00:00:00Z"), to = from + 86400000;
  await page.fill("#hist-from", day);
  await page.fill("#hist-to", day);
  await page.click("#hist-apply");
  await page.waitForFunction(() => ["rebalances", "orders", "fills"].every((n) => / in range$/.test(document.querySelector("#" + n + "-page").textContent)), null, { timeout: 10000 });
  for (const n of ["rebalances", "orders", "fills"]) {
    const ts = await times(n);
    if (ts.some((t) => t < from || t >= to)) fail(`${n} outside ${day}: ${ts}`);
    const shown = Number(/· (\d+) in range$/.exec(await pageInfo(n))[1]);
    const api = await page.evaluate(async (u) => (await (await fetch(u)).json()).total, `/api/bots/${botId}/${n}?from=${from}&to=${to}`);
    if (shown !== api) fail(`${n} in ${day}: the page says ${shown}, the API ${api}`);
    const href = await page.getAttribute("#" + n + "-csv", "href");
    if (href !== `/api/bots/${botId}/${n}.csv?from=${from}&to=${to}`) fail(`${n}'s CSV link: ${href}`);
    const csv = await page.evaluate(async (u) => { const r = await fetch(u); return { type: r.headers.get("content-type"), text: await r.text() }; }, href);
    const lines = csv.text.trim().split("\n");
    if (!csv.type.startsWith("text/csv") || lines.length !== api + 1) fail(`${n}'s CSV of ${day}: ${csv.type}, ${lines.length} lines for ${api} items`);
  }
  if ((await times("orders")).length === 0) fail(`no order on ${day}, the day of an order seen`);
  step(`date range ${day}: every list within it, totals as the API's, CSV of the range`);

  // A range that ends before it starts: the API's error, naming the field, is shown.
  // From the day after the next: its start is after the end of `day`.
  const later = new Date(to + 86400000).toISOString().slice(0, 10);
  await page.fill("#hist-from", later);
  await page.fill("#hist-to", day);
  await page.click("#hist-apply");
  await page.waitForFunction(() => document.querySelector("#hist-err").textContent !== "", null, { timeout: 10000 });
  const rangeErr = await page.textContent("#hist-err");
  if (!rangeErr.startsWith(`invalid to: "${to}"`) || !rangeErr.includes(`at or after \`from\` (${to + 86400000})`)) fail("the error of a range ending before it starts: " + rangeErr);
  step("a range ending before it starts is refused: " + rangeErr);
  await page.click("#hist-clear");
  await page.waitForFunction(() => document.querySelector("#hist-err").textContent === "" && / in all$/.test(document.querySelector("#orders-page").textContent), null, { timeout: 10000 });
  await page.screenshot({ path: join(artifacts, "history.png"), fullPage: true });

  // A control: pause shows its plan, asks to confirm, then acts.
  await page.click("#ctl-state button[data-action='pause']");
  await page.waitForSelector("#confirm[open]");
  const pauseText = await page.textContent("#confirm-summary");
  if (!pauseText.startsWith("pause")) fail("pause confirmation: " + pauseText);
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.querySelector("#bot-status").textContent === "paused", null, { timeout: 10000 });
  step("pause confirmed and applied");

  // The template gallery: one card per template; risk-parity's assets all have history.
  await page.click("#nav-templates");
  const rp = '#gallery .tpl-card[data-template="risk-parity"]';
  await page.waitForSelector(rp + " svg.sparkline path", { timeout: 120000 });
  const names = await page.$$eval("#gallery .tpl-card", (cs) => cs.map((c) => c.dataset.template));
  for (const n of ["majors", "layer-1", "defi", "meme", "old-guard", "cushioned", "risk-parity"]) if (!names.includes(n)) fail("no card for " + n + ": " + names);
  const card = await page.evaluate(async () => (await (await fetch("/api/templates")).json()).templates.find((t) => t.name === "risk-parity"));
  if (!card.recommendation) fail("risk-parity has no recommendation: " + card.recommendation_error);
  const cardTrigger = (await page.textContent(rp + " .tpl-trigger")).trim();
  if (cardTrigger !== card.recommendation.trigger) fail(`the card shows ${cardTrigger}, the API ${card.recommendation.trigger}`);
  const runs = await page.$$eval(rp + " .tpl-record tbody tr", (rs) => rs.map((r) => [r.dataset.run, r.children[1].textContent, r.children[2].textContent]));
  if (runs.length !== 3 || runs[1][0] !== "buy_and_hold" || !runs.every((r) => /%$/.test(r[1]) && /%$/.test(r[2]))) fail("the record against buy-and-hold: " + JSON.stringify(runs));
  const weightsText = await page.textContent(rp + " .tpl-weights");
  if (!card.assets.every((a) => weightsText.includes(a))) fail("the card's weights: " + weightsText);
  // A template whose assets lack history says which.
  const memeMissing = await page.textContent('#gallery .tpl-card[data-template="meme"] .tpl-missing');
  if (!/DOGE/.test(memeMissing)) fail("meme's missing history: " + memeMissing);
  await page.screenshot({ path: join(artifacts, "templates.png"), fullPage: true });
  step(`gallery ok: ${names.length} cards; risk-parity ${card.targets}, ${cardTrigger}`);

  // "Use": the create form filled in with the template; only the amount is typed.
  await page.click(rp + " button.use");
  await page.waitForSelector("#create-form #f-template");
  if ((await page.inputValue("#f-template")) !== "risk-parity") fail("the form's template: " + (await page.inputValue("#f-template")));
  if ((await page.inputValue("#f-trigger")) !== card.recommendation.trigger) fail("the form's trigger: " + (await page.inputValue("#f-trigger")));
  const formTargets = await page.$$eval("#f-targets [data-target]", (es) => es.map((e) => e.dataset.target + "=" + e.value).join(","));
  if (formTargets !== card.targets) fail(`the form's targets ${formTargets}, the card's ${card.targets}`);
  const botName = await page.inputValue("#f-name");
  await page.fill("#f-investment", "1500");
  await page.click("#f-create");
  await page.waitForSelector("#confirm[open]");
  const tplSummary = await page.textContent("#confirm-summary");
  if (!tplSummary.includes(botName)) fail("the confirmation does not show the plan: " + tplSummary);
  await page.click("#confirm-ok");
  await page.waitForFunction(() => /^#\/bot\/\d+$/.test(location.hash), null, { timeout: 15000 });
  await page.waitForFunction(() => { const s = document.querySelector("#bot-status"); return s && s.textContent === "running"; }, null, { timeout: 30000 });
  const made = await page.evaluate(async (n) => (await (await fetch("/api/bots/" + n)).json()).summary, botName);
  if (made.targets !== card.targets || made.trigger !== card.recommendation.trigger) fail(`the bot runs ${made.targets} ${made.trigger}, the card says ${card.targets} ${card.recommendation.trigger}`);
  await page.screenshot({ path: join(artifacts, "from-template.png"), fullPage: true });
  step(`bot ${botName} from the risk-parity card is running: ${made.targets}, ${made.trigger}`);

  // Smart allocation: the chosen method's weights recomputed as an asset is added or removed,
  // with the rationale (volatility, return, risk contribution) the method rests on.
  await page.click("#nav-create");
  await page.waitForSelector("#create-form #f-trig-mode");
  await page.fill("#f-name", "smart-bot");
  await page.selectOption("#f-method", "risk-parity");
  const rationale = (assets) => `#f-alloc-out table.rationale-table[data-method="risk-parity"][data-assets="${assets}"]`;
  await page.waitForSelector(rationale("BTC,ETH,SOL"), { timeout: 15000 });
  await page.check('#f-assets input[value="BNB"]');
  await page.waitForSelector(rationale("BTC,ETH,SOL,BNB"), { timeout: 15000 });
  const shown = async (assets) => page.$eval(rationale(assets), (t) => ({
    targets: t.dataset.targets,
    form: [...document.querySelectorAll("#f-targets [data-target]")].map((e) => e.dataset.target + "=" + e.value).join(","),
    rows: [...t.querySelectorAll("tbody tr")].map((r) => [...r.children].map((c) => c.textContent)),
    vol: document.querySelector("#f-portfolio-vol").textContent,
  }));
  let alloc = await shown("BTC,ETH,SOL,BNB");
  if (alloc.form !== alloc.targets) fail(`the form's targets ${alloc.form}, the method's ${alloc.targets}`);
  const sum = alloc.form.split(",").reduce((s, p) => s + Number(p.split("=")[1]), 0);
  if (Math.abs(sum - 100) > 1e-9) fail("the recomputed weights sum to " + sum);
  // Risk parity: every asset carries a quarter of the risk; each row has its volatility.
  if (alloc.rows.length !== 4 || !alloc.rows.every((r) => Math.abs(parseFloat(r[4]) - 25) < 0.5 && /%$/.test(r[2]) && parseFloat(r[2]) > 0)) fail("the rationale: " + JSON.stringify(alloc.rows));
  if (!/%$/.test(alloc.vol)) fail("no portfolio volatility: " + alloc.vol);
  step(`smart allocation: BNB added, risk-parity weights ${alloc.targets}, risk ${alloc.rows.map((r) => r[4]).join(" ")}`);
  await page.uncheck('#f-assets input[value="SOL"]');
  await page.waitForSelector(rationale("BTC,ETH,BNB"), { timeout: 15000 });
  alloc = await shown("BTC,ETH,BNB");
  if (alloc.form !== alloc.targets || alloc.rows.length !== 3) fail("after removing SOL: " + JSON.stringify(alloc));
  await page.screenshot({ path: join(artifacts, "smart-allocation.png"), fullPage: true });
  step("SOL removed: " + alloc.targets);

  // The trigger builder writes the text form; the text form fills the builder back.
  await page.selectOption("#f-trig-mode", "both");
  await page.selectOption("#f-trig-combine", "gated");
  await page.fill("#f-trig-pp", "2.5");
  await page.selectOption("#f-trig-sched", "weekly");
  await page.selectOption("#f-trig-day", "wed");
  await page.fill("#f-trig-time", "09:30");
  await page.waitForFunction(() => document.querySelector("#f-trigger").value === "weekly@wed/09:30+threshold:2.5", null, { timeout: 5000 });
  await page.fill("#f-trigger", "threshold:3|every:6h");
  await page.waitForFunction(() => ["#f-trig-mode", "#f-trig-combine", "#f-trig-pp", "#f-trig-sched", "#f-trig-hours"].map((s) => document.querySelector(s).value).join(" ") === "both either 3 every 6", null, { timeout: 5000 });
  await page.fill("#f-trigger", "cron:0 */4 * * *");
  await page.waitForSelector('#f-trig[data-custom="true"]', { timeout: 5000 });
  if (!/custom/.test(await page.textContent("#f-trig-custom"))) fail("a cron line is not shown as custom");
  await page.selectOption("#f-trig-mode", "schedule");
  await page.selectOption("#f-trig-sched", "every");
  await page.fill("#f-trig-hours", "12");
  await page.waitForFunction(() => document.querySelector("#f-trigger").value === "every:12h" && document.querySelector("#f-trig").dataset.custom === "false", null, { timeout: 5000 });
  await page.fill("#f-cooldown", "2");
  await page.selectOption("#f-cooldown-unit", "3600000");
  step("trigger builder and text form agree both ways (a cron line is custom)");
  await page.fill("#f-investment", "1500");
  await page.click("#f-create");
  await page.waitForSelector("#confirm[open]");
  await page.click("#confirm-ok");
  await page.waitForFunction(() => /^#\/bot\/\d+$/.test(location.hash), null, { timeout: 15000 });
  await page.waitForFunction(() => { const s = document.querySelector("#bot-status"); return s && s.textContent === "running"; }, null, { timeout: 30000 });
  const config = (name) => page.evaluate(async (n) => (await (await fetch("/api/bots/" + n)).json()).config, name);
  const smart = await config("smart-bot");
  const weights = (t) => Object.fromEntries(t.split(",").map((p) => p.split("=")).map(([a, w]) => [a, Number(w)]));
  if (JSON.stringify(weights(smart.targets)) !== JSON.stringify(weights(alloc.targets))) fail(`smart-bot runs ${smart.targets}, the preview showed ${alloc.targets}`);
  if (smart.trigger !== "every:12h" || smart.cooldown_ms !== 7200000) fail(`smart-bot: ${smart.trigger}, cooldown ${smart.cooldown_ms}`);
  step(`smart-bot runs the confirmed weights ${smart.targets}, ${smart.trigger}, cooldown 2 h`);

  // Profiles: export smart-bot's from its page, import it in the create form (a bad copy is
  // refused naming the file, line and key), fill the form from it, then create from it with an
  // amount: the second bot has the same settings and exports the same file.
  await page.waitForSelector("#bot-export");
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 15000 }), page.click("#bot-export")]);
  const profileFile = join(dataDir, "smart-bot.toml");
  await download.saveAs(profileFile);
  const exported = readFileSync(profileFile, "utf8");
  if (!/^version = 1$/m.test(exported) || !exported.includes('trigger = "every:12h"')) fail("the exported profile: " + exported);
  const badFile = join(dataDir, "smart-bot-v2.toml");
  writeFileSync(badFile, exported.replace("version = 1", "version = 2"));
  await page.click("#nav-create");
  await page.waitForSelector("#create-form #f-profile-file");
  await page.setInputFiles("#f-profile-file", badFile);
  await page.waitForFunction(() => /smart-bot-v2\.toml:\d+: version/.test(document.querySelector("#f-profile-err").textContent), null, { timeout: 10000 });
  step("a profile of another version is refused: " + (await page.textContent("#f-profile-err")));
  await page.setInputFiles("#f-profile-file", profileFile);
  await page.waitForSelector("#f-profile-view", { timeout: 10000 });
  await page.click("#f-profile-fill");
  const filled = await page.evaluate(() => ({
    targets: [...document.querySelectorAll("#f-targets [data-target]")].map((e) => e.dataset.target + "=" + e.value).join(","),
    trigger: document.querySelector("#f-trigger").value,
    mode: document.querySelector("#f-trig-mode").value,
    cooldown: document.querySelector("#f-cooldown").value + "×" + document.querySelector("#f-cooldown-unit").value,
  }));
  if (filled.targets !== smart.targets || filled.trigger !== smart.trigger || filled.mode !== "schedule" || filled.cooldown !== "2×3600000") fail("the form from the profile: " + JSON.stringify(filled));
  step("the profile fills the form: " + JSON.stringify(filled));
  await page.fill("#f-name", "smart-copy");
  await page.fill("#f-profile-amount", "1200");
  await page.click("#f-profile-create");
  await page.waitForSelector("#confirm[open]");
  if (!(await page.textContent("#confirm-title")).includes("smart-bot.toml")) fail("the confirmation does not name the profile");
  await page.click("#confirm-ok");
  await page.waitForFunction(() => /^#\/bot\/\d+$/.test(location.hash), null, { timeout: 15000 });
  await page.waitForFunction(() => { const s = document.querySelector("#bot-status"); return s && s.textContent === "running"; }, null, { timeout: 30000 });
  const copy = await config("smart-copy");
  for (const k of ["targets", "trigger", "cooldown_ms", "stop_loss_pct", "take_profit_pct", "price_margin"]) {
    if (JSON.stringify(copy[k]) !== JSON.stringify(smart[k])) fail(`smart-copy's ${k} ${JSON.stringify(copy[k])}, smart-bot's ${JSON.stringify(smart[k])}`);
  }
  const again = await page.evaluate(async () => (await fetch("/api/bots/smart-copy/profile")).text());
  if (again !== exported) fail("smart-copy exports another profile:\n" + again);
  await page.screenshot({ path: join(artifacts, "from-profile.png"), fullPage: true });
  step(`smart-copy from the exported profile runs the same settings: ${copy.targets}, ${copy.trigger}`);

  const external = requests.filter((u) => !u.startsWith(new URL(signInUrl).origin));
  if (external.length) fail("requests outside the server: " + external.join(", "));
  console.log(`PASS in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${artifacts}`);
} catch (e) {
  if (page) await page.screenshot({ path: join(artifacts, "dashboard-failure.png"), fullPage: true }).catch(() => {});
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
  demo.kill("SIGINT");
  rmSync(dataDir, { recursive: true, force: true });
}
