//! `smartfolio bot create|list|show|history|export|invest|withdraw|modify|rebalance|pause|resume|stop`,
//! and `--preview` of the ones that change something (the node's preview: nothing changes).
//!
//! Every command becomes a [`Request`] of the node's command protocol (checked here first with
//! the protocol's own [`Request::check`], so bad input fails before anything is opened; the
//! rules and defaults are the node's, the same as the HTTP API's), submitted through
//! `smartfolio_node::submit` to the single owner of the data directory:
//! - no daemon running: this process takes the lock, opens the store, the paper exchange and the
//!   runtime at the market's current tick, runs the request and exits;
//! - a daemon holds the lock: the request is queued in the store and this process waits
//!   (`--timeout`) for the daemon to execute it and write its [`Outcome`] (or returns at once
//!   with `--no-wait`).
//!
//! Output: human tables by default, `--json` for the same answer as JSON (decimals as exact
//! strings). Bad input exits 2, runtime failures 1; a failed command changes nothing stored,
//! except a withdrawal the venue under-delivered once its sells started: it exits 1, and the
//! message says how much left the bot (a withdrawal never exits 0 short of its amount).

use crate::InputError;
use crate::common::{self, CommonArgs, print_failure, table};
use crate::config::{self, Config};
use anyhow::Context;
use rust_decimal::Decimal;
use serde_json::Value;
use smartfolio_bot::{CoinAmount, EntryPrice};
use smartfolio_core::targets::{parse_decimal, split_pairs};
use smartfolio_core::{Targets, Trigger, ValidationError, limits};
use smartfolio_node::command::{FromTemplate, Named};
use smartfolio_node::history::{HISTORY_DEFAULT, HISTORY_LIMIT, HistoryList, HistoryQuery};
use smartfolio_node::{CreateSpec, Request, SubmitOptions, Submitted};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON (decimals as exact strings) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for a running daemon to execute the command (at most 30 days).
    #[arg(
        long,
        value_name = "SECONDS",
        global = true,
        default_value = "30",
        allow_negative_numbers = true
    )]
    pub timeout: String,
    /// With a daemon running: queue the command and return at once (prints its number).
    #[arg(long, global = true)]
    pub no_wait: bool,
    /// Show what the command would do at the last prices (its orders, their fees, what it
    /// skips and why), after the same checks; nothing changes. Not for reads.
    #[arg(long, global = true)]
    pub preview: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Create a bot and deploy it at the market's current prices.
    Create(Box<CreateArgs>),
    /// Every bot, with status, value and P&L.
    List,
    /// One bot: holdings against targets, P&L, stop report.
    Show(BotRef),
    /// A page of a bot's rebalances (or --orders, --fills), newest first, with the totals, its
    /// flows and its last snapshot; --before NEXT for the page after.
    History(HistoryArgs),
    /// Print a bot's settings as a TOML profile (`bot create NAME --from FILE` reads it): no
    /// keys, balances or history.
    Export(BotRef),
    /// Bring more quote or coins into a bot (a running bot then rebalances).
    Invest(InvestArgs),
    /// Take quote out of a bot, selling pro rata or from the overweights first.
    Withdraw(WithdrawArgs),
    /// Change a bot's targets, trigger or cooldown (traded at the next rebalance).
    Modify(ModifyArgs),
    /// Rebalance a running bot now, whatever its trigger says (not inside its cooldown unless
    /// --force).
    Rebalance(RebalanceArgs),
    /// Pause a bot: no trading until `resume`.
    Pause(BotRef),
    /// Resume a paused or suspended bot.
    Resume(BotRef),
    /// Stop a bot: sell everything to quote or keep the coins; prints the final report.
    Stop(StopArgs),
}

