//! [`BinanceExchange`]: the exchange interface on Binance spot.
//!
//! - Instruments, rules, limits and statuses come from `exchangeInfo` ([`convert::instrument`]).
//! - Placement sends `newClientOrderId` = our client id and asks for the `ACK` answer: the
//!   runtime follows the order by client id (`origClientOrderId`).
//! - A lookup answered `-2013` is [`OrderLookup::NotFoundYet`], never "never sent": Binance can
//!   miss a fresh order for seconds, and [`smartfolio_exchange::settle`] decides within the
//!   lookup window.
//! - Fills come from `myTrades` by `orderId`; the fee is in `commissionAsset`, which may be BNB.
//!   `myTrades` does not carry the client id, so an order id is turned into ours by a lookup
//!   (kept for the life of the connector), and our client id into the order id the same way.
//! - A lookup of a filled order reads its trades (for the fees); once the order is final its
//!   trades cannot change, so they are kept for the next [`Exchange::fills`] of that order,
//!   which takes them instead of asking again (the runtime reads an order's fills right after
//!   looking it up: 3 calls an order, not 5).

use crate::client::{BinanceClient, TradesQuery};
use crate::convert;
use crate::error::BinanceError;
use crate::model::MyTrade;
use crate::order::{NewOrder, OrderType, RespType, Size};
use async_trait::async_trait;
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, FeePaid, Fill, Instrument, LookupPolicy, Order, OrderAck,
    OrderKind, OrderLookup, OrderRequest, OrderSize, Pair, Ticker, TimeInForce,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// The most trades one `myTrades` call returns.
const TRADES_PAGE: u32 = 1000;
/// The most final orders whose trades are kept for their fills.
const KEPT_TRADES: usize = 1_000;
/// `myTrades` by time covers at most 24 hours per call.
const TRADES_WINDOW_MS: i64 = 86_400_000;

/// Binance spot behind the exchange interface.
#[derive(Debug)]
pub struct BinanceExchange {
    client: BinanceClient,
    /// Symbol → pair, from `exchangeInfo`.
    pairs: Mutex<HashMap<String, Pair>>,
    /// (symbol, order id) → our client id.
    client_ids: Mutex<HashMap<(String, i64), String>>,
    /// (symbol, our client id) → order id.
    order_ids: Mutex<HashMap<(String, String), i64>>,
    /// The trades of final orders read by a lookup, by (symbol, client id), until their fills
    /// are read.
    final_trades: Mutex<HashMap<(String, String), Vec<MyTrade>>>,
}

fn symbol(base: &str, quote: &str) -> String {
    let p = Pair::new(base, quote);
    format!("{}{}", p.base, p.quote)
}

/// An answer the connector cannot turn into the interface's types: for a read, nothing happened;
/// for a cancel, what happened is unknown.
fn unreadable(msg: String, mutating: bool) -> ExchangeError {
    if mutating {
        ExchangeError::UnknownOutcome(msg)
    } else {
        ExchangeError::Transient(msg)
    }
}

impl BinanceExchange {
    pub fn new(client: BinanceClient) -> Self {
        Self {
            client,
            pairs: Mutex::new(HashMap::new()),
            client_ids: Mutex::new(HashMap::new()),
            order_ids: Mutex::new(HashMap::new()),
            final_trades: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client (clock offset, key permissions, klines).
    pub fn client(&self) -> &BinanceClient {
        &self.client
    }

    fn remember_pairs<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, Pair)>) {
        let mut map = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        for (s, p) in pairs {
            map.insert(s.to_string(), p);
        }
    }

    fn remember_client_id(&self, symbol: &str, order_id: i64, client_id: &str) {
        self.client_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((symbol.to_string(), order_id), client_id.to_string());
        self.order_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((symbol.to_string(), client_id.to_string()), order_id);
    }

