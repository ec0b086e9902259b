//! [`GateExchange`]: the exchange interface on Gate spot.
//!
//! - Instruments, rules, limits and statuses come from `/spot/currency_pairs`
//!   ([`convert::instrument`]); their `amount_precision`/`precision` are kept to round each
//!   order's amount and price before it is sent.
//! - A market buy sized in base (as the runtime sizes every order) is sent in quote, Gate's
//!   unit for it: the base quantity at the pair's lowest ask, read just before
//!   (`/spot/tickers?currency_pair=`; nothing is sent when no price can be read).
//! - Placement sends `text` = `t-<client id>`. Gate does not refuse a duplicate `text` (the
//!   later order overrides the earlier), so the connector itself refuses a client id it has
//!   already sent when the venue took it or may have (acknowledged, or outcome unknown) —
//!   [`reject::DUPLICATE_CLIENT_ID`], as the interface promises. That memory lasts as long as
//!   the process; across restarts the runtime's rule (an id is stored before sending and never
//!   reused) is what holds.
//! - Lookup by client id: `GET /spot/orders/t-…`. Gate finds an order by `text` only while it
//!   is open and for about an hour after it ended, so a not-found reads the pair's fills
//!   (`/spot/my_trades`): fills under our `text` mean the order ran and Gate forgot its id —
//!   [`OrderLookup::Unknown`], which [`smartfolio_exchange::settle`] settles from the open
//!   orders and the fills at once, without waiting; no fill is
//!   [`OrderLookup::NotFoundYet`], settled with the default window.
//! - Fills: `/spot/my_trades` by the order id a lookup found ([`Exchange::fills_of_order`], no
//!   second lookup; else looked up by `text` first), newest first at Gate and oldest first here; a fee paid in GT or
//!   POINT is a fee in that asset.

use crate::client::{GateClient, ORDERS_PAGE, TRADES_PAGE, TradesQuery};
use crate::client_id::text_of;
use crate::convert::{self, pair_id};
use crate::error::GateError;
use crate::model::{AccountDetail, Trade};
use crate::order::{NewOrder, OrderType, Size, TimeInForce as GateTif};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, Fill, Instrument, LookupPolicy, Order, OrderAck, OrderKind,
    OrderLookup, OrderRequest, OrderSize, Pair, Side, Ticker, TimeInForce, reject,
};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A pair's `amount_precision` and `precision`.
type Precisions = (Option<u32>, Option<u32>);

/// Gate spot behind the exchange interface.
#[derive(Debug)]
pub struct GateExchange {
    client: GateClient,
    /// currency_pair → precisions, from the last pairs read.
    precisions: Mutex<HashMap<String, Precisions>>,
    /// Client ids whose placement Gate took or may have taken: never sent again.
    sent: Mutex<HashSet<String>>,
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

impl GateExchange {
    /// `pair`'s lowest ask (its last price when the book has no ask), to size a market buy in
    /// quote.
    async fn ask(&self, pair: &str) -> Result<Decimal, ExchangeError> {
        let t = self.client.tickers(Some(pair)).await?;
        t.iter()
            .find(|t| t.currency_pair == pair)
            .and_then(|t| t.lowest_ask.or(t.last))
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(|| {
                ExchangeError::Transient(format!(
                    "not sent: gate gave no price for {pair} to size a market buy in quote"
                ))
            })
    }
}

/// A client id that cannot be a Gate `text` was never sent by this connector.
fn text(client_id: &str) -> Result<String, ExchangeError> {
    text_of(client_id).map_err(|e| ExchangeError::Rejected {
        code: reject::INVALID.into(),
        message: e.to_string(),
    })
}

impl GateExchange {
    pub fn new(client: GateClient) -> Self {
        Self {
            client,
            precisions: Mutex::new(HashMap::new()),
            sent: Mutex::new(HashSet::new()),
        }
    }

    /// The HTTP client (clock offset).
    pub fn client(&self) -> &GateClient {
        &self.client
    }

    /// The account and its key (`GET /account/detail`): the IP whitelist and the key's mode.
    /// Gate does not say whether a key may withdraw, so `venue check` cannot refuse such a key.
    pub async fn key_detail(&self) -> Result<AccountDetail, GateError> {
        self.client.account_detail().await
    }

