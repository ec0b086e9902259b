//! The export formats of tax software, written from the generic export's rows: one row per
//! transaction (a fill: the asset sent, the asset received and the fee; a deposit; a
//! withdrawal; coins a stop released), with the quantities of the ledger's entries, so each
//! file reconciles with the ledger to the unit per asset (received − sent − fee).
//!
//! What each format is, from its maker's documentation:
//!
//! - **Koinly**, the universal template: <https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data>
//!   (Koinly's "How to create a custom CSV file with your data"; the older copy is
//!   <https://help.koinly.io/en/articles/3662999-how-can-i-import-my-own-custom-csv-file>).
//!   The universal template takes deposits, withdrawals and trades in one file, with the
//!   columns `Date, Sent Amount, Sent Currency, Received Amount, Received Currency, Fee Amount,
//!   Fee Currency, Net Worth Amount, Net Worth Currency, Label, Description, TxHash`; dates in
//!   Koinly's format `YYYY-MM-DD HH:MM UTC`, always UTC; the label (tag) is optional and only
//!   for a transaction that is something other than a normal deposit or withdrawal, so our
//!   rows leave it empty (a row with only a sent side is a withdrawal, only a received side a
//!   deposit, both a trade); TxHash is a blockchain transaction's hash, which a bot's movement
//!   has none of, so it is empty and our ids go into the description.
//! - **CoinTracker**: <https://support.cointracker.io/hc/en-us/articles/4413071299729-Convert-your-transaction-history-to-CoinTracker-CSV>
//!   (CoinTracker's "Convert your transaction history to CoinTracker CSV"). The header must
//!   be exactly `Date, Received Quantity, Received Currency, Sent Quantity, Sent Currency, Fee
//!   Amount, Fee Currency, Tag`, all eight columns and no others; dates `MM/DD/YYYY HH:MM:SS`;
//!   the fee in the currency it was paid in; the tag categorizes sends and receives of a
//!   special kind (staking, airdrops, ...: CoinTracker's "Transaction category definitions",
//!   <https://support.cointracker.io/hc/en-us/articles/4413049710225-Transaction-category-definitions>),
//!   so a plain deposit, withdrawal or trade has none.
//!
//! Amounts are positive in both (which column says the direction); the fee is its own column,
//! not taken out of the sent or received amount, as the ledger holds it as its own entry. A fee
//! in a third asset that the bot's ledger did not debit (the account paid it from outside the
//! bot) is not in the bot's ledger, so it is not in these rows either.

use super::ExportRow;
use rust_decimal::Decimal;
use smartfolio_core::ValidationError;

/// The formats `smartfolio export` and the API write, as the flag and query spell them.
pub const EXPORT_FORMATS: &str = "generic, koinly, cointracker";

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per ledger entry, decimals as stored.
    Generic,
    /// Koinly's universal CSV.
    Koinly,
    /// CoinTracker's CSV.
    CoinTracker,
}

impl ExportFormat {
    /// The format `text` names; an error naming `format`, the value and the formats otherwise.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "generic" => Ok(Self::Generic),
            "koinly" => Ok(Self::Koinly),
            "cointracker" => Ok(Self::CoinTracker),
            _ => Err(ValidationError::new("format", text, EXPORT_FORMATS)),
        }
    }

    /// The word the flag takes.
    pub fn word(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Koinly => "koinly",
            Self::CoinTracker => "cointracker",
        }
    }

    /// The file of `rows` in this format.
    pub fn csv(self, rows: &[ExportRow]) -> String {
        self.file(rows).0
    }

    /// The file of `rows` in this format and how many rows it holds under its header: one per
    /// ledger movement in `generic`, one per transaction in the tax formats.
    pub fn file(self, rows: &[ExportRow]) -> (String, usize) {
        match self {
            Self::Generic => (super::generic_csv(rows), rows.len()),
            Self::Koinly | Self::CoinTracker => {
                let txs = transactions(rows);
                let text = if self == Self::Koinly {
                    koinly_csv(&txs)
                } else {
                    cointracker_csv(&txs)
                };
                (text, txs.len())
            }
        }
    }
}

/// Koinly's universal columns, in order.
pub const KOINLY_COLUMNS: [&str; 12] = [
    "Date",
    "Sent Amount",
    "Sent Currency",
    "Received Amount",
    "Received Currency",
    "Fee Amount",
    "Fee Currency",
    "Net Worth Amount",
    "Net Worth Currency",
    "Label",
    "Description",
    "TxHash",
];

/// CoinTracker's columns, in order.
pub const COINTRACKER_COLUMNS: [&str; 8] = [
    "Date",
    "Received Quantity",
    "Received Currency",
    "Sent Quantity",
    "Sent Currency",
    "Fee Amount",
    "Fee Currency",
    "Tag",
];

