//! The command protocol, below the CLI and the HTTP API: a typed command ([`Request`]),
//! validated once ([`Request::check`], [`CreateSpec::config`]) with its defaults decided once
//! ([`Defaults`], [`DEFAULT_TRIGGER`]), run on the runtime ([`run`]) into a typed reply
//! ([`Reply`]). The CLI runs a request in-process when no daemon runs, or queues it (as JSON)
//! in the store for the daemon, whose driver loop claims and executes queued requests between
//! ticks ([`run_queued`]) and writes an [`Outcome`]; the server's handlers map their JSON onto
//! the same [`Request`] and call [`run`].
//!
//! Rules decided here, once, for every caller: a bot is funded, and an investment is made, with
//! quote (> 0 when given) and/or coins, at least one of them;
//! the cooldown is 0 to 366 days ([`smartfolio_bot::MAX_COOLDOWN_MS`], checked by the config);
//! a new bot's quote, account, venue, fee rate, cooldown and snapshot interval come from the
//! owner's [`Defaults`]; a modify changes at least one thing; "rebalance now" ignores the
//! trigger but not the cooldown unless forced; a create naming a template takes what it
//! does not give from the template ([`crate::template`], resolved once by [`resolve`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smartfolio_bot::{
    BotConfig, BotError, BotSummary, BotView, CoinAmount, EntryPrice, PlanPreview,
    RebalanceSummary, Runtime, StopMode, StopReport, WithdrawView,
};
use smartfolio_core::{Trigger, ValidationError};
use smartfolio_store::{AccountKey, CommandQueue, StoreError, StoreResult};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

pub use crate::template::FromTemplate;

/// The trigger of a bot created without one.
pub const DEFAULT_TRIGGER: &str = "threshold:3";

/// What a new bot gets from the owner of the data directory, not from the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub venue: String,
    pub account: String,
    /// Every account a bot may be created for, with its venue (`(account, venue)`), the
    /// default first; empty: the default account only.
    pub accounts: Vec<(String, String)>,
    pub quote: String,
    pub fee_rate: Decimal,
    pub cooldown_ms: i64,
    pub snapshot_interval_ms: i64,
    /// The owner's data directory: the user's templates, and the price history their cards
    /// read (`<data-dir>/history`). None: the built-in templates, no history.
    pub data_dir: Option<PathBuf>,
    /// How new bots place their orders unless a create says otherwise.
    pub execution: smartfolio_bot::ExecutionConfig,
}

impl Defaults {
    /// The owner's venue account: the one its new bots go to, whose queued commands it runs.
    pub fn account_key(&self) -> AccountKey {
        AccountKey::new(&self.venue, &self.account)
    }

    /// The account a create names (`None`: the default one) and its venue; an account the
    /// owner does not configure is refused, naming the configured ones.
    pub fn account_of(&self, account: Option<&str>) -> Result<(String, String), ValidationError> {
        let Some(name) = account.map(str::trim) else {
            return Ok((self.account.clone(), self.venue.clone()));
        };
        if name == self.account {
            return Ok((self.account.clone(), self.venue.clone()));
        }
        if let Some((a, v)) = self.accounts.iter().find(|(a, _)| a == name) {
            return Ok((a.clone(), v.clone()));
        }
        let mut allowed: Vec<String> = vec![format!("{} ({})", self.account, self.venue)];
        for (a, v) in &self.accounts {
            if *a != self.account {
                allowed.push(format!("{a} ({v})"));
            }
        }
        Err(ValidationError::new(
            "account",
            name,
            format!("a configured account: {}", allowed.join(", ")),
        ))
    }
}

impl Default for Defaults {
    /// [`BotConfig::new`]'s defaults.
    fn default() -> Self {
        let c = BotConfig::new("x", "", DEFAULT_TRIGGER, Decimal::ZERO)
            .expect("the default trigger parses");
        Defaults {
            venue: c.venue,
            account: c.account,
            accounts: vec![],
            quote: c.quote,
            fee_rate: c.fee_rate,
            cooldown_ms: c.cooldown_ms,
            snapshot_interval_ms: c.snapshot_interval_ms,
            data_dir: None,
            execution: c.execution,
        }
    }
}

