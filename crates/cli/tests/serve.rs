//! `smartfolio serve`: a store it cannot use is refused naming the flag or the URL with its
//! password masked; on a SQLite data directory it serves the store's bots (none here) and
//! stops when told, driving nothing.

use std::process::{Command, Output};

fn serve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .arg("serve")
        .args(args)
        .env_remove("SMARTFOLIO_STORE")
        .output()
        .expect("run smartfolio serve")
}

#[test]
fn a_store_that_is_not_postgres_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(&[
        "--store",
        "mysql://sf:hunter2@db/sf",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--port",
        "0",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid --store: `mysql://sf:***@db/sf`") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn an_unreachable_postgres_is_named_with_its_password_masked() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 (a binary without the `postgres` feature refuses the URL).
    let out = serve(&[
        "--store",
        "postgres://sf:hunter2@127.0.0.1:1/sf",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--port",
        "0",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("postgres://sf:***@127.0.0.1:1/sf"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn serves_a_sqlite_data_directory_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--port",
        "0",
        "--max-seconds",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("smartfolio serve: http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("API token (shown once"), "{text}");
    assert!(text.contains("serve stopped: 0 bots"), "{text}");
}
