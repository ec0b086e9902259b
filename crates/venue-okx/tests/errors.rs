//! OKX's codes onto the interface's error classes and shared reject codes.

use smartfolio_exchange::{ExchangeError, reject};
use smartfolio_okx::error::{
    BAD_KEY, BAD_SIGNATURE, DEFAULT_RETRY_AFTER_MS, ErrorClass, OkxError, classify,
    classify_transport, reject_code,
};

fn to_interface(status: u16, code: &str, mutating: bool) -> ExchangeError {
    OkxError::from_answer(status, Some(code), "msg", None, mutating).into()
}

#[test]
fn rate_limits_wait_and_may_be_retried() {
    for (status, code) in [(429, "50011"), (200, "50011"), (200, "50061")] {
        let e = to_interface(status, code, true);
        assert_eq!(
            e,
            ExchangeError::RateLimited {
                retry_after_ms: DEFAULT_RETRY_AFTER_MS
            },
            "{code}"
        );
        assert!(e.is_retryable());
    }
    let e: ExchangeError = OkxError::from_answer(429, None, "", Some(5_000), false).into();
    assert_eq!(e.retry_after_ms(), Some(5_000));
}

#[test]
fn an_endpoint_timeout_leaves_an_order_unknown_and_a_read_transient() {
    for code in ["50004", "50026", "50001", "50013"] {
        assert!(
            matches!(
                to_interface(200, code, true),
                ExchangeError::UnknownOutcome(_)
            ),
            "{code}"
        );
        assert!(
            matches!(to_interface(200, code, false), ExchangeError::Transient(_)),
            "{code}"
        );
    }
    assert_eq!(classify(503, None, true), ErrorClass::UnknownOutcome);
    assert_eq!(classify(502, None, false), ErrorClass::Transient);
    assert_eq!(classify_transport(true, true), ErrorClass::UnknownOutcome);
    assert_eq!(classify_transport(false, true), ErrorClass::Transient);
    assert_eq!(classify_transport(true, false), ErrorClass::Transient);
}

#[test]
fn keys_signatures_and_timestamps() {
    assert_eq!(
        classify(401, Some("50113"), false),
        ErrorClass::BadSignature
    );
    for code in [
        "50111", "50105", "50104", "50101", "50110", "50100", "50114",
    ] {
        assert_eq!(
            classify(401, Some(code), false),
            ErrorClass::BadKey,
            "{code}"
        );
        match to_interface(401, code, false) {
            ExchangeError::Rejected { code: c, message } => {
                assert_eq!(c, BAD_KEY);
                assert!(message.contains(code), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    match to_interface(401, "50113", true) {
        ExchangeError::Rejected { code, .. } => assert_eq!(code, BAD_SIGNATURE),
        other => panic!("{other:?}"),
    }
    assert_eq!(classify(401, Some("50102"), true), ErrorClass::Timestamp);
    assert_eq!(classify(400, Some("50112"), true), ErrorClass::Timestamp);
}

#[test]
fn order_rejections_map_onto_the_shared_codes() {
    let table = [
        ("51008", reject::INSUFFICIENT_BALANCE),
        ("51131", reject::INSUFFICIENT_BALANCE),
        ("51001", reject::UNKNOWN_INSTRUMENT),
        ("51016", reject::DUPLICATE_CLIENT_ID),
        ("51020", reject::MIN_SIZE),
        ("51120", reject::MIN_SIZE),
        ("51121", reject::LOT_STEP),
        ("51006", reject::PRICE_BAND),
        ("51201", reject::MAX_NOTIONAL),
        ("51202", reject::MAX_SIZE),
        ("51009", reject::NOT_TRADING),
        ("51400", reject::UNKNOWN_ORDER),
        ("51401", reject::ORDER_NOT_OPEN),
        ("51402", reject::ORDER_NOT_OPEN),
        ("51000", reject::INVALID),
        ("50014", reject::INVALID),
    ];
    for (code, want) in table {
        assert_eq!(
            classify(200, Some(code), true),
            ErrorClass::Rejected,
            "{code}"
        );
        match to_interface(200, code, true) {
            ExchangeError::Rejected { code: c, .. } => assert_eq!(c, want, "{code}"),
            other => panic!("{code}: {other:?}"),
        }
    }
    assert_eq!(reject_code(200, Some("51024")), "okx51024");
    assert_eq!(reject_code(404, None), "http404");
}

#[test]
fn an_order_that_does_not_exist_is_not_found() {
    let e = OkxError::from_answer(200, Some("51603"), "Order does not exist", None, false);
    assert!(e.is_not_found());
    match ExchangeError::from(e) {
        ExchangeError::Rejected { code, .. } => assert_eq!(code, reject::UNKNOWN_ORDER),
        other => panic!("{other:?}"),
    }
}

#[test]
fn messages_name_the_status_code_and_okx_message_clipped() {
    let e = OkxError::from_answer(200, Some("51008"), "Insufficient USDT balance", None, true);
    assert_eq!(
        e.to_string(),
        "okx answered HTTP 200, code 51008: Insufficient USDT balance"
    );
    let long = "x".repeat(500);
    let e = OkxError::from_answer(500, None, &long, None, false);
    assert!(e.msg.chars().count() <= 201, "{}", e.msg.len());
    let e = OkxError::local(ErrorClass::Rejected, "not sent: sz \"0\"");
    assert!(matches!(
        ExchangeError::from(e),
        ExchangeError::Rejected { code, .. } if code == reject::INVALID
    ));
}