#[derive(clap::Args, Debug)]
pub struct BotRef {
    /// The bot's id or name.
    pub bot: String,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio bot create core --targets BTC=50,ETH=30,SOL=20 --trigger threshold:5 --invest 10000\n  smartfolio bot create core --template majors --invest 500 [--trigger every:7d]"
)]
pub struct CreateArgs {
    /// A unique name: ASCII letters, digits, `-`, `_`, `.` (or --name).
    #[arg(
        value_name = "NAME",
        required_unless_present = "name",
        conflicts_with = "name"
    )]
    pub bot_name: Option<String>,
    /// The name, as a flag.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A template (`smartfolio template list`): its assets and weights today, and the trigger
    /// and cooldown its card recommends; --targets/--assets, --trigger and --cooldown each
    /// override one of them.
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// With --template: the price history its card reads (default: <data-dir>/history).
    #[arg(long, value_name = "DIR", requires = "template")]
    pub data: Option<PathBuf>,
    /// A profile (`bot export` writes one): its targets, trigger, cooldown, risk settings and
    /// execution style; flags override one each.
    #[arg(long, value_name = "FILE", conflicts_with = "template")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Quote to invest (0 to 1e15).
    #[arg(
        long,
        value_name = "QUOTE",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub invest: String,
    /// Coins brought in from the account: BTC=0.1,ETH=2 (only the difference is traded); a
    /// unit's cost in quote after `@` (BTC=0.1@50000) is their basis for `gains`, else the
    /// market price at the transfer is (flagged).
    #[arg(long, value_name = "ASSET=UNITS[@COST],...")]
    pub coins: Option<String>,
    /// Entry prices: an asset's first buy waits until its price is at or below: BTC=50000.
    #[arg(long, value_name = "ASSET=PRICE,...")]
    pub entry: Option<String>,
    /// Sell to quote and stop at this percent loss against net invested.
    #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
    pub stop_loss: Option<String>,
    /// Sell to quote and stop at this percent gain against net invested.
    #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
    pub take_profit: Option<String>,
    /// How the bot places orders: market, limit (at the touch, re-priced) or maker
    /// (post-only); the config's `[execution]` when not given (its timeout, re-prices,
    /// fallback and guards apply).
    #[arg(long, value_name = "STYLE")]
    pub execution: Option<String>,
    /// The venue account the bot trades on: the config's `account` (the default) or one of
    /// its `[accounts.NAME]`.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
}

/// What `create` sets and `modify` changes: the targets (one of three ways), the trigger and
/// the cooldown.
#[derive(clap::Args, Debug)]
pub struct RuleArgs {
    /// Target weights in percent: BTC=50,ETH=30,SOL=20 (a modify may add and drop assets).
    #[arg(long, value_name = "ASSET=PCT,...", conflicts_with_all = ["targets_from", "assets"])]
    pub targets: Option<String>,
    /// Targets from the JSON that `smartfolio allocate --json` writes.
    #[arg(long, value_name = "FILE", conflicts_with = "assets")]
    pub targets_from: Option<PathBuf>,
    /// Equal weights over these assets: BTC,ETH,SOL.
    #[arg(long, value_name = "ASSET,...")]
    pub assets: Option<String>,
    /// Any trigger in text form (threshold:5, every:1d, daily@08:00|threshold:5, ...).
    #[arg(long, value_name = "RULE", conflicts_with = "threshold")]
    pub trigger: Option<String>,
    /// Shorthand for --trigger threshold:PP.
    #[arg(long, value_name = "PP", allow_negative_numbers = true)]
    pub threshold: Option<String>,
    /// Cooldown after a rebalance, 0 to 366 days (create: the config's cooldown when not
    /// given).
    #[arg(long, value_name = "DURATION")]
    pub cooldown: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The bot's id or name.
    pub bot: String,
    /// Page the bot's orders instead of its rebalances.
    #[arg(long, conflicts_with = "fills")]
    pub orders: bool,
    /// Page the bot's fills instead of its rebalances.
    #[arg(long)]
    pub fills: bool,
    /// At most this many items, 1 to 500 (default 20).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub limit: Option<String>,
    /// The items older than this (the `next` the page before printed: TIME:ID).
    #[arg(long, value_name = "TIME:ID")]
    pub before: Option<String>,
    /// Items at or after this time (a date is its midnight UTC, or a full time).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Items up to this time (a date includes its whole day, UTC).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
}