/// A new bot as a command gives it; everything else comes from [`Defaults`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateSpec {
    pub name: String,
    /// Percent form, `BTC=50,ETH=30,SOL=20`; empty with a template: the template's.
    #[serde(default)]
    pub targets: String,
    /// A template's name: the targets, trigger and cooldown not given come from it
    /// ([`crate::template::resolve`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Text form; [`DEFAULT_TRIGGER`] when none.
    #[serde(default)]
    pub trigger: Option<String>,
    /// Quote invested (> 0 when given; required unless coins are given).
    #[serde(default)]
    pub investment: Option<Decimal>,
    /// Coins brought in from the account.
    #[serde(default)]
    pub coins: Vec<CoinAmount>,
    #[serde(default)]
    pub entry_prices: Vec<EntryPrice>,
    #[serde(default)]
    pub stop_loss_pct: Option<Decimal>,
    #[serde(default)]
    pub take_profit_pct: Option<Decimal>,
    /// The owner's default cooldown when none.
    #[serde(default)]
    pub cooldown_ms: Option<i64>,
    /// Buys' slippage margin (a fraction in [0, 0.1]); the bot default when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_margin: Option<Decimal>,
    /// How the bot places its orders; the owner's `[execution]` when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<smartfolio_bot::ExecutionConfig>,
    /// The venue account the bot trades on (one the owner configures); the default account
    /// when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl CreateSpec {
    /// The one way a bot's config is built: the spec over the owner's defaults (its template
    /// resolved first, when it names one), validated.
    pub fn config(&self, d: &Defaults) -> Result<BotConfig, ValidationError> {
        if self.template.is_some() {
            return crate::template::resolve(self, d, None)?.0.config(d);
        }
        let trigger = self.trigger.as_deref().unwrap_or(DEFAULT_TRIGGER);
        let quote = self.investment.unwrap_or_default();
        let (account, venue) = d.account_of(self.account.as_deref())?;
        let mut c = BotConfig::new(&self.name, &self.targets, trigger, quote)?;
        (c.account, c.venue) = (account, venue);
        c.quote = d.quote.clone();
        c.fee_rate = d.fee_rate;
        c.snapshot_interval_ms = d.snapshot_interval_ms;
        c.cooldown_ms = self.cooldown_ms.unwrap_or(d.cooldown_ms);
        c.investment.coins = self.coins.clone();
        c.entry_prices = self.entry_prices.clone();
        c.stop_loss_pct = self.stop_loss_pct;
        c.take_profit_pct = self.take_profit_pct;
        if let Some(m) = self.price_margin {
            c.price_margin = m;
        }
        c.execution = self
            .execution
            .clone()
            .unwrap_or_else(|| d.execution.clone());
        c.validate()?;
        c.risk()?;
        funded("investment", self.investment, &self.coins)?;
        Ok(c)
    }
}

/// Quote (> 0 when given) and/or coins, and at least one of them.
fn funded(
    field: &str,
    quote: Option<Decimal>,
    coins: &[CoinAmount],
) -> Result<(), ValidationError> {
    match quote {
        Some(q) if q <= Decimal::ZERO => Err(ValidationError::new(
            field,
            q.to_string(),
            "an amount > 0 (leave it out to bring only coins)",
        )),
        None if coins.is_empty() => Err(ValidationError::new(
            field,
            "",
            "a value: quote > 0 is required unless coins are given",
        )),
        _ => Ok(()),
    }
}

/// A command as the owner of the data directory executes it (queued as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Create {
        spec: Box<CreateSpec>,
    },
    List,
    Show {
        bot: String,
    },
    /// One page of the bot's rebalances, orders or fills ([`crate::history`]).
    History {
        bot: String,
        #[serde(default)]
        page: crate::history::HistoryQuery,
    },
    /// The bot's settings as a profile ([`crate::profile`]).
    Export {
        bot: String,
    },
    /// Quote (`amount`, > 0 when given) and/or coins.
    Invest {
        bot: String,
        #[serde(default)]
        amount: Option<Decimal>,
        #[serde(default)]
        coins: Vec<CoinAmount>,
    },
    Withdraw {
        bot: String,
        amount: Decimal,
        overweights: bool,
    },
    Modify {
        bot: String,
        targets: Option<String>,
        trigger: Option<String>,
        cooldown_ms: Option<i64>,
    },
    /// Rebalance now whatever the trigger says; inside the cooldown only with `force`.
    Rebalance {
        bot: String,
        #[serde(default)]
        force: bool,
    },
    Pause {
        bot: String,
    },
    Resume {
        bot: String,
    },
    Stop {
        bot: String,
        keep_coins: bool,
    },
    /// What `of` (a command that changes something) would do at the last prices; nothing is
    /// stored and no order is sent ([`preview`]).
    Preview {
        of: Box<Request>,
    },
}

