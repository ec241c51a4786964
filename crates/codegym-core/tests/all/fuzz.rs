//! Time-bounded mutational fuzzing of the tool-call parser, seeded from the checked-in corpus
//! in `tests/corpus/action/` (`ok_*` files must parse, `err_*` files must give an error
//! message). Each run mutates corpus entries (splices, insertions of parser tokens, deletions,
//! truncations, byte flips) for `CODEGYM_FUZZ_SECONDS` (default 1; `.ci/test` gives it 30) from
//! seed `CODEGYM_FUZZ_SEED`, and checks the parser's contract on every input: a call with a
//! non-empty name and object parameters, or an `Error: ` message — never a panic. A failing
//! input is printed; add it to the corpus when fixing the bug.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use codegym_core::{parse_call, CallFormat};

const FORMATS: [CallFormat; 4] = [
    CallFormat::Auto,
    CallFormat::CodeGym,
    CallFormat::Hermes,
    CallFormat::OpenAi,
];

const TOKENS: [&str; 14] = [
    "<|FunctionCallBegin|>",
    "<|FunctionCallEnd|>",
    "<tool_call>",
    "</tool_call>",
    "\"name\"",
    "\"parameters\"",
    "\"arguments\"",
    "\"tool_calls\"",
    "[{",
    "}]",
    "\\\"",
    "\\u0000",
    "\u{1F600}",
    ": {}",
];

fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/action");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20, "the corpus lost files");
    out
}

/// splitmix64: a tiny deterministic generator, enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[(String, String)], mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            1 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 => bytes.truncate(at),
            3 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            4 => {
                let other = seeds[rng.below(seeds.len())].1.as_bytes();
                let from = rng.below(other.len() + 1);
                bytes.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                let end = (at + rng.below(32)).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

fn check(text: &str) {
    for format in FORMATS {
        match parse_call(text, format) {
            Ok(call) => {
                assert!(!call.name.trim().is_empty(), "empty name from {text:?}");
                let action: serde_json::Value = serde_json::from_str(&call.to_action())
                    .unwrap_or_else(|e| panic!("action is not JSON ({e}) for {text:?}"));
                assert!(action["parameters"].is_object(), "{text:?}");
            }
            Err(e) => assert!(e.to_string().starts_with("Error: "), "{text:?}: {e}"),
        }
    }
}

#[test]
fn corpus_entries_parse_as_named() {
    for (name, text) in corpus() {
        let parsed = parse_call(&text, CallFormat::Auto);
        if name.starts_with("ok_") {
            assert!(parsed.is_ok(), "{name}: {parsed:?}");
        } else {
            assert!(
                name.starts_with("err_"),
                "corpus files are ok_* or err_*: {name}"
            );
            assert!(parsed.is_err(), "{name} parsed: {parsed:?}");
        }
        check(&text);
    }
}

#[test]
fn fuzz_mutations_of_the_corpus() {
    let seconds: u64 = std::env::var("CODEGYM_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let seed: u64 = std::env::var("CODEGYM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let seeds = corpus();
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            let base = seeds[rng.below(seeds.len())].1.as_bytes().to_vec();
            let bytes = mutate(&mut rng, &seeds, base);
            let text = String::from_utf8_lossy(&bytes);
            let outcome = std::panic::catch_unwind(|| check(&text));
            if outcome.is_err() {
                panic!("parser contract broken (seed {seed}, run {runs}) on input {text:?}");
            }
            runs += 1;
        }
    }
    eprintln!("fuzzed the tool-call parser with {runs} inputs in {seconds} s (seed {seed})");
    assert!(runs > 1000);
}
