//! [`OkxExchange`]: the exchange interface on OKX spot.
//!
//! - Instruments, rules, limits and statuses come from `/public/instruments?instType=SPOT`
//!   ([`convert::instrument`]); their `lotSz`/`tickSz` are kept to round each order's size and
//!   price before it is sent.
//! - Placement sends `clOrdId` = our client id; a refused order inside an HTTP 200 (`sCode`) is
//!   a rejection, `50004` an unknown outcome. The runtime follows the order by `clOrdId`.
//! - A lookup answered `51603` is [`OrderLookup::NotFoundYet`], never "never sent": OKX, like
//!   Binance, is given the default lookup window, and [`smartfolio_exchange::settle`] decides.
//! - Fills come from `/trade/fills` (the last three days, which covers settlement's window)
//!   by `ordId`: the one a lookup found ([`Exchange::fills_of_order`], no second lookup), else
//!   looked up by `clOrdId` first; newest first at OKX and oldest first here; fees arrive negative and are paid amounts here,
//!   in `feeCcy`, which may be OKB.

use crate::client::{FillsQuery, OkxClient, PAGE};
use crate::convert::{self, inst_id};
use crate::error::OkxError;
use crate::model::{AccountConfig, TradeFill};
use crate::order::{NewOrder, OrderType, Size, TimeInForce as OkxTif};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, Fill, Instrument, LookupPolicy, Order, OrderAck, OrderKind,
    OrderLookup, OrderRequest, OrderSize, Pair, Ticker, TimeInForce, reject,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// An instrument's `lotSz` and `tickSz`.
type Steps = (Option<Decimal>, Option<Decimal>);

/// OKX spot behind the exchange interface.
#[derive(Debug)]
pub struct OkxExchange {
    client: OkxClient,
    /// instId → (lotSz, tickSz), from the last instruments read.
    steps: Mutex<HashMap<String, Steps>>,
}

/// An answer the connector cannot turn into the interface's types: for a read, nothing
/// happened; for a cancel, what happened is unknown.
fn unreadable(msg: String, mutating: bool) -> ExchangeError {
    if mutating {
        ExchangeError::UnknownOutcome(msg)
    } else {
        ExchangeError::Transient(msg)
    }
}

