//! Repeat one engine run and a 100-threshold sweep on a wide CSV and print wall and process CPU
//! time per run (CPU time is less disturbed by other load on a shared machine than wall time).
//!
//! `cargo run --release -p smartfolio-backtest --example timing -- FILE.csv [RUNS]`

use smartfolio_backtest::engine::{self, Config, Prices, Record};
use smartfolio_backtest::sweep::{expand_spec, sweep};
use smartfolio_core::Trigger;
use std::time::Instant;

/// User + system CPU time of this process, in seconds (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |k: usize| {
        f.get(k)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: timing FILE.csv [RUNS]");
    let runs: usize = args.next().map_or(1000, |r| r.parse().expect("RUNS"));
    let t = smartfolio_data::load(path.as_ref(), &Default::default()).expect("load");
    let px = Prices::try_from(&t).unwrap();
    let n = t.n_assets();
    let cfg = Config::new(vec![1.0 / n as f64; n]);
    let th: Trigger = "threshold:5".parse().unwrap();
    let (w0, c0) = (Instant::now(), cpu_s());
    let mut fv = f64::NAN;
    for _ in 0..runs {
        fv = engine::run(std::hint::black_box(px), &th, &cfg, Record::NONE)
            .unwrap()
            .final_value;
    }
    let (w, c) = (w0.elapsed().as_secs_f64(), cpu_s() - c0);
    println!(
        "engine threshold:5 exact {}x{}: wall {:.3} ms/run, cpu {:.3} ms/run (final value {})",
        t.n_bars(),
        n,
        w / runs as f64 * 1e3,
        c / runs as f64 * 1e3,
        fv
    );
    if std::env::var_os("TIMING_ENGINE_ONLY").is_some() {
        return;
    }
    for (label, trig) in [
        ("every:100000 (no drift)", Some("every:100000")),
        ("buy and hold", None),
    ] {
        let trig: Option<Trigger> = trig.map(|x| x.parse().unwrap());
        let (w0, c0) = (Instant::now(), cpu_s());
        for _ in 0..runs {
            let o = match &trig {
                Some(tr) => engine::run(std::hint::black_box(px), tr, &cfg, Record::NONE),
                None => engine::buy_and_hold(std::hint::black_box(px), &cfg, Record::NONE),
            };
            std::hint::black_box(o.unwrap().final_value);
        }
        let (w, c) = (w0.elapsed().as_secs_f64(), cpu_s() - c0);
        println!(
            "{label}: wall {:.3} ms/run, cpu {:.3} ms/run",
            w / runs as f64 * 1e3,
            c / runs as f64 * 1e3
        );
    }
    let grid = expand_spec("threshold:1..10/100").unwrap();
    let k = (runs / 50).max(3);
    let (w0, c0) = (Instant::now(), cpu_s());
    for _ in 0..k {
        std::hint::black_box(sweep(px, &grid, &cfg, t.periods_per_year()).unwrap());
    }
    let (w, c) = (w0.elapsed().as_secs_f64(), cpu_s() - c0);
    println!(
        "sweep 100 thresholds ({} threads): wall {:.1} ms/sweep, cpu {:.1} ms/sweep",
        rayon::current_num_threads(),
        w / k as f64 * 1e3,
        c / k as f64 * 1e3
    );
}
