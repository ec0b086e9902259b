//! The crash harness: SIGKILL the worker (`src/bin/smartfolio_crash_worker.rs`) at random
//! moments while it deploys and rebalances three bots, then recover and check after every kill:
//! no duplicate orders, each bot's ledger equal to what the paper exchange holds for it, every
//! rebalance completed or closed on recovery (none applied twice).
//!
//! 50 kills by default; a soak: `SMARTFOLIO_CRASH_KILLS=5000 cargo test -p smartfolio-bot
//! --release --test crash_kill -- --nocapture`.

use std::process::{Command, Stdio};
use std::time::Duration;

const WORKER: &str = env!("CARGO_BIN_EXE_smartfolio_crash_worker");

fn check(dir: &std::path::Path) -> String {
    let out = Command::new(WORKER)
        .args([dir.to_str().unwrap(), "0", "1"])
        .output()
        .expect("run the worker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "invariants broken: {text}");
    assert!(text.starts_with("OK"), "{text}");
    text
}

#[test]
fn sigkill_during_deploys_and_rebalances() {
    let kills: usize = std::env::var("SMARTFOLIO_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let seed: u64 = 7;
    let mut rng: u64 = 0x5EED;
    let mut last = String::new();
    for k in 0..kills {
        let mut child = Command::new(WORKER)
            .args([dir.path().to_str().unwrap(), "1000000", &seed.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the worker");
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let ms = 20 + (rng >> 33) % 250;
        std::thread::sleep(Duration::from_millis(ms));
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                e.read_to_string(&mut err).ok();
            }
            panic!("worker exited by itself ({status}) at kill {k}: {err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        last = check(dir.path());
    }
    eprintln!("after {kills} kills: {last}");
    // The kills landed while the bots were busy.
    let field = |name: &str| -> usize {
        last.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(field("bots"), 3, "{last}");
    assert!(field("rebalances") > kills, "{last}");
}