impl HistoryArgs {
    fn query(&self) -> anyhow::Result<HistoryQuery> {
        let (from_ms, to_ms) = common::time_range(self.from.as_deref(), self.to.as_deref())?;
        let limit = match &self.limit {
            None => HISTORY_DEFAULT,
            Some(t) => t.trim().parse::<u32>().map_err(|_| {
                ValidationError::new(
                    "limit",
                    t,
                    format!("a number of items from 1 to {HISTORY_LIMIT}"),
                )
            })?,
        };
        Ok(HistoryQuery {
            list: if self.orders {
                HistoryList::Orders
            } else if self.fills {
                HistoryList::Fills
            } else {
                HistoryList::Rebalances
            },
            limit,
            before: self.before.clone(),
            from_ms,
            to_ms,
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct InvestArgs {
    /// The bot's id or name.
    pub bot: String,
    /// Quote to invest (more than 0, at most 1e15).
    #[arg(
        long,
        value_name = "QUOTE",
        required_unless_present = "coins",
        allow_negative_numbers = true
    )]
    pub amount: Option<String>,
    /// Coins to bring in: ETH=1, or with a unit's cost in quote as their basis: ETH=1@3000.
    #[arg(long, value_name = "ASSET=UNITS[@COST],...")]
    pub coins: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct WithdrawArgs {
    /// The bot's id or name.
    pub bot: String,
    /// Quote to take out (more than 0, at most 1e15).
    #[arg(long, value_name = "QUOTE", allow_negative_numbers = true)]
    pub amount: String,
    /// pro-rata (sell every asset in proportion) or overweights (sell the overweights first).
    #[arg(long, value_name = "MODE", default_value = "pro-rata")]
    pub mode: String,
}

#[derive(clap::Args, Debug)]
pub struct ModifyArgs {
    /// The bot's id or name.
    pub bot: String,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(clap::Args, Debug)]
pub struct RebalanceArgs {
    /// The bot's id or name.
    pub bot: String,
    /// Rebalance even inside the cooldown that follows the last rebalance.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// The bot's id or name.
    pub bot: String,
    /// Sell every holding to quote, then close the ledger.
    #[arg(
        long,
        required_unless_present = "keep_coins",
        conflicts_with = "keep_coins"
    )]
    pub sell_all: bool,
    /// Keep the coins; close the ledger.
    #[arg(long)]
    pub keep_coins: bool,
}

// ------------------------------------------------------------------------- building requests

fn pairs(
    field: &str,
    text: &str,
    range: limits::Range,
) -> Result<Vec<(String, Decimal)>, ValidationError> {
    let form = "comma-separated ASSET=NUMBER pairs such as BTC=0.5,ETH=2";
    split_pairs(field, text, form)?
        .into_iter()
        .map(|(k, v)| {
            let sym = smartfolio_core::targets::normalize_symbol(field, k)?;
            let d = range.parse(&format!("{field}.{sym}"), v)?;
            Ok((sym, d))
        })
        .collect()
}

impl RuleArgs {
    /// The targets given, in percent form.
    fn targets(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.targets {
            return Ok(Some(Targets::parse(t)?.to_string()));
        }
        if let Some(p) = &self.targets_from {
            let text = std::fs::read_to_string(p).map_err(|e| {
                InputError(format!("cannot read --targets-from {}: {e}", p.display()))
            })?;
            let t = Targets::from_allocation_json(&text)
                .with_context(|| format!("--targets-from {}", p.display()))?;
            return Ok(Some(t.to_string()));
        }
        if let Some(a) = &self.assets {
            let list: Vec<&str> = a.split(',').map(str::trim).collect();
            return Ok(Some(Targets::equal(&list)?.to_string()));
        }
        Ok(None)
    }

    /// The trigger given, in text form.
    fn trigger(&self) -> anyhow::Result<Option<String>> {
        let text = match (&self.trigger, &self.threshold) {
            (Some(t), _) => t.clone(),
            (None, Some(pp)) => format!("threshold:{pp}"),
            (None, None) => return Ok(None),
        };
        let t: Trigger = text.parse()?;
        Ok(Some(t.to_string()))
    }