/// What a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// A fill: one asset sent, the other received.
    Trade,
    Deposit,
    Withdrawal,
    /// Coins a stop that keeps them moved out of the bot to the account.
    Release,
}

/// One transaction of the tax formats: the ledger entries of one fill, one flow or one
/// asset's release, with their quantities positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxTransaction {
    pub time_ms: i64,
    pub kind: TxKind,
    pub sent: Option<(Decimal, String)>,
    pub received: Option<(Decimal, String)>,
    pub fee: Option<(Decimal, String)>,
    /// What it was worth in the bot's quote: a trade's quantity times its price, a flow's
    /// value when it moved; none for a release.
    pub worth: Option<(Decimal, String)>,
    pub description: String,
}

/// Add `amount` of `asset` to a side (entries of one side share their asset).
fn add(side: &mut Option<(Decimal, String)>, amount: Decimal, asset: &str) {
    match side {
        Some((q, _)) => *q += amount,
        None => *side = Some((amount, asset.to_string())),
    }
}

/// The transactions of `rows` (the generic export's, bot by bot in ledger order): the entries
/// of a fill together, each flow and each release on its own.
pub fn transactions(rows: &[ExportRow]) -> Vec<TaxTransaction> {
    let mut out: Vec<TaxTransaction> = Vec::new();
    // A fill's entries are written together: the open trade's bot and reference.
    let mut open: Option<(String, String)> = None;
    for r in rows {
        let is_fill = r.kind == "trade" || r.kind == "fee";
        let key = (r.bot.clone(), r.reference.clone());
        if is_fill && open.as_ref() == Some(&key) {
            let t = out
                .last_mut()
                .expect("an open trade is the last transaction");
            fill_entry(t, r);
            continue;
        }
        open = is_fill.then_some(key);
        let amount = r.quantity.abs();
        let worth = r.quote_value.map(|v| (v, r.quote.clone()));
        let mut t = TaxTransaction {
            time_ms: r.time_ms,
            kind: TxKind::Trade,
            sent: None,
            received: None,
            fee: None,
            worth: None,
            description: String::new(),
        };
        match r.kind.as_str() {
            "deposit" => {
                t.kind = TxKind::Deposit;
                t.received = Some((amount, r.asset.clone()));
                t.worth = worth;
                t.description = format!("smartfolio bot {}: deposit ({})", r.bot, r.reference);
            }
            "withdraw" => {
                t.kind = TxKind::Withdrawal;
                t.sent = Some((amount, r.asset.clone()));
                t.worth = worth;
                t.description = format!("smartfolio bot {}: withdrawal ({})", r.bot, r.reference);
            }
            "release" => {
                t.kind = TxKind::Release;
                t.sent = Some((amount, r.asset.clone()));
                t.description = format!(
                    "smartfolio bot {}: coins released to the account by a stop",
                    r.bot
                );
            }
            _ => {
                t.description = format!(
                    "smartfolio bot {}: trade on {}; order {}; fill {}",
                    r.bot,
                    r.venue,
                    r.order_id.as_deref().unwrap_or(""),
                    r.fill_id.as_deref().unwrap_or(&r.reference)
                );
                fill_entry(&mut t, r);
            }
        }
        out.push(t);
    }
    out
}

/// One ledger entry of a fill added to its transaction.
fn fill_entry(t: &mut TaxTransaction, r: &ExportRow) {
    let amount = r.quantity.abs();
    if r.kind == "fee" {
        add(&mut t.fee, amount, &r.asset);
    } else if r.quantity > Decimal::ZERO {
        add(&mut t.received, amount, &r.asset);
    } else {
        add(&mut t.sent, amount, &r.asset);
    }
    // The base leg's value (quantity × price) is the trade's worth in quote.
    if r.kind == "trade"
        && r.asset != r.quote
        && let Some(v) = r.quote_value
    {
        t.worth = Some((v, r.quote.clone()));
    }
}