    /// Every fill matching `query`, oldest first: pages of [`TRADES_PAGE`] until one is not
    /// full.
    async fn all_trades(&self, mut query: TradesQuery) -> Result<Vec<Trade>, GateError> {
        query.limit = Some(TRADES_PAGE);
        let mut out: Vec<Trade> = Vec::new();
        for page in 1.. {
            query.page = Some(page);
            let got = self.client.my_trades(&query).await?;
            let full = got.len() as u32 >= TRADES_PAGE;
            out.extend(got);
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Fills as the interface's, oldest first (by time, then Gate's numeric trade id).
    fn fills_of(trades: &[Trade]) -> Result<Vec<Fill>, ExchangeError> {
        let mut fills = trades
            .iter()
            .map(|t| convert::fill(t).map_err(|m| unreadable(m, false)))
            .collect::<Result<Vec<_>, _>>()?;
        fills.sort_by(|a, b| {
            (a.time_ms, a.fill_id.len(), &a.fill_id).cmp(&(b.time_ms, b.fill_id.len(), &b.fill_id))
        });
        Ok(fills)
    }

    /// The recent fills of `pair` under `text` (the fallback when Gate no longer finds the
    /// order by its `text`).
    async fn fills_by_text(&self, pair: &str, text: &str) -> Result<Vec<Trade>, GateError> {
        let all = self
            .all_trades(TradesQuery {
                currency_pair: pair.to_string(),
                ..TradesQuery::default()
            })
            .await?;
        Ok(all.into_iter().filter(|t| t.text == text).collect())
    }

    /// The fills of Gate's order `order_id` on `pair`.
    async fn trades_of_order(&self, pair: String, order_id: &str) -> Result<Vec<Trade>, GateError> {
        let mut t = self
            .all_trades(TradesQuery {
                currency_pair: pair,
                order_id: Some(order_id.to_string()),
                ..TradesQuery::default()
            })
            .await?;
        t.retain(|t| t.order_id == order_id);
        Ok(t)
    }
}

#[async_trait]
impl Exchange for GateExchange {
    fn name(&self) -> &str {
        "gate"
    }

    /// Gate finds an order by `text` as soon as it took it, but the runtime's window still
    /// guards a lookup racing the placement: the default.
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy::default()
    }

    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        Ok(self.client.server_time().await?)
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        let pairs = self.client.currency_pairs().await?;
        let mut p = self.precisions.lock().unwrap_or_else(|e| e.into_inner());
        for c in &pairs {
            p.insert(c.id.clone(), (c.amount_precision, c.precision));
        }
        Ok(pairs.iter().map(convert::instrument).collect())
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        Ok(self
            .client
            .accounts()
            .await?
            .into_iter()
            .map(|a| Balance {
                asset: a.currency.to_ascii_uppercase(),
                free: a.available.unwrap_or_default(),
                locked: a.locked.unwrap_or_default(),
            })
            .collect())
    }

    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError> {
        if bases.is_empty() {
            return Ok(vec![]);
        }
        let quote = Pair::new("", quote).quote;
        let all = self.client.tickers(None).await?;
        let now = self.client.venue_now_ms();
        let mut out = Vec::with_capacity(bases.len());
        let mut missing = Vec::new();
        for b in bases {
            let id = pair_id(b, &quote);
            let Some(t) = all.iter().find(|t| t.currency_pair == id) else {
                missing.push(id);
                continue;
            };
            let last = t.last.filter(|p| *p > Decimal::ZERO).ok_or_else(|| {
                ExchangeError::Transient(format!(
                    "gate sent the price {:?} for {id}; a price must be above zero",
                    t.last
                ))
            })?;
            out.push(Ticker {
                base: Pair::new(b, &quote).base,
                quote: quote.clone(),
                last,
                time_ms: now,
            });
        }
        if !missing.is_empty() {
            return Err(ExchangeError::Rejected {
                code: reject::UNKNOWN_INSTRUMENT.into(),
                message: format!(
                    "gate lists no spot ticker for {}; is each listed against {quote}?",
                    missing.join(", ")
                ),
            });
        }
        Ok(out)
    }

    /// `highest_bid` and `lowest_ask` of the pair's ticker.
    async fn touch(
        &self,
        base: &str,
        quote: &str,
    ) -> Result<Option<(Decimal, Decimal)>, ExchangeError> {
        let t = self.client.tickers(Some(&pair_id(base, quote))).await?;
        Ok(t.first().and_then(|t| {
            let bid = t.highest_bid.filter(|p| *p > Decimal::ZERO)?;
            let ask = t.lowest_ask.filter(|p| *p > Decimal::ZERO)?;
            Some((bid, ask))
        }))
    }

