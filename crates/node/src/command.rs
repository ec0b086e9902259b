//! The command protocol between a process and the owner of a data directory: a [`Request`] is
//! executed on the runtime ([`execute`]) and answered by an [`Outcome`]. The CLI runs a request
//! in-process when no daemon runs, or queues it (as JSON) in the store for the daemon, whose
//! driver loop claims and executes queued requests between ticks ([`run_queued`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use smartfolio_bot::{BotConfig, BotError, CoinAmount, Runtime, StopMode};
use smartfolio_core::Trigger;
use smartfolio_store::{CommandQueue, StoreError, StoreResult};

/// A command as the owner of the data directory executes it (queued as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Create {
        config: Box<BotConfig>,
    },
    List,
    Show {
        bot: String,
    },
    History {
        bot: String,
    },
    Invest {
        bot: String,
        amount: Decimal,
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
}

impl Request {
    /// Reads change nothing: they skip recovery (which may write).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Request::List | Request::Show { .. } | Request::History { .. }
        )
    }
}

/// What a command did, as the daemon writes it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// The exit code: 0, 1 (runtime failure) or 2 (bad input).
    pub exit: u8,
    pub output: Value,
    pub error: Option<String>,
}

impl Outcome {
    pub fn ok(output: Value) -> Self {
        Self {
            ok: true,
            exit: 0,
            output,
            error: None,
        }
    }
    pub fn failed(exit: u8, error: String) -> Self {
        Self {
            ok: false,
            exit,
            output: Value::Null,
            error: Some(error),
        }
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

fn to_value<T: Serialize>(v: &T) -> Result<Value, BotError> {
    serde_json::to_value(v).map_err(|e| BotError::Corrupt {
        name: "output".into(),
        message: e.to_string(),
    })
}

/// Execute a request on a runtime that owns the exchange. `create` deploys at once.
pub async fn execute(rt: &mut Runtime, req: &Request, deploy_now: bool) -> Outcome {
    match execute_inner(rt, req, deploy_now).await {
        Ok(v) => Outcome::ok(v),
        Err(e) => Outcome::failed(exit_code(&e), e.to_string()),
    }
}

async fn execute_inner(
    rt: &mut Runtime,
    req: &Request,
    deploy_now: bool,
) -> Result<Value, BotError> {
    match req {
        Request::Create { config } => {
            let id = rt.create(config.as_ref().clone()).await?;
            let mut note = None;
            let mut deploy = None;
            if deploy_now {
                match rt.deploy(id).await {
                    Ok(s) => deploy = s,
                    Err(e) => {
                        note = Some(format!(
                            "created; the deploy failed ({e}) and is retried on the daemon's ticks"
                        ))
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
            Ok(
                json!({ "id": id, "name": view.summary.name, "deploy": to_value(&deploy)?,
                       "note": note, "bot": to_value(&view)? }),
            )
        }
        Request::List => to_value(&rt.list()),
        Request::Show { bot } => {
            let id = rt.resolve(bot)?;
            to_value(&rt.show(id).await?)
        }
        Request::History { bot } => {
            let id = rt.resolve(bot)?;
            to_value(&rt.history(id).await?)
        }
        Request::Invest { bot, amount, coins } => {
            let id = rt.resolve(bot)?;
            let r = rt.invest(id, *amount, coins.clone()).await?;
            Ok(json!({ "rebalance": to_value(&r)?, "bot": to_value(&rt.show(id).await?)? }))
        }
        Request::Withdraw {
            bot,
            amount,
            overweights,
        } => {
            let id = rt.resolve(bot)?;
            let r = rt.withdraw(id, *amount, *overweights).await?;
            Ok(json!({ "withdrawal": to_value(&r)?, "bot": to_value(&rt.show(id).await?)? }))
        }
        Request::Modify {
            bot,
            targets,
            trigger,
            cooldown_ms,
        } => {
            let id = rt.resolve(bot)?;
            let trigger = trigger.as_deref().map(str::parse::<Trigger>).transpose()?;
            to_value(
                &rt.modify(id, targets.as_deref(), trigger, *cooldown_ms)
                    .await?,
            )
        }
        Request::Pause { bot } => {
            let id = rt.resolve(bot)?;
            rt.pause(id).await?;
            to_value(&rt.show(id).await?)
        }
        Request::Resume { bot } => {
            let id = rt.resolve(bot)?;
            rt.resume(id).await?;
            to_value(&rt.show(id).await?)
        }
        Request::Stop { bot, keep_coins } => {
            let id = rt.resolve(bot)?;
            let mode = if *keep_coins {
                StopMode::KeepCoins
            } else {
                StopMode::SellAll
            };
            let r = rt.stop(id, mode, "stopped by command").await?;
            Ok(json!({ "report": to_value(&r)?, "bot": to_value(&rt.show(id).await?)? }))
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
/// how many. The owner of a data directory calls it once, before it executes anything.
pub async fn fail_interrupted(queue: &dyn CommandQueue, now_ms: i64) -> StoreResult<u64> {
    let text = serde_json::to_string(&interrupted_outcome()).unwrap_or_else(|_| "{}".into());
    queue.interrupt_running_commands(&text, now_ms).await
}

/// Claim and execute every queued command, in order, each claimed in its own transaction
/// before it runs (a kill leaves it `running`, and the next owner fails it). Returns how many
/// ran. Only a store failure of the queue itself is an error.
pub async fn run_queued(queue: &dyn CommandQueue, rt: &mut Runtime) -> StoreResult<u64> {
    let mut n = 0;
    while let Some(cmd) = queue.claim_command().await? {
        n += 1;
        let outcome = match serde_json::from_str::<Request>(&cmd.command) {
            Ok(req) => {
                tracing::info!(command = cmd.id, request = %cmd.command, "executing command");
                execute(rt, &req, true).await
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