    /// The order id of our client id on `symbol`, looking the order up when not known yet.
    async fn order_id_of(&self, symbol: &str, client_id: &str) -> Result<i64, ExchangeError> {
        let key = (symbol.to_string(), client_id.to_string());
        if let Some(id) = self
            .order_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(*id);
        }
        let r = self.client.order(symbol, client_id).await?;
        self.remember_client_id(symbol, r.order_id, client_id);
        Ok(r.order_id)
    }

    /// The pair of a Binance symbol, reading `exchangeInfo` for it when not known yet.
    async fn pair_of(&self, symbol: &str) -> Result<Pair, ExchangeError> {
        if let Some(p) = self
            .pairs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(symbol)
        {
            return Ok(p.clone());
        }
        let info = self.client.exchange_info(&[symbol]).await?;
        let s = info.symbol(symbol).ok_or_else(|| ExchangeError::Rejected {
            code: smartfolio_exchange::reject::UNKNOWN_INSTRUMENT.into(),
            message: format!("binance does not list the symbol {symbol}"),
        })?;
        let pair = Pair::new(&s.base_asset, &s.quote_asset);
        self.remember_pairs([(symbol, pair.clone())]);
        Ok(pair)
    }

    /// Our client id of the order `order_id`, looking the order up when not known yet.
    async fn client_id_of(&self, symbol: &str, order_id: i64) -> Result<String, ExchangeError> {
        let key = (symbol.to_string(), order_id);
        if let Some(id) = self
            .client_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(id.clone());
        }
        let r = self.client.order_by_id(symbol, order_id).await?;
        self.remember_client_id(symbol, order_id, &r.client_order_id);
        Ok(r.client_order_id)
    }

    /// Append to `out` the trades after its last one (all of `order_id`'s when `out` is
    /// empty), page by page by trade id, until a page is not full.
    async fn more_trades(
        &self,
        symbol: &str,
        order_id: Option<i64>,
        out: &mut Vec<MyTrade>,
    ) -> Result<(), BinanceError> {
        loop {
            let page = self
                .client
                .my_trades(&TradesQuery {
                    symbol: symbol.to_string(),
                    order_id,
                    from_id: out.last().map(|t| t.id + 1),
                    limit: Some(TRADES_PAGE),
                    ..TradesQuery::default()
                })
                .await?;
            let full = page.len() as u32 >= TRADES_PAGE;
            out.extend(page);
            if !full {
                return Ok(());
            }
        }
    }

    /// Every trade of one order, oldest first.
    async fn trades_of(&self, symbol: &str, order_id: i64) -> Result<Vec<MyTrade>, BinanceError> {
        let mut out = Vec::new();
        self.more_trades(symbol, Some(order_id), &mut out).await?;
        Ok(out)
    }

    /// Every trade on `symbol` at or after `since_ms`, oldest first: 24-hour windows until the
    /// first trade, then pages by trade id (which run past any window).
    async fn trades_since(
        &self,
        symbol: &str,
        since_ms: i64,
    ) -> Result<Vec<MyTrade>, BinanceError> {
        let now = self.client.venue_now_ms();
        let mut start = since_ms;
        let mut out: Vec<MyTrade> = Vec::new();
        while start <= now && out.is_empty() {
            let end = start.saturating_add(TRADES_WINDOW_MS - 1).min(now);
            out = self
                .client
                .my_trades(&TradesQuery {
                    symbol: symbol.to_string(),
                    start_time: Some(start),
                    end_time: Some(end),
                    limit: Some(TRADES_PAGE),
                    ..TradesQuery::default()
                })
                .await?;
            start = end + 1;
        }
        if !out.is_empty() {
            self.more_trades(symbol, None, &mut out).await?;
        }
        Ok(out)
    }
}

fn add_fees(order: &mut Order, trades: &[MyTrade]) {
    order.fees.clear();
    for t in trades.iter().filter(|t| !t.commission.is_zero()) {
        match order
            .fees
            .binary_search_by(|f| f.asset.cmp(&t.commission_asset))
        {
            Ok(i) => order.fees[i].amount += t.commission,
            Err(i) => order.fees.insert(
                i,
                FeePaid {
                    asset: t.commission_asset.clone(),
                    amount: t.commission,
                },
            ),
        }
    }
}

#[async_trait]
impl Exchange for BinanceExchange {
    fn name(&self) -> &str {
        "binance"
    }

