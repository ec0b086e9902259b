// Browser test of the dashboard in headless Chromium (run by its own CI step):
//   cargo build -p smartfolio-cli && (cd crates/server/tests/browser && npm ci && node dashboard.mjs)
// It starts `smartfolio demo` on a free port in a new data directory, signs in with the printed
// token, creates a bot through the form (preview, confirm), and checks that the allocation chart,
// the value chart and the rebalance history render with data and that a rebalance appears; then
// goes from a template card (the gallery, computed from the shared daily history copied into the
// data directory's history/ before the demo starts) to a running bot, typing only the amount.
// Screenshots go to $ARTIFACTS (default <repo>/target/ci-artifacts).
//
// Env: SMARTFOLIO_BIN (default <repo>/target/debug/smartfolio, else $CARGO_TARGET_DIR/debug/...),
//      CHROMIUM (default /usr/bin/chromium), SMARTFOLIO_DATA (default <repo>/../shared/data: its
//      daily/ files of the demo's assets become the demo's history).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, rmSync, copyFileSync } from "node:fs";
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
  await page.waitForFunction(() => document.querySelector("#live").classList.contains("on"), null, { timeout: 10000 });
  await page.screenshot({ path: join(artifacts, "overview.png"), fullPage: true });
  step("overview ok: total value " + total.trim());

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
  const rows = await page.$$eval("#rebalances tbody tr", (rs) => rs.map((r) => r.textContent));
  const orders = await page.$$eval("#orders tbody tr", (rs) => rs.length);
  const fills = await page.$$eval("#fills tbody tr", (rs) => rs.length);
  if (orders < 3 || fills < 3) fail(`orders ${orders}, fills ${fills}`);
  step(`rebalance visible (${rows.length} rows in the history, ${orders} orders, ${fills} fills)`);
  await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });

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
