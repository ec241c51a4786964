//! Where time and memory go when sandboxes are created and stepped.
//!
//! `cargo run --release -p codegym-core --example probe -- ENV.py ENV_STR [N]` first measures the
//! floor of creation (instantiate and drop N bare sandboxes, on one and two threads), then loads
//! N sandboxes of one env and prints, per phase, the time, the resident memory and the minor page
//! faults each phase added per env.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use codegym_core::{Engine, EnvPool, EnvSpec, Limits, PoolOptions, Sandbox};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let source = std::fs::read_to_string(&args[1]).expect("env source");
    let env_str = &args[2];
    let n: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(100);
    let limits = Arc::new(Limits::default());
    let engine = Engine::shared(limits.stack_bytes).unwrap();
    let action = r#"{"name": "Observe", "parameters": {}}"#;

    let phase = |name: &str, start: Instant, before: (f64, f64)| {
        let dt = start.elapsed().as_secs_f64();
        println!(
            "{name:<28} {:>9.3} ms/env {:>8.2} MB/env {:>7.0} faults/env",
            1e3 * dt / n as f64,
            (rss_mb() - before.0) / n as f64,
            (minor_faults() - before.1) / n as f64
        );
    };
    let mark = || (rss_mb(), minor_faults());
    // The floor of creation: instantiate and drop, nothing executed in the guest.
    for threads in [1, 2] {
        let (f, t) = (minor_faults(), Instant::now());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..n {
                        drop(Sandbox::instantiate(&engine, limits.clone(), 0).unwrap());
                    }
                });
            }
        });
        let rate = (threads * n) as f64 / t.elapsed().as_secs_f64();
        let faults = (minor_faults() - f) / (threads * n) as f64;
        println!("instantiate + drop, {threads} thread(s) {rate:>9.0} /s {faults:>7.0} faults/env");
    }
    let trivial = "class T:\n    @staticmethod\n    def from_env_str(s):\n        return T()\n";
    let trivial = EnvSpec::new(Arc::from(trivial), "T@{}", None, 0).unwrap();
    let (r, t) = (mark(), Instant::now());
    let mut empty: Vec<Sandbox> = (0..n)
        .map(|_| Sandbox::for_spec(&engine, limits.clone(), &trivial).unwrap())
        .collect();
    phase("instantiate + trivial load", t, r);
    let (r, t) = (mark(), Instant::now());
    for s in &mut empty {
        s.reset("T@{}", 0).unwrap();
    }
    phase("trivial reset", t, r);
    drop(empty);

    let (r, t) = (mark(), Instant::now());
    let spec = EnvSpec::new(Arc::from(source.as_str()), env_str.as_str(), None, 0).unwrap();
    let mut boxes: Vec<Sandbox> = (0..n)
        .map(|_| Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap())
        .collect();
    phase("instantiate + load", t, r);
    let (r, t) = (mark(), Instant::now());
    for s in &mut boxes {
        s.reset(env_str, 0).unwrap();
    }
    phase("reset (from_env_str)", t, r);
    let (r, t) = (mark(), Instant::now());
    for s in &mut boxes {
        s.step(action).unwrap();
    }
    phase("first step", t, r);
    for rounds in [10, 100, 1000] {
        let (r, t) = (mark(), Instant::now());
        for _ in 0..rounds {
            for s in &mut boxes {
                s.step(action).unwrap();
            }
        }
        phase(&format!("{rounds} more steps"), t, r);
    }
    drop(boxes);

    // Envs of the class now that its first env has recorded the pages a load and a reset write
    // (crate::prefault): created on one thread by phase, then on one and two threads at once.
    let (r, t) = (mark(), Instant::now());
    let mut boxes: Vec<Sandbox> = (0..n)
        .map(|_| Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap())
        .collect();
    phase("instantiate + load, profiled", t, r);
    let (r, t) = (mark(), Instant::now());
    for s in &mut boxes {
        s.reset(env_str, 0).unwrap();
    }
    phase("reset, profiled", t, r);
    drop(boxes);
    for threads in [1, 2] {
        let (f, t) = (minor_faults(), Instant::now());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let boxes: Vec<Sandbox> = (0..n)
                        .map(|_| {
                            let mut s = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
                            s.reset(env_str, 0).unwrap();
                            s
                        })
                        .collect();
                    drop(boxes);
                });
            }
        });
        let rate = (threads * n) as f64 / t.elapsed().as_secs_f64();
        let faults = (minor_faults() - f) / (threads * n) as f64;
        println!("create + drop, {threads} thread(s)  {rate:>9.0} /s {faults:>7.0} faults/env");
    }

    // The same through an EnvPool on one and two threads.
    for threads in [1, 2] {
        let specs = (0..n)
            .map(|i| EnvSpec::new(spec.source.clone(), env_str.as_str(), None, i as u64).unwrap())
            .collect();
        let options = PoolOptions {
            num_threads: Some(threads),
            ..PoolOptions::default()
        };
        let pool = EnvPool::new(specs, options).unwrap();
        pool.reset(None).unwrap();
        let actions = vec![action.to_owned(); n];
        for _ in 0..110 {
            pool.step(&actions, None).unwrap();
        }
        let t = Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            pool.step(&actions, None).unwrap();
        }
        let rate = (rounds * n) as f64 / t.elapsed().as_secs_f64();
        println!("EnvPool.step, {threads} thread(s)   {rate:>9.0} steps/s");
    }
}