    /// `quote_volume` of the pair's ticker.
    async fn volume_24h(&self, base: &str, quote: &str) -> Result<Option<Decimal>, ExchangeError> {
        let t = self.client.tickers(Some(&pair_id(base, quote))).await?;
        Ok(t.first().and_then(|t| t.quote_volume))
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let pair = pair_id(&request.base, &request.quote);
        let order_type = match request.kind {
            OrderKind::Market => OrderType::Market,
            OrderKind::Limit { price } => OrderType::Limit {
                price,
                time_in_force: match (request.post_only, request.time_in_force) {
                    (true, _) => GateTif::Poc,
                    (false, TimeInForce::Gtc) => GateTif::Gtc,
                    (false, TimeInForce::Ioc) => GateTif::Ioc,
                    (false, TimeInForce::Fok) => GateTif::Fok,
                },
            },
        };
        let size = match (request.kind, request.side, request.size) {
            // Gate's market buy spends `amount` quote; a size in base is spent at the pair's
            // lowest ask, read just before (nothing is sent if it cannot be read).
            (OrderKind::Market, Side::Buy, OrderSize::Base(q)) => {
                Size::Quote(q * self.ask(&pair).await?)
            }
            (_, _, OrderSize::Base(q)) => Size::Base(q),
            (_, _, OrderSize::Quote(q)) => Size::Quote(q),
        };
        let order = NewOrder {
            currency_pair: pair.clone(),
            side: request.side,
            size,
            order_type,
            client_id: request.client_id.clone(),
        };
        let precisions = self
            .precisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pair)
            .copied();
        let order = match precisions {
            Some((amount, price)) => order.rounded(amount, price),
            None => order,
        };
        if self
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&request.client_id)
        {
            return Err(ExchangeError::Rejected {
                code: reject::DUPLICATE_CLIENT_ID.into(),
                message: format!(
                    "not sent: client id {} was already sent to gate, which would let a second order override the first",
                    request.client_id
                ),
            });
        }
        let result = self.client.place_order(&order).await;
        let may_exist = match &result {
            Ok(_) => true,
            Err(e) => e.class == crate::error::ErrorClass::UnknownOutcome,
        };
        if may_exist {
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(request.client_id.clone());
        }
        let o = result?;
        Ok(OrderAck {
            client_id: request.client_id.clone(),
            venue_id: o.id,
            time_ms: o
                .create_time_ms
                .unwrap_or_else(|| self.client.venue_now_ms()),
        })
    }

    /// Cancels by `text`; Gate answers the order as it ended.
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError> {
        let o = self
            .client
            .cancel_order(&pair_id(base, quote), &text(client_id)?)
            .await?;
        convert::order(&o).map_err(|m| unreadable(m, true))
    }

    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<OrderLookup, ExchangeError> {
        let pair = pair_id(base, quote);
        let text = text(client_id)?;
        match self.client.order(&pair, &text).await {
            Ok(o) => Ok(OrderLookup::Found(
                convert::order(&o).map_err(|m| unreadable(m, false))?,
            )),
            Err(e) if e.is_not_found() => {
                if self.fills_by_text(&pair, &text).await?.is_empty() {
                    Ok(OrderLookup::NotFoundYet)
                } else {
                    Ok(OrderLookup::Unknown)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        let mut out: Vec<Order> = Vec::new();
        let mut seen = HashSet::new();
        for page in 1.. {
            let groups = self.client.open_orders(page, ORDERS_PAGE).await?;
            let full = groups.iter().any(|g| g.orders.len() as u32 >= ORDERS_PAGE);
            for o in groups.iter().flat_map(|g| &g.orders) {
                if seen.insert(o.id.clone()) {
                    out.push(convert::order(o).map_err(|m| unreadable(m, false))?);
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// The order's fills by Gate's order id; when Gate no longer finds the order by `text`,
    /// the pair's recent fills under that `text`.
    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let pair = pair_id(base, quote);
        let text = text(client_id)?;
        let trades = match self.client.order(&pair, &text).await {
            Ok(o) => self.trades_of_order(pair, &o.id).await?,
            Err(e) if e.is_not_found() => self.fills_by_text(&pair, &text).await?,
            Err(e) => return Err(e.into()),
        };
        Self::fills_of(&trades)
    }

    /// By the order id the lookup found: no second lookup.
    async fn fills_of_order(&self, order: &Order) -> Result<Vec<Fill>, ExchangeError> {
        if order.venue_id.is_empty() {
            return self
                .fills(&order.base, &order.quote, &order.client_id)
                .await;
        }
        let trades = self
            .trades_of_order(pair_id(&order.base, &order.quote), &order.venue_id)
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
            .all_trades(TradesQuery {
                currency_pair: pair_id(base, quote),
                from_s: Some(since_ms.div_euclid(1_000)),
                ..TradesQuery::default()
            })
            .await?;
        let mut fills = Self::fills_of(&trades)?;
        fills.retain(|f| f.time_ms >= since_ms);
        Ok(fills)
    }
}
