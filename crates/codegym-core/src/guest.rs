//! The embedded guest component and its typed bindings.

wasmtime::component::bindgen!({
    path: "../../envs_wasm/wit",
    world: "env-host",
});

/// The componentize-py component built from `envs_wasm/` by `build.rs`.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/env_host.wasm"));

/// Hash of [`COMPONENT`], computed at build time; part of the compiled-code cache key.
pub const COMPONENT_HASH: &str = env!("CODEGYM_GUEST_HASH");

/// The guest's `step` reply read back (its format is in the WIT): the observation, reward,
/// `finished` and step count, or the guest's error text.
pub(crate) fn step_reply(mut text: String) -> Result<(String, f64, bool, u64), String> {
    if text.starts_with('E') {
        text.remove(0);
        return Err(text);
    }
    let malformed = |what: &str| {
        let head: String = text.chars().take(80).collect();
        format!("the guest's step reply has {what}: {head:?}")
    };
    let Some(newline) = text.find('\n').filter(|_| text.starts_with('O')) else {
        return Err(malformed("no `O` header line"));
    };
    let mut fields = text[1..newline].split(' ');
    let (Some(reward), Some(done), Some(count), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("a header without three fields"));
    };
    let reward: f64 = reward
        .parse()
        .map_err(|_| malformed("an unreadable reward"))?;
    let done = match done {
        "1" => true,
        "0" => false,
        _ => return Err(malformed("an unreadable `finished`")),
    };
    let count: u64 = count
        .parse()
        .map_err(|_| malformed("a step_count that is not an integer in 0..2**64"))?;
    let obs = text.split_off(newline + 1);
    Ok((obs, reward, done, count))
}

#[cfg(test)]
#[path = "../build/gil.rs"]
mod gil;

#[cfg(test)]
mod tests {
    use super::{gil, step_reply, COMPONENT};

    /// The build removed `PyGILState_Release`'s call that drops the GIL (`build/gil.rs`); the
    /// same scan still finds `PyGILState_Ensure`'s call that takes it, so a count of zero is
    /// the patch and not a scan that finds nothing.
    #[test]
    fn the_embedded_guest_keeps_the_gil_between_calls() {
        assert_eq!(gil::calls(COMPONENT, gil::CALLER, gil::CALLEE), Ok(0));
        assert_eq!(
            gil::calls(COMPONENT, "PyGILState_Ensure", "PyEval_RestoreThread"),
            Ok(1)
        );
        let mut patched = COMPONENT.to_vec();
        assert!(gil::keep_gil_held(&mut patched).is_err(), "patched twice");
    }

    /// Function-table entries the guest's element segments set, split by whether wasmtime
    /// applies the segment at every instantiation (a segment into an imported table, or at an
    /// offset that is not a constant) or precomputes it into a lazily filled table image.
    fn table_entries(component: &[u8]) -> (u32, u32) {
        use wasmparser::{ElementKind, Operator, Parser, Payload, TypeRef};
        let (mut eager, mut lazy) = (0, 0);
        // Per nesting level: the number of tables a core module imports (None: a component).
        let mut stack: Vec<Option<u32>> = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.unwrap() {
                Payload::Version { encoding, .. } => {
                    stack.push((encoding == wasmparser::Encoding::Module).then_some(0));
                }
                Payload::End(_) => {
                    stack.pop();
                }
                Payload::ImportSection(reader) => {
                    if let Some(Some(tables)) = stack.last_mut() {
                        for import in reader.into_imports() {
                            *tables += u32::from(matches!(import.unwrap().ty, TypeRef::Table(_)));
                        }
                    }
                }
                Payload::ElementSection(reader) => {
                    let Some(&Some(imported)) = stack.last() else {
                        continue;
                    };
                    for element in reader {
                        let element = element.unwrap();
                        let ElementKind::Active {
                            table_index,
                            offset_expr,
                        } = element.kind
                        else {
                            continue;
                        };
                        let mut ops = offset_expr.get_operators_reader();
                        let constant = matches!(ops.read().unwrap(), Operator::I32Const { .. })
                            && matches!(ops.read().unwrap(), Operator::End);
                        let n = match &element.items {
                            wasmparser::ElementItems::Functions(f) => f.count(),
                            wasmparser::ElementItems::Expressions(_, e) => e.count(),
                        };
                        if table_index.unwrap_or(0) < imported || !constant {
                            eager += n;
                        } else {
                            lazy += n;
                        }
                    }
                }
                _ => {}
            }
        }
        (eager, lazy)
    }

    /// The build lets libpython define the function table (`build/relink.rs`): its 4,955
    /// entries are filled lazily, and what every instantiation still sets is the other
    /// libraries' entries, the dynamic linker's and the shims'.
    #[test]
    fn the_embedded_guest_fills_most_of_its_function_table_lazily() {
        let (eager, lazy) = table_entries(COMPONENT);
        assert!(lazy >= 4_900, "{lazy} entries filled lazily");
        assert!(eager < 2_000, "{eager} entries set at every instantiation");
    }

    #[test]
    fn step_replies_read_back_exactly() {
        let ok = |text: &str| step_reply(text.to_owned()).unwrap();
        assert_eq!(ok("O1.5 1 3\nok"), ("ok".into(), 1.5, true, 3));
        assert_eq!(ok("O0.0 0 0\n"), (String::new(), 0.0, false, 0));
        // The observation is everything after the first newline, newlines and `E`s included.
        assert_eq!(ok("O-2.5 0 7\nE\nx\n"), ("E\nx\n".into(), -2.5, false, 7));
        assert_eq!(ok("O1e+16 0 18446744073709551615\n.").1, 1e16);
        assert_eq!(ok("O1e+16 0 18446744073709551615\n.").3, u64::MAX);
        assert_eq!(ok("Oinf 0 1\n.").1, f64::INFINITY);
        assert_eq!(ok("O-inf 0 1\n.").1, f64::NEG_INFINITY);
        assert!(ok("Onan 0 1\n.").1.is_nan());
        // Python's repr of a float is its shortest exact form; Rust reads it back to the same bits.
        assert_eq!(ok("O0.1 0 1\n.").1.to_bits(), 0.1f64.to_bits());
        assert_eq!(ok("O5e-324 0 1\n.").1.to_bits(), 1);
        assert_eq!(
            step_reply("Etraceback\nline".into()),
            Err("traceback\nline".into())
        );
        for bad in [
            "",
            "O1.0 1 2",
            "X1.0 1 2\n",
            "O1.0 2 3\n",
            "Oabc 0 1\n",
            "O1.0 0 -1\n",
            "O1.0 0 18446744073709551616\n",
            "O1.0 0\n",
            "O1.0 0 1 2\n",
        ] {
            assert!(step_reply(bad.into()).is_err(), "{bad:?}");
        }
    }
}