impl Request {
    /// The bot it names (a preview's: the one its command names); None for a new bot and the
    /// list.
    pub fn bot(&self) -> Option<&str> {
        match self {
            Request::Create { .. } | Request::List => None,
            Request::Preview { of } => of.bot(),
            Request::Show { bot }
            | Request::History { bot, .. }
            | Request::Export { bot }
            | Request::Invest { bot, .. }
            | Request::Withdraw { bot, .. }
            | Request::Modify { bot, .. }
            | Request::Rebalance { bot, .. }
            | Request::Pause { bot }
            | Request::Resume { bot }
            | Request::Stop { bot, .. } => Some(bot),
        }
    }

    /// Reads, previews included, change nothing: they skip recovery (which may write).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Request::List
                | Request::Show { .. }
                | Request::History { .. }
                | Request::Export { .. }
                | Request::Preview { .. }
        )
    }

    /// The checks that need no bot: every caller runs them (the CLI before it opens anything,
    /// [`run`] again for requests that come from elsewhere).
    pub fn check(&self, d: &Defaults) -> Result<(), ValidationError> {
        match self {
            Request::Create { spec } => spec.config(d).map(drop),
            Request::Invest { amount, coins, .. } => funded("amount", *amount, coins),
            Request::Modify {
                targets,
                trigger,
                cooldown_ms,
                ..
            } => {
                if targets.is_none() && trigger.is_none() && cooldown_ms.is_none() {
                    return Err(ValidationError::new(
                        "targets",
                        "",
                        "at least one of targets, trigger, cooldown",
                    ));
                }
                if let Some(t) = trigger {
                    t.parse::<Trigger>()?;
                }
                Ok(())
            }
            Request::Preview { of } => of.check(d),
            Request::History { page, .. } => page.check(),
            _ => Ok(()),
        }
    }
}

/// What a command did: the typed reply. Serialized untagged, each as the JSON object the CLI
/// prints with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Created {
        id: i64,
        name: String,
        /// The initial rebalance, when the deploy ran now and traded.
        deploy: Option<RebalanceSummary>,
        /// The deploy failed now (it is retried on the owner's ticks).
        deploy_error: Option<String>,
        note: Option<String>,
        /// What the template gave, when the command named one.
        #[serde(skip_serializing_if = "Option::is_none")]
        template: Option<FromTemplate>,
        bot: Box<BotView>,
    },
    List(Vec<BotSummary>),
    Bot(Box<BotView>),
    History(Box<crate::history::HistoryPage>),
    Invested {
        rebalance: Option<RebalanceSummary>,
        bot: Box<BotView>,
    },
    Withdrew {
        withdrawal: WithdrawView,
        bot: Box<BotView>,
    },
    Rebalanced {
        rebalance: Option<RebalanceSummary>,
        /// Why nothing traded (nothing was recorded), when `rebalance` is none.
        note: Option<String>,
        bot: Box<BotView>,
    },
    Stopped {
        report: Box<StopReport>,
        bot: Box<BotView>,
    },
    Preview(Box<PlanPreview>),
    /// A profile's TOML text.
    Profile {
        profile: String,
    },
}

/// What a command did, as the daemon writes it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// The exit code: 0, 1 (runtime failure) or 2 (bad input).
    pub exit: u8,
    pub output: Value,
    pub error: Option<String>,
    /// What a failure names: field, value as given, what is allowed.
    #[serde(default, flatten)]
    pub named: Named,
    /// What kind of refusal or failure it was (a bot's error), which the HTTP API answers with
    /// its status whether the command ran in its process or was queued (`smartfolio serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ErrorClass>,
}