impl OkxExchange {
    pub fn new(client: OkxClient) -> Self {
        Self {
            client,
            steps: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client (clock offset, key permissions).
    pub fn client(&self) -> &OkxClient {
        &self.client
    }

    /// What the key may do (`GET /api/v5/account/config`).
    pub async fn key_config(&self) -> Result<AccountConfig, OkxError> {
        self.client.account_config().await
    }

    /// Every fill of `inst` matching `query`'s filters, oldest first: pages of 100 by `billId`
    /// until a page is not full.
    async fn all_fills(&self, mut query: FillsQuery) -> Result<Vec<TradeFill>, OkxError> {
        query.limit = Some(PAGE);
        let mut out: Vec<TradeFill> = Vec::new();
        loop {
            let page = self.client.fills(&query).await?;
            let full = page.len() as u32 >= PAGE;
            query.after_bill_id = page.last().map(|f| f.bill_id.clone());
            out.extend(page);
            if !full || query.after_bill_id.as_deref().is_none_or(str::is_empty) {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    fn fills_of(trades: &[TradeFill]) -> Result<Vec<Fill>, ExchangeError> {
        trades
            .iter()
            .map(|t| convert::fill(t).map_err(|m| unreadable(m, false)))
            .collect()
    }
}

#[async_trait]
impl Exchange for OkxExchange {
    fn name(&self) -> &str {
        "okx"
    }

    /// OKX's order index is not promised to be immediate: the default window.
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy::default()
    }

    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        Ok(self.client.server_time().await?)
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        let list = self.client.instruments().await?;
        let spot: Vec<_> = list
            .iter()
            .filter(|i| i.inst_type.is_empty() || i.inst_type == "SPOT")
            .collect();
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        for i in &spot {
            steps.insert(i.inst_id.clone(), (i.lot_sz, i.tick_sz));
        }
        Ok(spot.into_iter().map(convert::instrument).collect())
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        let b = self.client.balance().await?;
        Ok(b.details
            .into_iter()
            .map(|d| {
                let locked = d.frozen_bal.unwrap_or_default();
                let free = d
                    .avail_bal
                    .or(d.cash_bal.map(|c| c - locked))
                    .unwrap_or_default();
                Balance {
                    asset: d.ccy,
                    free,
                    locked,
                }
            })
            .collect())
    }

    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError> {
        if bases.is_empty() {
            return Ok(vec![]);
        }
        let quote = Pair::new("", quote).quote;
        let all = self.client.tickers().await?;
        let now = self.client.venue_now_ms();
        let mut out = Vec::with_capacity(bases.len());
        let mut missing = Vec::new();
        for b in bases {
            let id = inst_id(b, &quote);
            let Some(t) = all.iter().find(|t| t.inst_id == id) else {
                missing.push(id);
                continue;
            };
            let last = t.last.filter(|p| *p > Decimal::ZERO).ok_or_else(|| {
                ExchangeError::Transient(format!(
                    "okx sent the price {:?} for {id}; a price must be above zero",
                    t.last
                ))
            })?;
            out.push(Ticker {
                base: Pair::new(b, &quote).base,
                quote: quote.clone(),
                last,
                time_ms: t.ts.unwrap_or(now),
            });
        }
        if !missing.is_empty() {
            return Err(ExchangeError::Rejected {
                code: reject::UNKNOWN_INSTRUMENT.into(),
                message: format!(
                    "okx lists no spot ticker for {}; is each listed against {quote}?",
                    missing.join(", ")
                ),
            });
        }
        Ok(out)
    }

    /// `volCcy24h` of the instrument's ticker (for SPOT, in the quote currency).
    async fn volume_24h(&self, base: &str, quote: &str) -> Result<Option<Decimal>, ExchangeError> {
        let t = self.client.ticker(&inst_id(base, quote)).await?;
        Ok(t.vol_ccy_24h)
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let inst = inst_id(&request.base, &request.quote);
        let order_type = match (request.kind, request.post_only) {
            (OrderKind::Market, _) => OrderType::Market,
            (OrderKind::Limit { price }, true) => OrderType::PostOnly { price },
            (OrderKind::Limit { price }, false) => OrderType::Limit {
                price,
                time_in_force: match request.time_in_force {
                    TimeInForce::Gtc => OkxTif::Gtc,
                    TimeInForce::Ioc => OkxTif::Ioc,
                    TimeInForce::Fok => OkxTif::Fok,
                },
            },
        };
        let order = NewOrder {
            inst_id: inst.clone(),
            side: request.side,
            size: match request.size {
                OrderSize::Base(q) => Size::Base(q),
                OrderSize::Quote(q) => Size::Quote(q),
            },
            order_type,
            cl_ord_id: request.client_id.clone(),
        };
        let steps = self
            .steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&inst)
            .copied();
        let order = match steps {
            Some((lot, tick)) => order.rounded(lot, tick),
            None => order,
        };
        let ack = self.client.place_order(&order).await?;
        Ok(OrderAck {
            client_id: request.client_id.clone(),
            venue_id: ack.ord_id,
            time_ms: ack.ts.unwrap_or_else(|| self.client.venue_now_ms()),
        })
    }

    /// Cancels, then reads the order as it stands: OKX's cancel answer is only an
    /// acknowledgement.
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError> {
        let inst = inst_id(base, quote);
        self.client.cancel_order(&inst, client_id).await?;
        let d = self.client.order(&inst, client_id).await?;
        convert::order(&d).map_err(|m| unreadable(m, true))
    }

    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<OrderLookup, ExchangeError> {
        match self.client.order(&inst_id(base, quote), client_id).await {
            Ok(d) => Ok(OrderLookup::Found(
                convert::order(&d).map_err(|m| unreadable(m, false))?,
            )),
            Err(e) if e.is_not_found() => Ok(OrderLookup::NotFoundYet),
            Err(e) => Err(e.into()),
        }
    }

    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.client.orders_pending(after.as_deref()).await?;
            let full = page.len() as u32 >= PAGE;
            after = page.last().map(|o| o.ord_id.clone());
            for d in &page {
                out.push(convert::order(d).map_err(|m| unreadable(m, false))?);
            }
            if !full || after.as_deref().is_none_or(str::is_empty) {
                return Ok(out);
            }
        }
    }

    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let inst = inst_id(base, quote);
        let d = self.client.order(&inst, client_id).await?;
        let trades = self
            .all_fills(FillsQuery {
                inst_id: inst,
                ord_id: Some(d.ord_id),
                ..FillsQuery::default()
            })
            .await?;
        Self::fills_of(&trades)
    }

    /// By the `ordId` the lookup found: no second lookup.
    async fn fills_of_order(&self, order: &Order) -> Result<Vec<Fill>, ExchangeError> {
        if order.venue_id.is_empty() {
            return self
                .fills(&order.base, &order.quote, &order.client_id)
                .await;
        }
        let trades = self
            .all_fills(FillsQuery {
                inst_id: inst_id(&order.base, &order.quote),
                ord_id: Some(order.venue_id.clone()),
                ..FillsQuery::default()
            })
            .await?;
        Self::fills_of(&trades)
    }

    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let trades = self
            .all_fills(FillsQuery {
                inst_id: inst_id(base, quote),
                begin_ms: Some(since_ms),
                ..FillsQuery::default()
            })
            .await?;
        Self::fills_of(&trades)
    }
}