    /// The cooldown given, in milliseconds.
    fn cooldown_ms(&self) -> anyhow::Result<Option<i64>> {
        Ok(match &self.cooldown {
            Some(c) => Some(config::parse_duration("--cooldown", c)?),
            None => None,
        })
    }
}

/// `--coins BTC=0.1,ETH=2@3000`: units of each asset, and after `@` the cost of one unit in
/// quote when it is known (SPEC §10; without it the gains take the market price, flagged).
fn coins(text: &Option<String>) -> anyhow::Result<Vec<CoinAmount>> {
    let Some(text) = text else {
        return Ok(vec![]);
    };
    let form = "comma-separated ASSET=UNITS or ASSET=UNITS@COST pairs such as BTC=0.1@50000,ETH=2";
    let mut out = Vec::new();
    for (k, v) in split_pairs("coins", text, form)? {
        let asset = smartfolio_core::targets::normalize_symbol("coins", k)?;
        let (units, basis) = match v.split_once('@') {
            Some((u, b)) => (u, Some(b)),
            None => (v, None),
        };
        let quantity = limits::QUANTITY.parse(&format!("coins.{asset}"), units)?;
        let basis = basis
            .map(|b| limits::PRICE.parse(&format!("coins.{asset}.basis"), b))
            .transpose()?;
        out.push(CoinAmount {
            asset,
            quantity,
            basis,
        });
    }
    Ok(out)
}

/// The request of a command line, a create's template resolved by the node (once, here), and
/// checked by the protocol with the node's defaults; what the template gave.
pub fn request(cmd: &Cmd, cfg: &Config) -> anyhow::Result<(Request, Option<FromTemplate>)> {
    let mut req = parse_request(cmd)?;
    let node = common::node_config(cfg);
    if let (Cmd::Create(a), Request::Create { spec }) = (cmd, &mut req)
        && let Some(style) = &a.execution
    {
        // The style given, with the owner's timeout, re-prices, fallback and guards.
        spec.execution = Some(smartfolio_bot::ExecutionConfig {
            style: style
                .parse::<smartfolio_bot::ExecStyle>()
                .map_err(|e| InputError(e.to_string()))?,
            ..cfg.execution.clone()
        });
    }
    if let (Cmd::Create(a), Request::Create { spec }) = (cmd, &mut req)
        && let Some(path) = &a.from
    {
        smartfolio_node::profile::read(path, node.listed_assets().as_deref())?.apply(spec);
    }
    let d = node.defaults();
    let history = match cmd {
        Cmd::Create(a) => a.data.as_deref(),
        _ => None,
    };
    let (req, from) = smartfolio_node::command::resolve(&req, &d, history)?;
    let req = req.into_owned();
    req.check(&d)?;
    Ok((req, from))
}

/// The request of a command line: only its text parsed.
fn parse_request(cmd: &Cmd) -> anyhow::Result<Request> {
    Ok(match cmd {
        Cmd::Create(a) => {
            let targets = match a.rules.targets()? {
                Some(t) => t,
                None if a.template.is_some() || a.from.is_some() => String::new(),
                None => {
                    return Err(InputError(
                        "one of --targets, --targets-from, --assets, --template, --from is \
                         required"
                            .into(),
                    )
                    .into());
                }
            };
            let trigger = a.rules.trigger()?;
            let spec = CreateSpec {
                name: a
                    .bot_name
                    .clone()
                    .or_else(|| a.name.clone())
                    .unwrap_or_default(),
                targets,
                template: a.template.clone(),
                trigger,
                // `--invest 0` (the default) is no quote.
                investment: Some(limits::AMOUNT_OR_ZERO.parse("invest", &a.invest)?)
                    .filter(|q| !q.is_zero()),
                coins: coins(&a.coins)?,
                entry_prices: match &a.entry {
                    Some(e) => pairs("entry", e, limits::PRICE)?
                        .into_iter()
                        .map(|(asset, price)| EntryPrice { asset, price })
                        .collect(),
                    None => vec![],
                },
                stop_loss_pct: a
                    .stop_loss
                    .as_deref()
                    .map(|s| parse_decimal("stop-loss", s, "a percent in (0, 100)"))
                    .transpose()?,
                take_profit_pct: a
                    .take_profit
                    .as_deref()
                    .map(|s| parse_decimal("take-profit", s, "a percent > 0"))
                    .transpose()?,
                cooldown_ms: a.rules.cooldown_ms()?,
                price_margin: None,
                execution: None,
                account: a.account.clone(),
            };
            Request::Create {
                spec: Box::new(spec),
            }
        }
        Cmd::List => Request::List,
        Cmd::Show(b) => Request::Show { bot: b.bot.clone() },
        Cmd::History(h) => Request::History {
            bot: h.bot.clone(),
            page: h.query()?,
        },
        Cmd::Export(b) => Request::Export { bot: b.bot.clone() },
        Cmd::Invest(a) => {
            let amt = a
                .amount
                .as_deref()
                .map(|s| limits::AMOUNT.parse("amount", s))
                .transpose()?;
            let coins = coins(&a.coins)?;
            Request::Invest {
                bot: a.bot.clone(),
                amount: amt,
                coins,
            }
        }
        Cmd::Withdraw(a) => {
            let overweights = match a.mode.trim() {
                "pro-rata" | "pro_rata" => false,
                "overweights" => true,
                other => {
                    return Err(ValidationError::new("mode", other, "pro-rata, overweights").into());
                }
            };
            Request::Withdraw {
                bot: a.bot.clone(),
                amount: limits::AMOUNT.parse("amount", &a.amount)?,
                overweights,
            }
        }
        Cmd::Modify(a) => {
            let targets = a.rules.targets()?;
            let trigger = a.rules.trigger()?;
            let cooldown_ms = a.rules.cooldown_ms()?;
            Request::Modify {
                bot: a.bot.clone(),
                targets,
                trigger,
                cooldown_ms,
            }
        }
        Cmd::Rebalance(a) => Request::Rebalance {
            bot: a.bot.clone(),
            force: a.force,
        },
        Cmd::Pause(b) => Request::Pause { bot: b.bot.clone() },
        Cmd::Resume(b) => Request::Resume { bot: b.bot.clone() },
        Cmd::Stop(a) => Request::Stop {
            bot: a.bot.clone(),
            keep_coins: a.keep_coins,
        },
    })
}

// ------------------------------------------------------------------------------- running

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = args.common.load()?;
    let (req, from) = match request(&args.cmd, &cfg) {
        Ok((r, from)) if args.preview => (Request::Preview { of: Box::new(r) }, from),
        Ok(r) => r,
        Err(e) => {
            if args.json {
                let named = e
                    .downcast_ref::<ValidationError>()
                    .map(Named::from)
                    .unwrap_or_default();
                print_failure(2, &format!("{e:#}"), &named)?;
            }
            return Err(e);
        }
    };
    let timeout = config::parse_seconds("--timeout", &args.timeout)?;
    config::init_logging(cfg.log_format, "warn");
    let opts = SubmitOptions {
        timeout,
        no_wait: args.no_wait,
    };
    let submitted = common::tokio_runtime(false)?.block_on(smartfolio_node::submit(
        common::node_config(&cfg),
        &req,
        opts,
    ))?;
    let outcome = match submitted {
        Submitted::Done(outcome) => outcome,
        Submitted::Queued(id) => {
            println!("queued as command #{id} for the running daemon");
            return Ok(());
        }
    };
    if !outcome.ok {
        let msg = outcome.error.unwrap_or_else(|| "the command failed".into());
        if args.json {
            print_failure(outcome.exit, &msg, &outcome.named)?;
        }
        return Err(if outcome.exit == 2 {
            InputError(msg).into()
        } else {
            anyhow::anyhow!(msg)
        });
    }
    let mut output = outcome.output;
    let text = if args.json {
        if let (Some(f), Some(o)) = (&from, output.as_object_mut()) {
            o.insert("template".into(), serde_json::to_value(f)?);
        }
        serde_json::to_string_pretty(&output)? + "\n"
    } else {
        let mut head = String::new();
        if let Some(f) = &from {
            let _ = writeln!(head, "from template `{}`:", f.template);
            for n in &f.notes {
                let _ = writeln!(head, "  {n}");
            }
        }
        head + &render(&req, &output)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------------------ rendering

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A decimal string rounded for display (JSON keeps the exact value).
fn d(v: &Value, dp: u32) -> String {
    match v {
        Value::String(t) => t
            .parse::<Decimal>()
            .map(|x| x.round_dp(dp).normalize().to_string())
            .unwrap_or_else(|_| t.clone()),
        other => s(other),
    }
}

fn time(v: &Value) -> String {
    v.as_i64()
        .map_or("-".into(), smartfolio_data::format_time_ms)
}

fn render_list(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| {
                    vec![
                        s(&b["id"]),
                        s(&b["name"]),
                        s(&b["status"]),
                        s(&b["targets"]),
                        s(&b["trigger"]),
                        d(&b["value"], 2),
                        d(&b["net_invested"], 2),
                        d(&b["pnl"], 2),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        return "no bots (create one with `smartfolio bot create`)\n".into();
    }
    table(
        &[
            "ID", "NAME", "STATUS", "TARGETS", "TRIGGER", "VALUE", "INVESTED", "P&L",
        ],
        &rows,
    )
}

fn render_show(v: &Value) -> String {
    let sm = &v["summary"];
    let mut out = format!(
        "bot {} `{}`: {}{}\n  targets {}  trigger {}  quote {}\n",
        s(&sm["id"]),
        s(&sm["name"]),
        s(&sm["status"]),
        sm["reason"]
            .as_str()
            .map_or(String::new(), |r| format!(" ({r})")),
        s(&sm["targets"]),
        s(&sm["trigger"]),
        s(&sm["quote"]),
    );
    let rows: Vec<Vec<String>> = v["holdings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    vec![
                        s(&h["asset"]),
                        d(&h["quantity"], 8),
                        d(&h["price"], 8),
                        d(&h["value"], 2),
                        d(&h["weight_pct"], 2),
                        d(&h["target_pct"], 2),
                        d(&h["deviation_pp"], 2),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&table(
        &[
            "ASSET", "QUANTITY", "PRICE", "VALUE", "WEIGHT%", "TARGET%", "DEV pp",
        ],
        &rows,
    ));
    let p = &v["pnl"];
    if !p.is_null() {
        let _ = writeln!(
            out,
            "value {}  invested {}  P&L {} ({}%)  today {}  vs holding {} (hold value {})",
            d(&p["value"], 2),
            d(&p["net_invested"], 2),
            d(&p["total"], 2),
            d(&p["total_pct"], 2),
            d(&p["today"], 2),
            d(&p["rebalancing_gain"], 2),
            d(&p["hold_value"], 2),
        );
    }
    let _ = writeln!(
        out,
        "rebalances {}  last {}",
        s(&v["rebalances"]),
        time(&v["last_rebalance_ms"])
    );
    if !v["stop_report"].is_null() {
        out.push_str(&render_stop(&v["stop_report"]));
    }
    out
}

fn render_stop(r: &Value) -> String {
    let mut out = format!(
        "stopped {} ({}, {}): final value {}  invested {}  P&L {} ({}%)  fees {}  rebalances {}\n",
        time(&r["time_ms"]),
        s(&r["reason"]),
        s(&r["mode"]),
        d(&r["final_value"], 2),
        d(&r["net_invested"], 2),
        d(&r["pnl"], 2),
        d(&r["pnl_pct"], 2),
        d(&r["fees_paid"], 4),
        s(&r["rebalances"]),
    );
    if let Some(rel) = r["released"].as_array() {
        let items: Vec<String> = rel
            .iter()
            .map(|x| format!("{} {}", d(&x[1], 8), s(&x[0])))
            .collect();
        let _ = writeln!(out, "  released to the account: {}", items.join(", "));
    }
    if let Some(u) = r["unsold"].as_array().filter(|u| !u.is_empty()) {
        for x in u {
            let _ = writeln!(out, "  unsold {} {}: {}", d(&x[1], 8), s(&x[0]), s(&x[2]));
        }
    }
    out
}

fn render_rebalance(r: &Value) -> String {
    if r.is_null() {
        return String::new();
    }
    format!(
        "{} ({}): {}; legs {} planned, {} filled, {} skipped; fees {}; value {} → {}\n{}",
        s(&r["kind"]),
        s(&r["reason"]),
        s(&r["status"]),
        s(&r["legs_planned"]),
        s(&r["legs_filled"]),
        s(&r["legs_skipped"]),
        d(&r["fees"], 4),
        d(&r["value_before"], 2),
        d(&r["value_after"], 2),
        render_legs(r),
    )
}

/// A rebalance summary's legs with an order, one line each: what filled, the fees (by the
/// asset paid, and their quote value) and, for a worked leg, the style, orders, re-prices,
/// slices, average price against the plan's and the maker share (and how the slices were
/// sized under `max_volume_share`).
fn render_legs(r: &Value) -> String {
    let mut out = String::new();
    let legs = r["legs"].as_array().map(Vec::as_slice).unwrap_or_default();
    for l in legs.iter().filter(|l| !l["client_id"].is_null()) {
        let x = &l["execution"];
        let paid: Vec<String> = x["fees"]
            .as_object()
            .map(|m| m.iter().map(|(a, q)| format!("{} {a}", d(q, 8))).collect())
            .unwrap_or_default();
        let fees = if paid.is_empty() {
            d(&l["fees"], 4)
        } else {
            format!("{} (value {})", paid.join(" + "), d(&l["fees"], 4))
        };
        let _ = write!(
            out,
            "  {} {} {}: {} of {}; fees {}",
            s(&l["side"]),
            s(&l["asset"]),
            s(&l["outcome"]),
            d(&l["filled_quantity"], 8),
            d(&l["planned_quantity"], 8),
            fees
        );
        if x.is_object() {
            let share = x["maker_share"]
                .as_str()
                .and_then(|t| t.parse::<Decimal>().ok())
                .unwrap_or_default();
            let _ = write!(
                out,
                "; {}, {} order(s), {} re-price(s), {} slice(s); average {} vs plan {} ({} bps); maker {}%",
                s(&x["style"]),
                x["orders"].as_array().map_or(0, Vec::len),
                s(&x["reprices"]),
                s(&x["slices"]),
                d(&x["average_price"], 8),
                d(&x["plan_price"], 8),
                d(&x["slippage_bps"], 2),
                (share * Decimal::from(100)).round_dp(1).normalize()
            );
            if let Some(note) = x["slicing"].as_str() {
                let _ = write!(out, "; {note}");
            }
        }
        out.push('\n');
    }
    out
}

fn render_history(v: &Value) -> String {
    let mut out = format!("bot {} `{}`\n", s(&v["bot"]["id"]), s(&v["bot"]["name"]));
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let list = v["list"].as_str().unwrap_or("rebalances");
    let (headers, rows): (&[&str], Vec<Vec<String>>) = match list {
        "orders" => (
            &[
                "CREATED",
                "SIDE",
                "ASSET",
                "QTY",
                "FILLED",
                "STATUS",
                "CLIENT ID",
            ],
            items
                .iter()
                .map(|o| {
                    vec![
                        time(&o["created_ms"]),
                        s(&o["side"]),
                        s(&o["base"]),
                        s(&o["quantity"]),
                        s(&o["filled_quantity"]),
                        s(&o["status"]),
                        s(&o["client_id"]),
                    ]
                })
                .collect(),
        ),
        "fills" => (
            &["TIME", "SIDE", "ASSET", "QTY", "PRICE", "FEE", "FILL ID"],
            items
                .iter()
                .map(|f| {
                    vec![
                        time(&f["time_ms"]),
                        s(&f["side"]),
                        s(&f["base"]),
                        s(&f["quantity"]),
                        s(&f["price"]),
                        format!("{} {}", s(&f["fee"]), s(&f["fee_asset"])),
                        s(&f["fill_id"]),
                    ]
                })
                .collect(),
        ),
        _ => (
            &[
                "SEQ", "STARTED", "KIND", "STATUS", "FILLED", "FEES", "VALUE", "REASON",
            ],
            items
                .iter()
                .map(|r| {
                    let sm = &r["summary"];
                    vec![
                        s(&r["seq"]),
                        time(&r["started_ms"]),
                        s(&r["kind"]),
                        s(&r["status"]),
                        format!("{}/{}", s(&sm["legs_filled"]), s(&sm["legs_planned"])),
                        d(&sm["fees"], 4),
                        d(&sm["value_before"], 2),
                        s(&r["reason"]),
                    ]
                })
                .collect(),
        ),
    };
    out.push_str(&table(headers, &rows));
    if list == "rebalances" {
        for r in items {
            let legs = render_legs(&r["summary"]);
            if !legs.is_empty() {
                let _ = write!(out, "rebalance {} legs:\n{legs}", s(&r["seq"]));
            }
        }
    }
    let t = &v["totals"];
    let _ = writeln!(
        out,
        "{} of {} {list}, newest first ({} rebalances, {} orders, {} fills; {} flows)",
        items.len(),
        s(&v["total"]),
        s(&t["rebalances"]),
        s(&t["orders"]),
        s(&t["fills"]),
        v["flows"].as_array().map_or(0, Vec::len),
    );
    if let Some(next) = v["next"].as_str() {
        let _ = writeln!(out, "older: --before {next}");
    }
    out
}

fn render(req: &Request, v: &Value) -> String {
    match req {
        Request::List => render_list(v),
        Request::Show { .. } | Request::Modify { .. } => render_show(v),
        Request::Pause { .. } => format!("paused\n{}", render_show(v)),
        Request::Resume { .. } => format!("resumed\n{}", render_show(v)),
        Request::History { .. } => render_history(v),
        Request::Export { .. } => s(&v["profile"]),
        Request::Create { .. } => {
            let mut out = format!("created bot {} `{}`\n", s(&v["id"]), s(&v["name"]));
            out.push_str(&render_rebalance(&v["deploy"]));
            if let Some(n) = v["note"].as_str() {
                let _ = writeln!(out, "{n}");
            }
            out + &render_show(&v["bot"])
        }
        Request::Invest { .. } => render_rebalance(&v["rebalance"]) + &render_show(&v["bot"]),
        Request::Rebalance { .. } => {
            let r = &v["rebalance"];
            let head = if r.is_null() {
                format!(
                    "no rebalance: {}\n",
                    v["note"].as_str().unwrap_or("nothing to trade")
                )
            } else {
                render_rebalance(r)
            };
            head + &render_show(&v["bot"])
        }
        Request::Withdraw { .. } => {
            let w = &v["withdrawal"];
            format!(
                "withdrew {} of {} requested\n{}{}",
                d(&w["withdrawn"], 8),
                d(&w["requested"], 8),
                render_rebalance(&w["rebalance"]),
                render_show(&v["bot"])
            )
        }
        Request::Stop { .. } => render_stop(&v["report"]),
        Request::Preview { .. } => render_preview(v),
    }
}

/// A command's preview: what it would send, what it would skip, and its notes.
fn render_preview(v: &Value) -> String {
    let mut out = format!(
        "preview (nothing changes): {}
",
        s(&v["summary"])
    );
    let legs = |k: &str| -> Vec<Vec<String>> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        vec![
                            s(&l["side"]),
                            s(&l["asset"]),
                            d(&l["quantity"], 8),
                            d(&l["price"], 8),
                            d(&l["notional"], 2),
                            d(&l["fee"], 4),
                            s(&l["reason"]),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let headers = [
        "SIDE", "ASSET", "QUANTITY", "PRICE", "NOTIONAL", "FEE", "REASON",
    ];
    for (k, title) in [("legs", "orders"), ("skipped", "not sent")] {
        let rows = legs(k);
        if !rows.is_empty() {
            let _ = writeln!(out, "{title}:");
            out.push_str(&table(&headers, &rows));
        }
    }
    let _ = writeln!(
        out,
        "fees {}; value {} → {}",
        d(&v["fees"], 4),
        d(&v["value_before"], 2),
        d(&v["value_after"], 2)
    );
    for n in v["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "note: {}", s(n));
    }
    out
}