/// The kinds of a command's refusal or failure, as the HTTP API tells them apart by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The request itself is invalid (a field out of its range or grammar).
    Invalid,
    /// No such bot.
    UnknownBot,
    /// A valid request the current state refuses (the bot's status, its holdings, the
    /// account's funds, the venue's minimums or listing).
    Conflict,
    /// A withdrawal the venue under-delivered once its sells started.
    Shortfall,
    /// No price yet for an asset the command needs.
    NoPrice,
    /// Anything else: the store, the venue.
    Failed,
}

impl ErrorClass {
    pub fn of(e: &BotError) -> Self {
        match e {
            BotError::Invalid(_) => ErrorClass::Invalid,
            BotError::UnknownBot(_) => ErrorClass::UnknownBot,
            BotError::UnknownInstrument { .. }
            | BotError::WrongState { .. }
            | BotError::BelowMinimum { .. }
            | BotError::OverWithdrawal(_)
            | BotError::InsufficientFunds { .. } => ErrorClass::Conflict,
            BotError::WithdrawShortfall(_) => ErrorClass::Shortfall,
            BotError::NoPrice(_) => ErrorClass::NoPrice,
            _ => ErrorClass::Failed,
        }
    }
}

impl Outcome {
    pub fn ok(output: Value) -> Self {
        Self {
            ok: true,
            exit: 0,
            output,
            error: None,
            named: Named::default(),
            class: None,
        }
    }
    pub fn failed(exit: u8, error: String) -> Self {
        Self {
            ok: false,
            exit,
            output: Value::Null,
            error: Some(error),
            named: Named::default(),
            class: None,
        }
    }
    /// The outcome of a failed command.
    pub fn of_error(e: &BotError) -> Self {
        let mut o = Outcome::failed(exit_code(e), e.to_string());
        o.named = named(e);
        o.class = Some(ErrorClass::of(e));
        o
    }
}

/// What an error names, in the protocol's words: the field of the command it is about, the
/// value as given and what is allowed. The CLI's `--json` failure and the HTTP API's error body
/// carry the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub field: Option<String>,
    pub value: Option<String>,
    pub allowed: Option<String>,
}

impl From<&ValidationError> for Named {
    fn from(v: &ValidationError) -> Self {
        Named {
            field: Some(protocol_field(&v.field).to_string()),
            value: Some(v.value.clone()),
            allowed: Some(v.allowed.clone()),
        }
    }
}

/// What `e` names ([`Named`]); nothing for a failure that is not about the command's input or
/// the bot's state (the store, the venue).
pub fn named(e: &BotError) -> Named {
    let (field, value, allowed) = match e {
        BotError::Invalid(v) => return Named::from(v),
        BotError::UnknownBot(b) => (
            "bot",
            b.clone(),
            Some("the id or name of an existing bot".to_string()),
        ),
        BotError::WrongState { status, .. } => ("status", status.clone(), None),
        BotError::BelowMinimum {
            value,
            minimum,
            quote,
            ..
        } => (
            "investment",
            value.to_string(),
            Some(format!("at least {minimum} {quote}")),
        ),
        BotError::OverWithdrawal(r) => (
            "amount",
            r.amount.to_string(),
            Some(format!("at most {} {}", r.largest, r.quote)),
        ),
        BotError::WithdrawShortfall(s) => ("amount", s.requested.to_string(), None),
        BotError::InsufficientFunds {
            asset,
            available,
            needed,
        } => (
            "investment",
            format!("{needed} {asset}"),
            Some(format!(
                "at most {available} {asset} (unallocated on the account)"
            )),
        ),
        BotError::UnknownInstrument { asset, .. } => (
            "targets",
            asset.clone(),
            Some("assets the venue lists".to_string()),
        ),
        BotError::NoPrice(a) => ("targets", a.clone(), None),
        _ => return Named::default(),
    };
    Named {
        field: Some(field.to_string()),
        value: Some(value),
        allowed,
    }
}

/// A field as the protocol (and the HTTP API's JSON) names it, from the name a validation gave
/// it (config validation and the core name some fields as the command line spells them).
pub fn protocol_field(field: &str) -> &str {
    match field {
        "stop-loss" => "stop_loss_pct",
        "take-profit" => "take_profit_pct",
        "cooldown" | "--cooldown" => "cooldown_ms",
        "investment.quote" => "investment",
        "entry" | "entry-price" => "entry_prices",
        other => other,
    }
}

