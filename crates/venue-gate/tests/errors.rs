//! Gate's error labels and statuses onto the interface's failure classes and reject codes.

use smartfolio_exchange::{ExchangeError, reject};
use smartfolio_gate::GateError;
use smartfolio_gate::error::{ErrorClass, classify, classify_transport, reject_code};

fn to_exchange(status: u16, label: &str, mutating: bool) -> ExchangeError {
    GateError::from_answer(status, Some(label), "msg", None, mutating).into()
}

fn code(e: ExchangeError) -> String {
    match e {
        ExchangeError::Rejected { code, .. } => code,
        other => panic!("not a rejection: {other:?}"),
    }
}

#[test]
fn labels_map_onto_classes() {
    let rate = ErrorClass::RateLimited {
        retry_after_ms: None,
    };
    let table = [
        (429, Some("TOO_MANY_REQUESTS"), false, rate),
        (429, None, true, rate),
        (400, Some("TOO_FAST"), false, rate),
        (500, Some("SERVER_ERROR"), true, ErrorClass::UnknownOutcome),
        (500, Some("SERVER_ERROR"), false, ErrorClass::Transient),
        (503, Some("TOO_BUSY"), true, ErrorClass::UnknownOutcome),
        (502, None, true, ErrorClass::UnknownOutcome),
        (502, None, false, ErrorClass::Transient),
        (403, Some("REQUEST_EXPIRED"), true, ErrorClass::Timestamp),
        (
            401,
            Some("INVALID_SIGNATURE"),
            false,
            ErrorClass::BadSignature,
        ),
        (401, Some("INVALID_KEY"), false, ErrorClass::BadKey),
        (403, Some("IP_FORBIDDEN"), false, ErrorClass::BadKey),
        (403, Some("READ_ONLY"), true, ErrorClass::BadKey),
        (
            401,
            Some("MISSING_REQUIRED_HEADER"),
            false,
            ErrorClass::BadKey,
        ),
        (401, None, false, ErrorClass::BadKey),
        (404, Some("ORDER_NOT_FOUND"), false, ErrorClass::NotFound),
        (
            400,
            Some("CLIENT_ID_NOT_FOUND"),
            false,
            ErrorClass::NotFound,
        ),
        (400, Some("BALANCE_NOT_ENOUGH"), true, ErrorClass::Rejected),
        (400, Some("INVALID_PARAM_VALUE"), true, ErrorClass::Rejected),
        (400, None, true, ErrorClass::Rejected),
    ];
    for (status, label, mutating, want) in table {
        assert_eq!(
            classify(status, label, mutating),
            want,
            "{status} {label:?} {mutating}"
        );
    }
    assert_eq!(classify_transport(true, true), ErrorClass::UnknownOutcome);
    assert_eq!(classify_transport(false, true), ErrorClass::Transient);
    assert_eq!(classify_transport(true, false), ErrorClass::Transient);
}

#[test]
fn refusals_carry_the_shared_reject_codes() {
    let table = [
        ("BALANCE_NOT_ENOUGH", reject::INSUFFICIENT_BALANCE),
        ("INVALID_CURRENCY_PAIR", reject::UNKNOWN_INSTRUMENT),
        ("AMOUNT_TOO_LITTLE", reject::MIN_SIZE),
        ("AMOUNT_TOO_MUCH", reject::MAX_SIZE),
        ("INVALID_PRECISION", reject::LOT_STEP),
        ("POC_FILL_IMMEDIATELY", reject::WOULD_TAKE),
        ("ORDER_CLOSED", reject::ORDER_NOT_OPEN),
        ("INVALID_PARAM_VALUE", reject::INVALID),
        ("MISSING_REQUIRED_PARAM", reject::INVALID),
        ("TRADE_RESTRICTED", reject::NOT_TRADING),
    ];
    for (label, want) in table {
        assert_eq!(code(to_exchange(400, label, true)), want, "{label}");
    }
    assert_eq!(
        code(to_exchange(404, "ORDER_NOT_FOUND", false)),
        reject::UNKNOWN_ORDER
    );
    assert_eq!(
        code(to_exchange(401, "INVALID_KEY", false)),
        reject::BAD_KEY
    );
    assert_eq!(
        code(to_exchange(401, "INVALID_SIGNATURE", false)),
        reject::BAD_SIGNATURE
    );
    assert_eq!(
        reject_code(400, Some("MARGIN_NOT_SUPPORTED")),
        "gate_margin_not_supported"
    );
    assert_eq!(reject_code(418, None), "http418");
}

#[test]
fn the_message_names_status_label_and_gates_words() {
    let e = GateError::from_answer(
        400,
        Some("BALANCE_NOT_ENOUGH"),
        " Not enough balance ",
        None,
        true,
    );
    assert_eq!(
        e.to_string(),
        "gate answered HTTP 400, BALANCE_NOT_ENOUGH: Not enough balance"
    );
    match ExchangeError::from(e) {
        ExchangeError::Rejected { message, .. } => assert!(message.contains("Not enough balance")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rate_limits_wait_retry_after_or_gates_window_and_5xx_is_unknown() {
    let e: ExchangeError =
        GateError::from_answer(429, Some("TOO_MANY_REQUESTS"), "", Some(3_000), false).into();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 3_000
        }
    );
    assert_eq!(
        to_exchange(429, "TOO_MANY_REQUESTS", false),
        ExchangeError::RateLimited {
            retry_after_ms: smartfolio_gate::error::DEFAULT_RETRY_AFTER_MS
        }
    );
    assert!(matches!(
        to_exchange(500, "SERVER_ERROR", true),
        ExchangeError::UnknownOutcome(_)
    ));
    assert!(matches!(
        to_exchange(500, "SERVER_ERROR", false),
        ExchangeError::Transient(_)
    ));
    // A refused timestamp is retryable once re-signed.
    assert!(to_exchange(403, "REQUEST_EXPIRED", true).is_retryable());
}
