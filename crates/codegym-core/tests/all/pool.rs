use codegym_core::{EnvErrorKind, EnvPool, Limits, StepOutcome, MIN_MEMORY_BYTES};

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
    let out = p.solve(None, false).unwrap();
    for o in &out {
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(o.reward, 1.0);
        assert_eq!(o.steps, 2);
        assert_eq!(o.actions, None);
    }
}

#[test]
fn recorded_solve_returns_the_oracles_actions_and_replaying_them_solves() {
    let task = "MaxEnv@{'nums': [7, -1, 4]}";
    let p = pool(
        vec![spec(MAX_ENV, task), spec(MAX_ENV, task)],
        Limits::default(),
    );
    let solved = p.solve(Some(vec![0]), true).unwrap().remove(0);
    let actions = solved.actions.expect("a trace");
    assert_eq!(actions.len() as u64, solved.steps);
    p.reset(Some(vec![1])).unwrap();
    let mut last = None;
    for a in &actions {
        last = Some(
            p.step(std::slice::from_ref(a), Some(vec![1]))
                .unwrap()
                .remove(0),
        );
    }
    let last = last.expect("at least one action");
    assert!(last.error.is_none(), "{:?}", last.error);
    assert_eq!((last.reward, last.done), (1.0, true));
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

#[test]
fn fork_replays_the_exact_state_then_clones_diverge() {
    let mut p = pool(
        vec![spec(MAX_ENV, "MaxEnv@{'nums': [5, 1]}")],
        Limits::default(),
    );
    p.reset(None).unwrap();
    p.step(&[act("Noise", "{}")], None).unwrap();
    let ids = p.fork(0, 2).unwrap();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(p.len(), 3);
    // Same `random` stream and step count in the original and both clones.
    let noise = p.step(&vec![act("Noise", "{}"); 3], None).unwrap();
    assert_eq!(noise[0].obs, noise[1].obs);
    assert_eq!(noise[0].obs, noise[2].obs);
    assert!(noise.iter().all(|o| o.step_count == 2));
    // One clone finishes; the others are untouched.
    let done = p
        .step(&[act("Done", r#"{"answer": 5}"#)], Some(vec![1]))
        .unwrap();
    assert!(done[0].done);
    let rest = p
        .step(&vec![act("Observe", "{}"); 2], Some(vec![0, 2]))
        .unwrap();
    assert!(rest.iter().all(|o| !o.done && o.obs == "[5, 1]"));
}

#[test]
fn fork_refuses_failed_and_unreset_envs() {
    let limits = Limits {
        fuel_per_step: 50_000_000,
        ..Limits::default()
    };
    let looping = "class L:\n    step_count = 0\n    @staticmethod\n    def from_env_str(s):\n        return L()\n    def step(self, a):\n        while True:\n            pass\n";
    let mut p = pool(vec![spec(looping, "L@{}")], limits);
    assert!(p.fork(0, 1).is_err());
    p.reset(None).unwrap();
    let out = p.step(&[act("Go", "{}")], None).unwrap();
    assert_eq!(
        out[0].error.as_ref().map(|e| e.kind),
        Some(EnvErrorKind::Fuel)
    );
    let err = p.fork(0, 3).unwrap_err();
    assert!(err.0.contains("sandbox failed"), "{err}");
    assert_eq!(p.len(), 1);
}

/// Fork env 0 into `n` clones, then step it and them with `action`: every outcome must be
/// error-free and equal to the original's. Returns the clones' ids and the outcomes.
fn fork_and_step_alike(p: &mut EnvPool, n: usize, action: &str) -> (Vec<usize>, Vec<StepOutcome>) {
    let ids = p.fork(0, n).unwrap();
    let all = [vec![0], ids.clone()].concat();
    let out = p.step(&vec![action.to_owned(); n + 1], Some(all)).unwrap();
    assert!(
        out.iter().all(|o| o.error.is_none() && o.obs == out[0].obs),
        "{out:?}"
    );
    (ids, out)
}

/// A fork copies the sandbox, so the replay log's bound does not limit it.
#[test]
fn fork_copies_an_env_past_the_replay_bound() {
    let mut p = pool(
        vec![spec(MAX_ENV, "MaxEnv@{'nums': [2]}")],
        Limits::default(),
    );
    p.reset(None).unwrap();
    let observe = vec![act("Observe", "{}")];
    for _ in 0..4100 {
        p.step(&observe, None).unwrap();
    }
    p.step(&[act("Noise", "{}")], None).unwrap();
    let (_, noise) = fork_and_step_alike(&mut p, 2, &act("Noise", "{}"));
    assert!(noise.iter().all(|o| o.step_count == 4102));
}

/// A clone is a fresh instance, whose memory has the guest's initial size: an env whose memory
/// grew cannot be copied into it and is forked by replay, in the same state.
#[test]
fn an_env_whose_memory_grew_forks_by_replay() {
    let growing = r#"
import random


class G:
    step_count = 0

    @staticmethod
    def from_env_str(s):
        env = G()
        env.blob = bytearray(48 << 20)
        return env

    def step(self, action):
        self.step_count += 1
        self.blob[self.step_count] = 7
        return True, f"{random.random()} {sum(self.blob[:8])} {len(self.blob)}"
"#;
    let mut p = pool(vec![spec(growing, "G@{}")], Limits::default());
    p.reset(None).unwrap();
    p.step(&[act("A", "{}")], None).unwrap();
    let (_, next) = fork_and_step_alike(&mut p, 2, &act("B", "{}"));
    assert!(next[0].obs.ends_with(" 14 50331648"), "{}", next[0].obs);
}

/// An env whose guest holds a host resource (here the output stream, after a `print`) cannot
/// be copied: it is forked by replaying its calls, which the log's bound limits until the next
/// reset.
#[test]
fn an_env_holding_a_host_resource_forks_by_replay_within_the_log_bound() {
    let printing = r#"
import random


class P:
    step_count = 0

    @staticmethod
    def from_env_str(s):
        return P()

    def step(self, action):
        self.step_count += 1
        print("step", self.step_count, action)
        return True, str(random.random())
"#;
    let mut p = pool(vec![spec(printing, "P@{}")], Limits::default());
    p.reset(None).unwrap();
    p.step(&[act("A", "{}")], None).unwrap();
    let (ids, _) = fork_and_step_alike(&mut p, 1, &act("B", "{}"));
    assert_eq!(p.output(0).unwrap(), p.output(ids[0]).unwrap());
    assert!(p.output(0).unwrap().0.contains("step 2"));
    for _ in 0..4100 {
        p.step(&[act("A", "{}")], Some(vec![0])).unwrap();
    }
    let err = p.fork(0, 1).unwrap_err();
    assert!(err.0.contains("after its next reset"), "{err}");
    // The next reset rebuilds the sandbox and starts a new log.
    p.reset(Some(vec![0])).unwrap();
    p.step(&[act("A", "{}")], Some(vec![0])).unwrap();
    fork_and_step_alike(&mut p, 1, &act("B", "{}"));
}

/// The build makes every object of the guest's snapshot immortal (`build/immortal.rs`), so that
/// reference counting never copies a shared page into a sandbox; what an env creates stays mortal
/// and is freed as usual.
#[test]
fn snapshot_objects_are_immortal_and_env_objects_are_not() {
    let source = r#"
import json
import sys

import gymnasium


class ImmortalEnv(gymnasium.Env):
    @staticmethod
    def from_env_str(env_str):
        return ImmortalEnv()

    def reset(self, options={}):
        return "reset"

    def step(self, action):
        checks = {
            "json.dumps": sys._is_immortal(json.dumps),
            "gymnasium.Env": sys._is_immortal(gymnasium.Env),
            "json module": sys._is_immortal(json),
            "env": sys._is_immortal(self),
            "env class": sys._is_immortal(ImmortalEnv),
            "new list": sys._is_immortal([]),
        }
        return True, json.dumps(checks, sort_keys=True)
"#;
    let p = pool(vec![spec(source, "ImmortalEnv@{}")], Limits::default());
    p.reset(None).unwrap();
    let s = p.step(&[act("Check", "{}")], None).unwrap();
    assert!(s[0].error.is_none(), "{:?}", s[0].error);
    assert_eq!(
        s[0].obs,
        r#"{"env": false, "env class": false, "gymnasium.Env": true, "json module": true, "json.dumps": true, "new list": false}"#
    );
}

/// The build keeps the guest's GIL held between calls (`build/gil.rs`); what releases it inside
/// a call (`Py_BEGIN_ALLOW_THREADS` around a sleep, a clock read, a write) still releases and
/// re-takes it in pairs, step after step, episode after episode.
#[test]
fn blocking_calls_inside_steps_release_and_retake_the_gil() {
    let source = r#"
import os
import time


class SleepEnv:
    def __init__(self):
        time.sleep(0.001)
        self.step_count = 0

    @staticmethod
    def from_env_str(env_str):
        return SleepEnv()

    def step(self, action):
        self.step_count += 1
        time.sleep(0.001)
        os.write(1, b"")
        print("step", self.step_count)
        return True, f"{self.step_count} {len(os.urandom(4))} {time.monotonic() > 0}"
"#;
    let p = pool(
        vec![spec(source, "SleepEnv@{}"), spec(source, "SleepEnv@{}")],
        Limits::default(),
    );
    for _ in 0..2 {
        let r = p.reset(None).unwrap();
        assert!(r.iter().all(|o| o.error.is_none()), "{r:?}");
        for count in 1..=3 {
            let s = p.step(&[act("A", "{}"), act("A", "{}")], None).unwrap();
            for o in &s {
                assert!(o.error.is_none(), "{:?}", o.error);
                assert_eq!(o.obs, format!("{count} 4 True"));
            }
        }
    }
}

/// The smallest memory limit a pool accepts is enough for the guest to start, load an env and run
/// an episode, and one byte less is refused.
#[test]
fn the_minimum_memory_limit_runs_an_episode() {
    let limits = Limits {
        memory_bytes: MIN_MEMORY_BYTES,
        ..Limits::default()
    };
    let p = pool(
        vec![spec(MAX_ENV, "MaxEnv@{'nums': [4, 1]}")],
        limits.clone(),
    );
    let r = p.reset(None).unwrap();
    assert!(r[0].error.is_none(), "{:?}", r[0].error);
    let s = p.step(&[act("Done", r#"{"answer": 4}"#)], None).unwrap();
    assert_eq!((s[0].reward, s[0].done), (1.0, true), "{:?}", s[0].error);
    let below = Limits {
        memory_bytes: MIN_MEMORY_BYTES - 1,
        ..limits
    };
    assert!(below.validate().is_err());
}

/// Steps of batches large enough to warm each env's pages first (16 envs on one thread; the
/// class learns its pages in a sandbox of its own once it has had 8,192 such steps) give the
/// results that the same envs give in batches of 8, which never warm.
#[test]
fn warmed_steps_give_the_results_of_unwarmed_ones() {
    let specs: Vec<_> = (0..16)
        .map(|i| spec(MAX_ENV, &format!("MaxEnv@{{'nums': [{i}, 9, 2]}}")))
        .collect();
    let options = || codegym_core::PoolOptions {
        num_threads: Some(1),
        ..Default::default()
    };
    let warmed = EnvPool::new(specs.clone(), options()).unwrap();
    let halves = EnvPool::new(specs, options()).unwrap();
    assert_eq!(warmed.reset(None).unwrap(), halves.reset(None).unwrap());
    let by_halves = |call: &String| -> Vec<StepOutcome> {
        [0..8, 8..16]
            .into_iter()
            .flat_map(|ids| {
                let ids: Vec<usize> = ids.collect();
                halves.step(&vec![call.clone(); 8], Some(ids)).unwrap()
            })
            .collect()
    };
    let observe = act("Observe", "{}");
    for _ in 0..8192 / 16 + 1 {
        assert_eq!(
            warmed.step(&vec![observe.clone(); 16], None).unwrap(),
            by_halves(&observe)
        );
    }
    let done = act("Done", r#"{"answer": 9}"#);
    assert_eq!(
        warmed.step(&vec![done.clone(); 16], None).unwrap(),
        by_halves(&done)
    );
}