/// 2 for the user's input (unknown bot, wrong state, below minimum, over-withdrawal, invalid
/// values, a database from a newer smartfolio), 1 for runtime failures.
pub fn exit_code(e: &BotError) -> u8 {
    match e {
        BotError::Invalid(_)
        | BotError::UnknownBot(_)
        | BotError::WrongState { .. }
        | BotError::BelowMinimum { .. }
        | BotError::OverWithdrawal { .. }
        | BotError::InsufficientFunds { .. }
        | BotError::UnknownInstrument { .. } => 2,
        BotError::Store(StoreError::NewerVersion { .. } | StoreError::Corrupt { .. }) => 2,
        _ => 1,
    }
}

/// `req` with a create's template resolved ([`crate::template::resolve`]; `history` overrides
/// the folder its card reads), and what the template gave; `req` itself otherwise. A caller
/// that resolves before it checks or submits computes the template's card once.
pub fn resolve<'a>(
    req: &'a Request,
    d: &Defaults,
    history: Option<&Path>,
) -> Result<(Cow<'a, Request>, Option<FromTemplate>), ValidationError> {
    match req {
        Request::Create { spec } if spec.template.is_some() => {
            let (spec, from) = crate::template::resolve(spec, d, history)?;
            Ok((
                Cow::Owned(Request::Create {
                    spec: Box::new(spec),
                }),
                from,
            ))
        }
        Request::Preview { of } => match resolve(of, d, history)? {
            (Cow::Owned(of), from) => Ok((Cow::Owned(Request::Preview { of: Box::new(of) }), from)),
            (Cow::Borrowed(_), from) => Ok((Cow::Borrowed(req), from)),
        },
        _ => Ok((Cow::Borrowed(req), None)),
    }
}

/// Execute a request on a runtime that owns the exchange, as an [`Outcome`].
pub async fn execute(rt: &mut Runtime, req: &Request, d: &Defaults, deploy_now: bool) -> Outcome {
    match run(rt, req, d, deploy_now).await {
        Ok(r) => match serde_json::to_value(&r) {
            Ok(v) => Outcome::ok(v),
            Err(e) => Outcome::failed(1, format!("encoding the reply: {e}")),
        },
        Err(e) => Outcome::of_error(&e),
    }
}

