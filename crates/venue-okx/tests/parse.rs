//! OKX's payloads (fixtures in the shapes of OKX's v5 documentation) read into the models.

use rust_decimal_macros::dec;
use serde::de::DeserializeOwned;
use smartfolio_okx::model::{
    AccountBalance, AccountConfig, Envelope, InstrumentInfo, OrderAck, OrderDetail, ServerTime,
    TickerInfo, TradeFill,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn data<T: DeserializeOwned>(name: &str) -> (Envelope, Vec<T>) {
    let env: Envelope = serde_json::from_str(&fixture(name)).unwrap();
    let items = serde_json::from_value(env.data.clone()).unwrap();
    (env, items)
}

#[test]
fn time_and_instruments() {
    let (env, t) = data::<ServerTime>("time.json");
    assert!(env.is_ok());
    assert_eq!(t[0].ts, 1_700_000_020_000);
    let (_, inst) = data::<InstrumentInfo>("instruments.json");
    assert_eq!(inst.len(), 3);
    let btc = &inst[0];
    assert_eq!(
        (btc.inst_id.as_str(), btc.base_ccy.as_str()),
        ("BTC-USDT", "BTC")
    );
    assert_eq!(btc.lot_sz, Some(dec!(0.00000001)));
    assert_eq!(btc.min_sz, Some(dec!(0.00001)));
    assert_eq!(btc.tick_sz, Some(dec!(0.1)));
    assert_eq!(btc.max_mkt_sz, Some(dec!(1000000)));
    assert_eq!(btc.max_lmt_amt, Some(dec!(20000000)));
    assert_eq!(inst[1].state, "suspend");
    // Empty strings are "no limit".
    assert_eq!(
        (inst[2].state.as_str(), inst[2].max_mkt_sz),
        ("preopen", None)
    );
}

#[test]
fn tickers_and_balances() {
    let (_, t) = data::<TickerInfo>("tickers.json");
    assert_eq!(t[1].last, Some(dec!(2000.55)));
    assert_eq!(t[1].ts, Some(1_700_000_019_500));
    let (_, b) = data::<AccountBalance>("balance.json");
    let d = &b[0].details;
    assert_eq!(d[0].avail_bal, Some(dec!(3900.5)));
    assert_eq!(d[0].frozen_bal, Some(dec!(100)));
    assert_eq!(d[1].cash_bal, Some(dec!(1.00000001)));
    assert_eq!((d[2].avail_bal, d[2].cash_bal), (None, Some(dec!(0.5))));
}

#[test]
fn a_tickers_24_hour_volume_in_the_quote_is_vol_ccy_24h_as_a_string_or_a_number() {
    let (_, t) = data::<TickerInfo>("ticker.json");
    assert_eq!(
        (t[0].inst_id.as_str(), t[0].vol_ccy_24h),
        ("BTC-USDT", Some(dec!(99012345.678)))
    );
    let (_, t) = data::<TickerInfo>("tickers.json");
    assert_eq!(t[1].vol_ccy_24h, Some(dec!(5000000)));
    let t: TickerInfo =
        serde_json::from_str(r#"{"instId":"BTC-USDT","volCcy24h":1234.5}"#).unwrap();
    assert_eq!(t.vol_ccy_24h, Some(dec!(1234.5)));
    let t: TickerInfo = serde_json::from_str(r#"{"instId":"BTC-USDT","volCcy24h":""}"#).unwrap();
    assert_eq!(t.vol_ccy_24h, None);
}

#[test]
fn an_order_answer_carries_each_orders_verdict() {
    let (env, acks) = data::<OrderAck>("order_placed.json");
    assert!(env.is_ok() && acks[0].is_ok());
    assert_eq!(acks[0].ord_id, "612345678901234567");
    assert_eq!(acks[0].ts, Some(1_700_000_020_100));
    let (env, acks) = data::<OrderAck>("order_rejected.json");
    assert_eq!(env.code, "1");
    assert!(!acks[0].is_ok());
    assert_eq!(acks[0].s_code, "51008");
    assert!(acks[0].s_msg.contains("Insufficient USDT"));
}

#[test]
fn orders_fills_and_the_key() {
    let (_, o) = data::<OrderDetail>("order_filled.json");
    let o = &o[0];
    assert_eq!(
        (o.ord_type.as_str(), o.tgt_ccy.as_str()),
        ("market", "quote_ccy")
    );
    assert_eq!((o.px, o.sz), (None, Some(dec!(100))));
    assert_eq!(o.acc_fill_sz, Some(dec!(0.0027)));
    assert_eq!(o.fee, Some(dec!(-0.0000027)));
    assert_eq!(
        (o.c_time, o.u_time),
        (Some(1_700_000_020_100), Some(1_700_000_020_200))
    );
    let (_, f) = data::<TradeFill>("fills.json");
    assert_eq!(f[1].fee, Some(dec!(-0.00002)));
    assert_eq!(f[1].fee_ccy, "OKB");
    assert_eq!((f[0].fill_sz, f[0].fill_px), (dec!(0.0017), dec!(37037)));
    let (_, c) = data::<AccountConfig>("account_config.json");
    assert!(c[0].can_trade() && !c[0].can_withdraw() && c[0].ip_restricted());
    let with: AccountConfig =
        serde_json::from_str(r#"{"perm":"read_only, withdraw,trade","ip":""}"#).unwrap();
    assert!(with.can_withdraw() && !with.ip_restricted());
}

#[test]
fn error_envelopes_keep_their_code_and_message() {
    for (name, code) in [
        ("error_rate_limit.json", "50011"),
        ("error_endpoint_timeout.json", "50004"),
        ("error_order_not_found.json", "51603"),
        ("error_bad_key.json", "50111"),
    ] {
        let env: Envelope = serde_json::from_str(&fixture(name)).unwrap();
        assert!(!env.is_ok());
        assert_eq!(env.code, code, "{name}");
        assert!(!env.msg.is_empty());
    }
    // A numeric code reads the same.
    let env: Envelope = serde_json::from_str(r#"{"code":50011,"msg":"x"}"#).unwrap();
    assert_eq!(env.code, "50011");
}