fn format_ms(ms: i64, pattern: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(pattern).to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn side(s: &Option<(Decimal, String)>) -> [String; 2] {
    match s {
        Some((q, a)) => [q.to_string(), a.clone()],
        None => [String::new(), String::new()],
    }
}

fn lines<const N: usize>(header: [&str; N], rows: impl Iterator<Item = [String; N]>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for cells in rows {
        let line: Vec<String> = cells.iter().map(|c| super::csv_field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Koinly's universal CSV of `txs`.
pub fn koinly_csv(txs: &[TaxTransaction]) -> String {
    lines(
        KOINLY_COLUMNS,
        txs.iter().map(|t| {
            let [sent, sent_ccy] = side(&t.sent);
            let [recv, recv_ccy] = side(&t.received);
            let [fee, fee_ccy] = side(&t.fee);
            let [worth, worth_ccy] = side(&t.worth);
            [
                format_ms(t.time_ms, "%Y-%m-%d %H:%M UTC"),
                sent,
                sent_ccy,
                recv,
                recv_ccy,
                fee,
                fee_ccy,
                worth,
                worth_ccy,
                String::new(),
                t.description.clone(),
                String::new(),
            ]
        }),
    )
}

/// CoinTracker's CSV of `txs`.
pub fn cointracker_csv(txs: &[TaxTransaction]) -> String {
    lines(
        COINTRACKER_COLUMNS,
        txs.iter().map(|t| {
            let [recv, recv_ccy] = side(&t.received);
            let [sent, sent_ccy] = side(&t.sent);
            let [fee, fee_ccy] = side(&t.fee);
            [
                format_ms(t.time_ms, "%m/%d/%Y %H:%M:%S"),
                recv,
                recv_ccy,
                sent,
                sent_ccy,
                fee,
                fee_ccy,
                String::new(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const T0: i64 = 1_740_823_200_000; // 2025-03-01 10:00:00 UTC
    const T1: i64 = 1_740_914_553_456; // 2025-03-02 11:22:33.456
    const T2: i64 = 1_740_960_059_000; // 2025-03-03 00:00:59
    const T3: i64 = 1_741_075_200_000; // 2025-03-04 08:00:00
    const T4: i64 = 1_741_167_000_000; // 2025-03-05 09:30:00

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A ledger entry of bot `core` on `paper` (quote USDT) as the generic export reads it.
    fn row(id: i64, time_ms: i64, kind: &str, asset: &str, q: &str, reference: &str) -> ExportRow {
        ExportRow {
            ledger_id: id,
            time_ms,
            bot: "core".into(),
            venue: "paper".into(),
            quote: "USDT".into(),
            kind: kind.into(),
            asset: asset.into(),
            quantity: d(q),
            price: None,
            quote_value: None,
            fee: None,
            order_id: None,
            fill_id: None,
            reference: reference.into(),
        }
    }

    fn flow(id: i64, time_ms: i64, kind: &str, asset: &str, q: &str, value: &str) -> ExportRow {
        let mut r = row(id, time_ms, kind, asset, q, &format!("flow:{id}"));
        r.quote_value = Some(d(value));
        r
    }

    /// A fill's entries: `(asset, signed quantity, kind)`; the base leg's value is given.
    fn fill(
        first_id: i64,
        time_ms: i64,
        fill_id: &str,
        price: &str,
        entries: &[(&str, &str, &str)],
    ) -> Vec<ExportRow> {
        entries
            .iter()
            .enumerate()
            .map(|(i, (asset, q, kind))| {
                let mut r = row(first_id + i as i64, time_ms, kind, asset, q, fill_id);
                r.price = Some(d(price));
                r.order_id = Some(format!("sf-{fill_id}"));
                r.fill_id = Some(fill_id.into());
                r.quote_value = match (*kind, *asset) {
                    ("trade", "USDT") => Some(d(q).abs()),
                    ("trade", _) => Some(d(q).abs() * d(price)),
                    _ => None,
                };
                r
            })
            .collect()
    }

    /// Quote and coins in (BTC with a basis, BNB for fees), a buy paying its fee in BTC, a
    /// sell paying its fee in BNB, a withdrawal of quote, and a stop releasing the coins.
    fn ledger() -> Vec<ExportRow> {
        let mut rows = vec![
            flow(1, T0, "deposit", "USDT", "1000", "1000"),
            flow(2, T0, "deposit", "BTC", "0.1", "5000.0"),
            flow(3, T0, "deposit", "BNB", "0.01", "6.00"),
        ];
        rows.extend(fill(
            4,
            T1,
            "F1",
            "50000",
            &[
                ("BTC", "0.01", "trade"),
                ("USDT", "-500.00", "trade"),
                ("BTC", "-0.00001", "fee"),
            ],
        ));
        rows.extend(fill(
            7,
            T2,
            "F2",
            "60000",
            &[
                ("BTC", "-0.02", "trade"),
                ("USDT", "1200.00", "trade"),
                ("BNB", "-0.001", "fee"),
            ],
        ));
        rows.push(flow(10, T3, "withdraw", "USDT", "-200", "200"));
        rows.push(row(11, T4, "release", "BTC", "-0.08999", "stop"));
        rows.push(row(12, T4, "release", "BNB", "-0.009", "stop"));
        rows
    }

    #[test]
    fn koinly_rows_of_a_hand_built_ledger() {
        let text = ExportFormat::Koinly.csv(&ledger());
        let expected = "\
Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash
2025-03-01 10:00 UTC,,,1000,USDT,,,1000,USDT,,smartfolio bot core: deposit (flow:1),
2025-03-01 10:00 UTC,,,0.1,BTC,,,5000.0,USDT,,smartfolio bot core: deposit (flow:2),
2025-03-01 10:00 UTC,,,0.01,BNB,,,6.00,USDT,,smartfolio bot core: deposit (flow:3),
2025-03-02 11:22 UTC,500.00,USDT,0.01,BTC,0.00001,BTC,500.00,USDT,,smartfolio bot core: trade on paper; order sf-F1; fill F1,
2025-03-03 00:00 UTC,0.02,BTC,1200.00,USDT,0.001,BNB,1200.00,USDT,,smartfolio bot core: trade on paper; order sf-F2; fill F2,
2025-03-04 08:00 UTC,200,USDT,,,,,200,USDT,,smartfolio bot core: withdrawal (flow:10),
2025-03-05 09:30 UTC,0.08999,BTC,,,,,,,,smartfolio bot core: coins released to the account by a stop,
2025-03-05 09:30 UTC,0.009,BNB,,,,,,,,smartfolio bot core: coins released to the account by a stop,
";
        assert_eq!(text, expected);
    }

    #[test]
    fn cointracker_rows_of_a_hand_built_ledger() {
        let text = ExportFormat::CoinTracker.csv(&ledger());
        let expected = "\
Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,Fee Currency,Tag
03/01/2025 10:00:00,1000,USDT,,,,,
03/01/2025 10:00:00,0.1,BTC,,,,,
03/01/2025 10:00:00,0.01,BNB,,,,,
03/02/2025 11:22:33,0.01,BTC,500.00,USDT,0.00001,BTC,
03/03/2025 00:00:59,1200.00,USDT,0.02,BTC,0.001,BNB,
03/04/2025 08:00:00,,,200,USDT,,,
03/05/2025 09:30:00,,,0.08999,BTC,,,
03/05/2025 09:30:00,,,0.009,BNB,,,
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_transactions_reconcile_with_the_ledger_per_asset() {
        let rows = ledger();
        let mut ledger_sum: BTreeMap<String, Decimal> = BTreeMap::new();
        for r in &rows {
            *ledger_sum.entry(r.asset.clone()).or_default() += r.quantity;
        }
        let txs = transactions(&rows);
        assert_eq!(txs.len(), 8);
        let kinds: Vec<TxKind> = txs.iter().map(|t| t.kind).collect();
        use TxKind::*;
        assert_eq!(
            kinds,
            [
                Deposit, Deposit, Deposit, Trade, Trade, Withdrawal, Release, Release
            ]
        );
        let mut tx_sum: BTreeMap<String, Decimal> = BTreeMap::new();
        for t in &txs {
            for (s, sign) in [(&t.received, 1), (&t.sent, -1), (&t.fee, -1)] {
                if let Some((q, a)) = s {
                    *tx_sum.entry(a.clone()).or_default() += *q * Decimal::from(sign);
                }
            }
        }
        assert_eq!(tx_sum, ledger_sum);
        // What the stop left: quote only.
        assert_eq!(ledger_sum["BTC"], Decimal::ZERO);
        assert_eq!(ledger_sum["BNB"], Decimal::ZERO);
        assert_eq!(ledger_sum["USDT"], d("1500"));
    }

    #[test]
    fn a_file_counts_its_rows_not_the_movements() {
        let movements = ledger();
        for format in [
            ExportFormat::Generic,
            ExportFormat::Koinly,
            ExportFormat::CoinTracker,
        ] {
            let (text, n) = format.file(&movements);
            assert_eq!(
                n,
                text.lines().count() - 1,
                "{format:?}: rows under the header"
            );
            assert_eq!(text, format.csv(&movements));
        }
        assert_eq!(ExportFormat::Generic.file(&movements).1, movements.len());
        let txs = transactions(&movements).len();
        assert!(
            txs < movements.len(),
            "a fill's movements are one transaction"
        );
        assert_eq!(ExportFormat::Koinly.file(&movements).1, txs);
    }

    #[test]
    fn a_format_is_one_of_three() {
        for f in ["generic", "koinly", "cointracker"] {
            assert_eq!(ExportFormat::parse(f).unwrap().word(), f);
        }
        let e = ExportFormat::parse("turbotax").unwrap_err().to_string();
        assert!(
            e.contains("format") && e.contains("turbotax") && e.contains(EXPORT_FORMATS),
            "{e}"
        );
        // Nothing to export is a header alone.
        assert_eq!(
            ExportFormat::CoinTracker.csv(&[]),
            format!("{}\n", COINTRACKER_COLUMNS.join(","))
        );
    }
}
