//! Output into a closed pipe (`smartfolio backtest ... | head -1` once head has exited) ends the
//! command quietly instead of panicking on the failed write.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    let mut body = String::from("timestamp,A,B\n");
    for d in 0..200 {
        body.push_str(&format!(
            "{},{},{}\n",
            1_600_000_000 + d * 86_400,
            100 + d % 7,
            50 + d % 5
        ));
    }
    std::fs::write(&csv, body).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartfolio"))
        .args(["backtest", "--data"])
        .arg(&csv)
        .args(["--trigger", "threshold:1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the command writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_ne!(out.status.code(), Some(101), "stderr: {stderr}");
}