    /// Binance can answer `-2013` for a fresh order for several seconds: the default window.
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy::default()
    }

    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        Ok(self.client.server_time().await?)
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        let info = self.client.exchange_info(&[]).await?;
        self.remember_pairs(
            info.symbols
                .iter()
                .map(|s| (s.symbol.as_str(), Pair::new(&s.base_asset, &s.quote_asset))),
        );
        Ok(info
            .symbols
            .iter()
            .filter(|s| s.is_spot_trading_allowed != Some(false))
            .map(convert::instrument)
            .collect())
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        let account = self.client.account().await?;
        Ok(account
            .balances
            .into_iter()
            .map(|b| Balance {
                asset: b.asset,
                free: b.free,
                locked: b.locked,
            })
            .collect())
    }

    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError> {
        if bases.is_empty() {
            return Ok(vec![]);
        }
        let quote = Pair::new("", quote).quote;
        let symbols: Vec<String> = bases.iter().map(|b| symbol(b, &quote)).collect();
        let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
        let prices = self.client.ticker_prices(&refs).await.map_err(|e| {
            match ExchangeError::from(e) {
                // "Invalid symbol." does not say which: name the ones asked for.
                ExchangeError::Rejected { code, message }
                    if code == smartfolio_exchange::reject::UNKNOWN_INSTRUMENT =>
                {
                    ExchangeError::Rejected {
                        code,
                        message: format!(
                            "{message} (asked for {}; is each listed against {quote}?)",
                            symbols.join(", ")
                        ),
                    }
                }
                other => other,
            }
        })?;
        let time_ms = self.client.venue_now_ms();
        let mut out = Vec::with_capacity(bases.len());
        for (b, s) in bases.iter().zip(&symbols) {
            let p = prices.iter().find(|p| &p.symbol == s).ok_or_else(|| {
                ExchangeError::Transient(format!("binance sent no price for {s}"))
            })?;
            if p.price <= rust_decimal::Decimal::ZERO {
                return Err(ExchangeError::Transient(format!(
                    "binance sent the price {} for {s}; a price must be above zero",
                    p.price
                )));
            }
            out.push(Ticker {
                base: Pair::new(b, &quote).base,
                quote: quote.clone(),
                last: p.price,
                time_ms,
            });
        }
        Ok(out)
    }

    /// `quoteVolume` of the symbol's 24-hour ticker (`type=MINI`).
    async fn volume_24h(
        &self,
        base: &str,
        quote: &str,
    ) -> Result<Option<rust_decimal::Decimal>, ExchangeError> {
        let t = self.client.ticker_24h(&symbol(base, quote)).await?;
        Ok(t.quote_volume)
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let symbol = symbol(&request.base, &request.quote);
        let order_type = match (request.kind, request.post_only) {
            (OrderKind::Market, _) => OrderType::Market,
            (OrderKind::Limit { price }, true) => OrderType::LimitMaker { price },
            (OrderKind::Limit { price }, false) => OrderType::Limit {
                price,
                time_in_force: match request.time_in_force {
                    TimeInForce::Gtc => crate::order::TimeInForce::Gtc,
                    TimeInForce::Ioc => crate::order::TimeInForce::Ioc,
                    TimeInForce::Fok => crate::order::TimeInForce::Fok,
                },
            },
        };
        let order = NewOrder {
            symbol: symbol.clone(),
            side: request.side,
            size: match request.size {
                OrderSize::Base(q) => Size::Base(q),
                OrderSize::Quote(q) => Size::Quote(q),
            },
            order_type,
            client_order_id: request.client_id.clone(),
            resp_type: RespType::Ack,
        };
        let ack = self.client.new_order(&order).await?;
        self.remember_client_id(&symbol, ack.order_id, &request.client_id);
        Ok(OrderAck {
            client_id: request.client_id.clone(),
            venue_id: ack.order_id.to_string(),
            time_ms: ack
                .transact_time
                .unwrap_or_else(|| self.client.venue_now_ms()),
        })
    }

    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError> {
        let r = self
            .client
            .cancel_order(&symbol(base, quote), client_id)
            .await?;
        convert::order(&r, &Pair::new(base, quote), client_id).map_err(|m| unreadable(m, true))
    }

    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<OrderLookup, ExchangeError> {
        let symbol = symbol(base, quote);
        let r = match self.client.order(&symbol, client_id).await {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(OrderLookup::NotFoundYet),
            Err(e) => return Err(e.into()),
        };
        self.remember_client_id(&symbol, r.order_id, client_id);
        let mut order = convert::order(&r, &Pair::new(base, quote), client_id)
            .map_err(|m| unreadable(m, false))?;
        if order.filled_quantity > rust_decimal::Decimal::ZERO {
            // The order answer has no commissions: they are in its trades.
            let trades = self.trades_of(&symbol, r.order_id).await?;
            add_fees(&mut order, &trades);
            if order.status.is_final() {
                let mut kept = self.final_trades.lock().unwrap_or_else(|p| p.into_inner());
                // Lookups whose fills were never read: forget them rather than grow.
                if kept.len() >= KEPT_TRADES {
                    kept.clear();
                }
                kept.insert((symbol, client_id.to_string()), trades);
            }
        }
        Ok(OrderLookup::Found(order))
    }

    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        let answers = self.client.open_orders(None).await?;
        let mut out = Vec::with_capacity(answers.len());
        for r in &answers {
            let pair = self.pair_of(&r.symbol).await?;
            self.remember_client_id(&r.symbol, r.order_id, &r.client_order_id);
            out.push(
                convert::order(r, &pair, &r.client_order_id).map_err(|m| unreadable(m, false))?,
            );
        }
        Ok(out)
    }

    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let symbol = symbol(base, quote);
        let pair = Pair::new(base, quote);
        let kept = self
            .final_trades
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(symbol.clone(), client_id.to_string()));
        let trades = match kept {
            Some(t) => t,
            None => {
                let order_id = self.order_id_of(&symbol, client_id).await?;
                self.trades_of(&symbol, order_id).await?
            }
        };
        Ok(trades
            .iter()
            .map(|t| convert::fill(t, &pair, client_id))
            .collect())
    }

    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let symbol = symbol(base, quote);
        let pair = Pair::new(base, quote);
        let trades = self.trades_since(&symbol, since_ms).await?;
        let mut out = Vec::with_capacity(trades.len());
        for t in &trades {
            let client_id = self.client_id_of(&symbol, t.order_id).await?;
            out.push(convert::fill(t, &pair, &client_id));
        }
        Ok(out)
    }
}