/// Run a request (checked first, [`Request::check`]). `create` deploys at once when
/// `deploy_now`, else on the owner's next tick.
pub async fn run(
    rt: &mut Runtime,
    req: &Request,
    d: &Defaults,
    deploy_now: bool,
) -> Result<Reply, BotError> {
    let (req, template) = resolve(req, d, None)?;
    let req = req.as_ref();
    req.check(d)?;
    let bot_view = |v: BotView| Box::new(v);
    match req {
        Request::Create { spec } => {
            let id = rt.create(spec.config(d)?).await?;
            let (mut deploy, mut deploy_error, mut note) = (None, None, None);
            if deploy_now {
                match rt.deploy(id).await {
                    Ok(s) => deploy = s,
                    Err(e) => {
                        note = Some(format!(
                            "created; the deploy failed ({e}) and is retried on the daemon's ticks"
                        ));
                        deploy_error = Some(e.to_string());
                    }
                }
            } else {
                note = Some("created; it deploys on the daemon's first tick".into());
            }
            let view = rt.show(id).await?;
            if note.is_none() && view.summary.status != "running" {
                note = Some(format!(
                    "created; status {}: the rest of the deploy happens on the daemon's ticks",
                    view.summary.status
                ));
            }
            Ok(Reply::Created {
                id,
                name: view.summary.name.clone(),
                deploy,
                deploy_error,
                note,
                template,
                bot: bot_view(view),
            })
        }
        Request::List => Ok(Reply::List(rt.list())),
        Request::Preview { of } => Ok(Reply::Preview(Box::new(preview(rt, of, d).await?))),
        Request::Show { bot } => {
            let id = rt.resolve(bot)?;
            Ok(Reply::Bot(bot_view(rt.show(id).await?)))
        }
        Request::History { bot, page } => {
            let id = rt.resolve(bot)?;
            Ok(Reply::History(Box::new(
                crate::history::page(rt, id, page).await?,
            )))
        }
        Request::Export { bot } => {
            let id = rt.resolve(bot)?;
            let profile = crate::profile::export(&rt.show(id).await?.config)?;
            Ok(Reply::Profile { profile })
        }
        Request::Invest { bot, amount, coins } => {
            let id = rt.resolve(bot)?;
            let rebalance = rt
                .invest(id, amount.unwrap_or_default(), coins.clone())
                .await?;
            Ok(Reply::Invested {
                rebalance,
                bot: bot_view(rt.show(id).await?),
            })
        }
        Request::Withdraw {
            bot,
            amount,
            overweights,
        } => {
            let id = rt.resolve(bot)?;
            let withdrawal = rt.withdraw(id, *amount, *overweights).await?;
            Ok(Reply::Withdrew {
                withdrawal,
                bot: bot_view(rt.show(id).await?),
            })
        }
        Request::Modify {
            bot,
            targets,
            trigger,
            cooldown_ms,
        } => {
            let id = rt.resolve(bot)?;
            let trigger = trigger.as_deref().map(str::parse::<Trigger>).transpose()?;
            let view = rt
                .modify(id, targets.as_deref(), trigger, *cooldown_ms)
                .await?;
            Ok(Reply::Bot(bot_view(view)))
        }
        Request::Rebalance { bot, force } => {
            let id = rt.resolve(bot)?;
            let done = rt.rebalance_now(id, *force).await?;
            Ok(Reply::Rebalanced {
                rebalance: done.rebalance,
                note: done.note,
                bot: bot_view(rt.show(id).await?),
            })
        }
        Request::Pause { bot } => {
            let id = rt.resolve(bot)?;
            rt.pause(id).await?;
            Ok(Reply::Bot(bot_view(rt.show(id).await?)))
        }
        Request::Resume { bot } => {
            let id = rt.resolve(bot)?;
            rt.resume(id).await?;
            Ok(Reply::Bot(bot_view(rt.show(id).await?)))
        }
        Request::Stop { bot, keep_coins } => {
            let id = rt.resolve(bot)?;
            let report = rt
                .stop(id, stop_mode(*keep_coins), "stopped by command")
                .await?;
            Ok(Reply::Stopped {
                report: Box::new(report),
                bot: bot_view(rt.show(id).await?),
            })
        }
    }
}

fn stop_mode(keep_coins: bool) -> StopMode {
    if keep_coins {
        StopMode::KeepCoins
    } else {
        StopMode::SellAll
    }
}

/// What a command that changes something would do, at the last prices, after the same checks
/// as [`run`]; nothing is stored and no order is sent. The prices the preview reads are fetched
/// first (the runtime's `price_*` step, as the command itself does). Reads have no preview.
pub async fn preview(
    rt: &mut Runtime,
    req: &Request,
    d: &Defaults,
) -> Result<PlanPreview, BotError> {
    let (req, _) = resolve(req, d, None)?;
    let req = req.as_ref();
    req.check(d)?;
    let bot = match req {
        Request::Create { spec } => {
            let config = spec.config(d)?;
            rt.price_create(&config).await?;
            return rt.preview_create(&config).await;
        }
        Request::List
        | Request::Show { .. }
        | Request::History { .. }
        | Request::Export { .. }
        | Request::Preview { .. } => {
            return Err(ValidationError::new(
                "action",
                "read",
                "a command that changes something (reads and previews have no preview)",
            )
            .into());
        }
        Request::Invest { bot, .. }
        | Request::Withdraw { bot, .. }
        | Request::Modify { bot, .. }
        | Request::Rebalance { bot, .. }
        | Request::Pause { bot }
        | Request::Resume { bot }
        | Request::Stop { bot, .. } => bot,
    };
    let id = rt.resolve(bot)?;
    match req {
        Request::Invest { amount, coins, .. } => {
            let amount = amount.unwrap_or_default();
            rt.price_invest(id, amount, coins).await?;
            rt.preview_invest(id, amount, coins.clone()).await
        }
        Request::Withdraw {
            amount,
            overweights,
            ..
        } => {
            rt.price_withdraw(id, *amount).await?;
            rt.preview_withdraw(id, *amount, *overweights).await
        }
        Request::Modify {
            targets,
            trigger,
            cooldown_ms,
            ..
        } => {
            let trigger = trigger.as_deref().map(str::parse::<Trigger>).transpose()?;
            rt.price_modify(id, targets.as_deref()).await?;
            rt.preview_modify(id, targets.as_deref(), trigger, *cooldown_ms)
                .await
        }
        Request::Rebalance { force, .. } => {
            rt.price_rebalance(id, *force).await?;
            rt.preview_rebalance(id, *force)
        }
        Request::Pause { .. } => rt.preview_pause(id),
        Request::Resume { .. } => rt.preview_resume(id),
        Request::Stop { keep_coins, .. } => {
            let mode = stop_mode(*keep_coins);
            rt.price_stop(id, mode).await?;
            rt.preview_stop(id, mode).await
        }
        // Returned above.
        Request::Create { .. }
        | Request::List
        | Request::Show { .. }
        | Request::History { .. }
        | Request::Export { .. }
        | Request::Preview { .. } => {
            Err(ValidationError::new("action", "", "a command on an existing bot").into())
        }
    }
}

