use codegym_core::{EnvErrorKind, Limits};

use crate::common::{act, pool, spec, MAX_ENV};

#[test]
fn observe_then_done_gives_reward() {
    let p = pool(
        vec![spec(MAX_ENV, "MaxEnv@{'nums': [3, 9, 2]}")],
        Limits::default(),
    );
    let r = p.reset(None).unwrap();
    assert!(r[0].error.is_none(), "{:?}", r[0].error);
    let s = p.step(&[act("Observe", "{}")], None).unwrap();
    assert_eq!(s[0].obs, "[3, 9, 2]");
    assert!(!s[0].done);
    let s = p.step(&[act("Done", r#"{"answer": 9}"#)], None).unwrap();
    assert_eq!(s[0].reward, 1.0);
    assert!(s[0].done);
    assert_eq!(s[0].step_count, 2);
    let again = p.step(&[act("Observe", "{}")], None).unwrap();
    assert_eq!(
        again[0].error.as_ref().map(|e| e.kind),
        Some(EnvErrorKind::NeedsReset)
    );
}

#[test]
fn solve_runs_the_oracle() {
    let p = pool(
        vec![
            spec(MAX_ENV, "MaxEnv@{'nums': [1, 2]}"),
            spec(MAX_ENV, "MaxEnv@{'nums': [7, -1, 4]}"),
        ],
        Limits::default(),
    );
    let out = p.solve(None).unwrap();
    for o in &out {
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(o.reward, 1.0);
        assert_eq!(o.steps, 2);
    }
}

#[test]
fn seeded_random_is_deterministic() {
    let run = || {
        let p = pool(
            vec![spec(MAX_ENV, "MaxEnv@{'nums': [1]}")],
            Limits::default(),
        );
        p.reset(None).unwrap();
        let a = p.step(&[act("Noise", "{}")], None).unwrap()[0].obs.clone();
        let b = p.step(&[act("Noise", "{}")], None).unwrap()[0].obs.clone();
        (a, b)
    };
    let first = run();
    assert_ne!(first.0, first.1);
    assert_eq!(first, run());
}
