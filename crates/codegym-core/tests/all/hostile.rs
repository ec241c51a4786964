//! Hostile guests end as per-env errors (or harmless observations); neighbours are untouched.

use codegym_core::{EnvErrorKind, Limits};

use crate::common::{act, pool, spec, MAX_ENV};

const HOSTILE: &str = r#"
import json, os, sys, time


class BadEnv:
    step_count = 0
    finished = False
    reward = 0.0

    @staticmethod
    def from_env_str(env_str):
        return BadEnv()

    def step(self, action):
        self.step_count += 1
        kind = json.loads(action)["name"]
        try:
            if kind == "loop":
                while True:
                    pass
            if kind == "alloc":
                chunks = []
                while True:
                    chunks.append(bytearray(4 << 20))
            if kind == "exit":
                os._exit(9)
            if kind == "sleep":
                time.sleep(3600)
                return True, "slept"
            if kind == "file":
                return True, open("/etc/hostname").read()
            if kind == "env":
                return True, json.dumps(dict(os.environ))
        except Exception as e:
            return True, "Error: " + type(e).__name__
        return True, "?"
"#;

fn limits() -> Limits {
    Limits {
        fuel_per_step: 200_000_000,
        memory_bytes: 96 << 20,
        ..Limits::default()
    }
}

/// Step the hostile env 1 with `kind` between two good envs; return its outcome.
fn attack(kind: &str) -> (String, Option<EnvErrorKind>) {
    let good = "MaxEnv@{'nums': [5, 6]}";
    let p = pool(
        vec![
            spec(MAX_ENV, good),
            spec(HOSTILE, "BadEnv@{}"),
            spec(MAX_ENV, good),
        ],
        limits(),
    );
    for r in p.reset(None).unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let out = p
        .step(
            &[act("Observe", "{}"), act(kind, "{}"), act("Observe", "{}")],
            None,
        )
        .unwrap();
    assert_eq!(out[0].obs, "[5, 6]");
    assert_eq!(out[2].obs, "[5, 6]");
    // The attacked env is rebuilt by a reset and works again.
    assert!(p.reset(Some(vec![1])).unwrap()[0].error.is_none());
    (out[1].obs.clone(), out[1].error.as_ref().map(|e| e.kind))
}

#[test]
fn infinite_loop_exhausts_fuel() {
    assert_eq!(attack("loop").1, Some(EnvErrorKind::Fuel));
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    assert_eq!(attack("alloc").1, Some(EnvErrorKind::Memory));
}

#[test]
fn os_exit_is_a_guest_exit() {
    assert_eq!(attack("exit").1, Some(EnvErrorKind::Exit));
}

#[test]
fn sleeping_returns_at_once_in_virtual_time() {
    let start = std::time::Instant::now();
    assert_eq!(attack("sleep"), ("slept".to_string(), None));
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn host_files_and_environment_are_invisible() {
    assert_eq!(
        attack("file"),
        ("Error: FileNotFoundError".to_string(), None)
    );
    std::env::set_var("CODEGYM_CORE_SECRET", "x");
    assert_eq!(attack("env"), ("{}".to_string(), None));
}