/// The result a command left `running` by a process that died gets: failed, never run again.
pub fn interrupted_outcome() -> Outcome {
    Outcome::failed(
        1,
        "the daemon stopped while running this command; check the bot with `smartfolio bot show`"
            .into(),
    )
}

/// Mark the commands a dead owner left `running` as failed ([`interrupted_outcome`]); returns
/// how many. The owner of a data directory calls it once, before it executes anything, for
/// every account (`held` None); a worker taking an account over, for that account's.
pub async fn fail_interrupted(
    queue: &dyn CommandQueue,
    held: Option<&[AccountKey]>,
    now_ms: i64,
) -> StoreResult<u64> {
    let text = serde_json::to_string(&interrupted_outcome()).unwrap_or_else(|_| "{}".into());
    queue.interrupt_running_commands(held, &text, now_ms).await
}

/// Claim and execute every queued command of the owner's venue account (`d`'s), in order,
/// each claimed in its own transaction before it runs (a kill leaves it `running`, and the
/// next owner fails it). Commands for other accounts stay queued for their owners. Returns how
/// many ran. Only a store failure of the queue itself is an error.
pub async fn run_queued(
    queue: &dyn CommandQueue,
    rt: &mut Runtime,
    d: &Defaults,
) -> StoreResult<u64> {
    let held = [d.account_key()];
    let mut n = 0;
    while let Some(cmd) = queue.claim_command(&held).await? {
        n += 1;
        let outcome = match serde_json::from_str::<Request>(&cmd.command) {
            Ok(req) => {
                tracing::info!(command = cmd.id, request = %cmd.command, "executing command");
                execute(rt, &req, d, true).await
            }
            Err(e) => Outcome::failed(2, format!("unreadable command #{}: {e}", cmd.id)),
        };
        let text = serde_json::to_string(&outcome).unwrap_or_else(|_| "{}".into());
        queue
            .finish_command(cmd.id, outcome.ok, &text, wall_ms())
            .await?;
    }
    Ok(n)
}

