//! Binance's answers classified, and mapped onto the exchange interface's errors.

use smartfolio_binance::BinanceError;
use smartfolio_binance::error::{self, ErrorClass::*, classify, classify_transport};
use smartfolio_binance::model::ErrorBody;
use smartfolio_exchange::{ExchangeError, reject};

#[test]
fn codes_and_statuses_classify() {
    let rl = |banned| RateLimited {
        retry_after_ms: None,
        banned,
    };
    // (status, code, msg, mutating, class)
    let table = [
        (429, None, "", false, rl(false)),
        (418, None, "", true, rl(true)),
        (
            429,
            Some(-1003),
            "Too much request weight used",
            false,
            rl(false),
        ),
        (400, Some(-1015), "Too many new orders", true, rl(false)),
        (503, None, "Service Unavailable", true, UnknownOutcome),
        (503, None, "Service Unavailable", false, Transient),
        (
            500,
            Some(-1006),
            "Unexpected response",
            true,
            UnknownOutcome,
        ),
        (
            408,
            Some(-1007),
            "Timeout waiting for response",
            true,
            UnknownOutcome,
        ),
        (
            408,
            Some(-1007),
            "Timeout waiting for response",
            false,
            Transient,
        ),
        (
            500,
            Some(-1000),
            "An unknown error occurred",
            true,
            UnknownOutcome,
        ),
        (
            500,
            Some(-1001),
            "Internal error; unable to process",
            true,
            Transient,
        ),
        (
            503,
            Some(-1008),
            "Server is currently overloaded",
            true,
            Transient,
        ),
        (
            400,
            Some(-1021),
            "Timestamp for this request is outside of the recvWindow.",
            true,
            Timestamp,
        ),
        (
            400,
            Some(-1022),
            "Signature for this request is not valid.",
            false,
            BadSignature,
        ),
        (401, Some(-2014), "API-key format invalid.", false, BadKey),
        (
            401,
            Some(-2015),
            "Invalid API-key, IP, or permissions for action.",
            false,
            BadKey,
        ),
        (400, Some(-2013), "Order does not exist.", false, NotFound),
        (400, Some(-2011), "Unknown order sent.", true, NotFound),
        (
            400,
            Some(-2011),
            "Order was canceled or expired.",
            true,
            Rejected,
        ),
        (
            400,
            Some(-2010),
            "Account has insufficient balance for requested action.",
            true,
            Rejected,
        ),
        (400, Some(-1013), "Filter failure: NOTIONAL", true, Rejected),
        (400, Some(-1121), "Invalid symbol.", false, Rejected),
        (403, None, "<html>WAF</html>", true, Rejected),
    ];
    for (status, code, msg, mutating, class) in table {
        assert_eq!(
            classify(status, code, msg, mutating),
            class,
            "{status} {code:?} {msg}"
        );
    }
    assert_eq!(classify_transport(false, true), Transient);
    assert_eq!(classify_transport(true, true), UnknownOutcome);
    assert_eq!(classify_transport(true, false), Transient);
}

#[test]
fn rejects_map_onto_the_shared_reject_codes() {
    let table = [
        (Some(-1013), "Filter failure: LOT_SIZE", reject::LOT_STEP),
        (
            Some(-1013),
            "Filter failure: MARKET_LOT_SIZE",
            reject::LOT_STEP,
        ),
        (
            Some(-1013),
            "Filter failure: NOTIONAL",
            reject::MIN_NOTIONAL,
        ),
        (
            Some(-1013),
            "Filter failure: MIN_NOTIONAL",
            reject::MIN_NOTIONAL,
        ),
        (
            Some(-1013),
            "Filter failure: PRICE_FILTER",
            reject::TICK_SIZE,
        ),
        (
            Some(-1013),
            "Filter failure: PERCENT_PRICE_BY_SIDE",
            reject::PRICE_BAND,
        ),
        (
            Some(-2010),
            "Account has insufficient balance for requested action.",
            reject::INSUFFICIENT_BALANCE,
        ),
        (
            Some(-2010),
            "Duplicate order sent.",
            reject::DUPLICATE_CLIENT_ID,
        ),
        (Some(-2010), "Market is closed.", reject::NOT_TRADING),
        (Some(-1121), "Invalid symbol.", reject::UNKNOWN_INSTRUMENT),
        (Some(-2013), "Order does not exist.", reject::UNKNOWN_ORDER),
        (
            Some(-1022),
            "Signature for this request is not valid.",
            error::BAD_SIGNATURE,
        ),
        (
            Some(-2015),
            "Invalid API-key, IP, or permissions for action.",
            error::BAD_KEY,
        ),
        (
            Some(-1102),
            "Mandatory parameter 'quantity' was not sent",
            reject::INVALID,
        ),
        (
            Some(-2010),
            "This action is disabled on this account.",
            "binance-2010",
        ),
    ];
    for (code, msg, want) in table {
        assert_eq!(error::reject_code(400, code, msg), want, "{code:?} {msg}");
    }
    assert_eq!(error::reject_code(403, None, "blocked"), error::FIREWALL);
}

#[test]
fn into_exchange_error_keeps_the_venue_answer() {
    let body = ErrorBody {
        code: -2015,
        msg: "Invalid API-key, IP, or permissions for action.".into(),
    };
    let e = BinanceError::from_answer(401, Some(&body), "", None, false);
    assert_eq!(e.class, BadKey);
    match ExchangeError::from(e) {
        ExchangeError::Rejected { code, message } => {
            assert_eq!(code, error::BAD_KEY);
            assert!(
                message.contains("-2015") && message.contains("Invalid API-key"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = BinanceError::from_answer(429, None, "", Some(2_000), false);
    assert_eq!(
        ExchangeError::from(e),
        ExchangeError::RateLimited {
            retry_after_ms: 2_000
        }
    );
    let e = BinanceError::from_answer(429, None, "", None, false);
    assert_eq!(
        ExchangeError::from(e),
        ExchangeError::RateLimited {
            retry_after_ms: error::DEFAULT_RETRY_AFTER_MS
        }
    );
    let e = BinanceError::from_answer(502, None, "Bad Gateway", None, true);
    assert!(
        matches!(ExchangeError::from(e), ExchangeError::UnknownOutcome(m) if m.contains("502"))
    );
    let e = BinanceError::from_answer(
        400,
        Some(&ErrorBody {
            code: -1021,
            msg: "x".into(),
        }),
        "",
        None,
        true,
    );
    assert!(ExchangeError::from(e).is_retryable());
}