/// The wall clock (command bookkeeping only; bots run on market time).
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Defaults {
        Defaults {
            venue: "paper".into(),
            account: "acct".into(),
            accounts: vec![
                ("acct".into(), "paper".into()),
                ("okx-main".into(), "okx".into()),
            ],
            quote: "USDC".into(),
            fee_rate: Decimal::new(2, 3),
            cooldown_ms: 60_000,
            snapshot_interval_ms: 300_000,
            data_dir: None,
            execution: Default::default(),
        }
    }

    fn spec() -> CreateSpec {
        CreateSpec {
            name: "b".into(),
            targets: "BTC=50,ETH=50".into(),
            investment: Some(Decimal::from(1000)),
            ..CreateSpec::default()
        }
    }

    #[test]
    fn a_create_names_a_configured_account_or_gets_the_default() {
        let d = owner();
        let c = spec().config(&d).unwrap();
        assert_eq!((c.account.as_str(), c.venue.as_str()), ("acct", "paper"));
        let mut s = spec();
        s.account = Some("okx-main".into());
        let c = s.config(&d).unwrap();
        assert_eq!((c.account.as_str(), c.venue.as_str()), ("okx-main", "okx"));
        s.account = Some("gate-1".into());
        let e = s.config(&d).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("account", "gate-1"));
        assert_eq!(
            e.allowed,
            "a configured account: acct (paper), okx-main (okx)"
        );
        // The queued form carries the account; without one it is left out.
        let text = serde_json::to_string(&Request::Create { spec: Box::new(s) }).unwrap();
        assert!(text.contains("\"account\":\"gate-1\""), "{text}");
        let text = serde_json::to_string(&Request::Create {
            spec: Box::new(spec()),
        })
        .unwrap();
        assert!(!text.contains("account"), "{text}");
    }

    fn field(r: Result<BotConfig, ValidationError>) -> String {
        protocol_field(&r.expect_err("refused").field).to_string()
    }

    #[test]
    fn a_new_bot_takes_what_the_command_does_not_give_from_the_owner() {
        let c = spec().config(&owner()).unwrap();
        assert_eq!(c.quote, "USDC");
        assert_eq!(c.account, "acct");
        assert_eq!(c.fee_rate, Decimal::new(2, 3));
        assert_eq!(c.cooldown_ms, 60_000);
        // The node's interval, never a default of the API's.
        assert_eq!(c.snapshot_interval_ms, 300_000);
        assert_eq!(c.trigger.to_string(), DEFAULT_TRIGGER);
        let mut s = spec();
        s.cooldown_ms = Some(0);
        assert_eq!(s.config(&owner()).unwrap().cooldown_ms, 0);
    }

    #[test]
    fn a_bot_is_funded_with_quote_and_or_coins() {
        let coins = vec![CoinAmount {
            asset: "BTC".into(),
            quantity: Decimal::new(2, 3),
            basis: None,
        }];
        let mut s = spec();
        s.investment = None;
        assert_eq!(field(s.config(&owner())), "investment");
        s.coins = coins.clone();
        let c = s.config(&owner()).unwrap();
        assert_eq!(c.investment.quote, Decimal::ZERO);
        assert_eq!(c.investment.coins, coins);
        s.investment = Some(Decimal::ZERO);
        assert_eq!(field(s.config(&owner())), "investment");
        let invest = |amount, coins| Request::Invest {
            bot: "b".into(),
            amount,
            coins,
        };
        assert!(invest(None, coins.clone()).check(&owner()).is_ok());
        assert_eq!(
            invest(None, vec![]).check(&owner()).unwrap_err().field,
            "amount"
        );
        assert_eq!(
            invest(Some(Decimal::ZERO), coins)
                .check(&owner())
                .unwrap_err()
                .field,
            "amount"
        );
    }

    #[test]
    fn the_cooldown_is_at_most_366_days() {
        let mut s = spec();
        s.cooldown_ms = Some(smartfolio_bot::MAX_COOLDOWN_MS);
        assert!(s.config(&owner()).is_ok());
        s.cooldown_ms = Some(smartfolio_bot::MAX_COOLDOWN_MS + 1);
        assert_eq!(field(s.config(&owner())), "cooldown_ms");
        s.cooldown_ms = Some(-1);
        assert_eq!(field(s.config(&owner())), "cooldown_ms");
    }

    #[test]
    fn a_modify_changes_something_and_its_trigger_parses() {
        let modify = |trigger: Option<&str>| Request::Modify {
            bot: "b".into(),
            targets: None,
            trigger: trigger.map(str::to_string),
            cooldown_ms: None,
        };
        assert_eq!(modify(None).check(&owner()).unwrap_err().field, "targets");
        assert!(modify(Some("threshold:2")).check(&owner()).is_ok());
        assert!(modify(Some("sometimes")).check(&owner()).is_err());
    }

    #[test]
    fn a_rebalance_request_reads_force_as_false_when_absent() {
        let r: Request = serde_json::from_str(r#"{"cmd":"rebalance","bot":"b"}"#).unwrap();
        assert_eq!(
            r,
            Request::Rebalance {
                bot: "b".into(),
                force: false
            }
        );
    }
}
