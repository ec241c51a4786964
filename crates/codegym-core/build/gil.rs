//! Keeps the guest interpreter's GIL held between export calls, in the component file.
//!
//! componentize-py's runtime enters Python through pyo3 several times per export call (the
//! argument's conversion, the call, the result's conversion), and pyo3 takes the GIL with
//! `PyGILState_Ensure` and gives it back with `PyGILState_Release` each time. The guest has one
//! thread and can start no other, so giving the GIL back serves nothing; but it costs: each
//! time, `PyEval_SaveThread` detaches the thread state and drops the GIL, and the next
//! `PyGILState_Ensure` takes both again (≈ 8 % of an empty step's time in one sandbox).
//!
//! This pass removes the one call to `PyEval_SaveThread` in `PyGILState_Release` (replacing
//! `call $PyEval_SaveThread` by `i32.const 0` and `nop`s, before the `drop` of its result; the
//! function's size does not change). The first `PyGILState_Ensure` after the snapshot (whose
//! interpreter was left detached by `Py_Initialize`'s caller) attaches the thread, and from
//! then on every `PyGILState_Ensure` finds the GIL held and only counts. Everything else that
//! releases the GIL (`Py_BEGIN_ALLOW_THREADS` around a blocking call) still releases and
//! re-takes it in pairs, and `PyGILState_Release` still deletes a thread state whose count
//! reaches zero (the main thread's never does: `Py_Initialize` counts it once).

use wasmparser::{KnownCustom, Name, Operator, Parser, Payload, TypeRef};

/// The function whose call to `CALLEE` this pass removes.
pub const CALLER: &str = "PyGILState_Release";
/// The call removed.
pub const CALLEE: &str = "PyEval_SaveThread";

/// One call site: the byte range of a `call CALLEE` in `CALLER`'s body, and whether the next
/// instruction drops its result.
struct CallSite {
    at: std::ops::Range<usize>,
    dropped: bool,
}

/// The sites where `caller` calls `callee`, in the one core module that defines `caller`.
fn call_sites(component: &[u8], caller: &str, callee: &str) -> Result<Vec<CallSite>, String> {
    // Per core module: the function imports, the bodies of defined functions and the names.
    struct Module<'a> {
        imported: u32,
        bodies: Vec<wasmparser::FunctionBody<'a>>,
        caller: Option<u32>,
        callee: Option<u32>,
    }
    let mut found: Vec<Module> = Vec::new();
    let mut stack: Vec<Option<Module>> = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| format!("parsing the component: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                stack.push((encoding == wasmparser::Encoding::Module).then(|| Module {
                    imported: 0,
                    bodies: Vec::new(),
                    caller: None,
                    callee: None,
                }));
            }
            Payload::End(_) => {
                if let Some(Some(module)) = stack.pop() {
                    if module.caller.is_some() {
                        found.push(module);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                if let Some(Some(module)) = stack.last_mut() {
                    for import in reader.into_imports() {
                        let import = import.map_err(|e| format!("reading an import: {e}"))?;
                        if matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                            module.imported += 1;
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                if let Some(Some(module)) = stack.last_mut() {
                    module.bodies.push(body);
                }
            }
            Payload::CustomSection(section) => {
                let (Some(Some(module)), KnownCustom::Name(names)) =
                    (stack.last_mut(), section.as_known())
                else {
                    continue;
                };
                for name in names {
                    let Ok(Name::Function(map)) = name else {
                        continue;
                    };
                    for naming in map {
                        let naming = naming.map_err(|e| format!("reading a name: {e}"))?;
                        if naming.name == caller {
                            module.caller = Some(naming.index);
                        } else if naming.name == callee {
                            module.callee = Some(naming.index);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Only the module that defines `caller` counts (the others import it).
    let mut defining = found
        .into_iter()
        .filter(|m| m.caller.is_some_and(|i| i >= m.imported));
    let module = match (defining.next(), defining.next()) {
        (Some(module), None) => module,
        (None, _) => return Err(format!("no core module defines `{caller}`")),
        (Some(_), Some(_)) => return Err(format!("several core modules define `{caller}`")),
    };
    let (Some(caller_index), Some(callee_index)) = (module.caller, module.callee) else {
        return Err(format!(
            "the module defining `{caller}` names no `{callee}`"
        ));
    };
    let body = module
        .bodies
        .get((caller_index - module.imported) as usize)
        .ok_or_else(|| format!("`{caller}` has no body"))?;
    let mut ops = body
        .get_operators_reader()
        .map_err(|e| format!("reading `{caller}`: {e}"))?;
    let mut sites = Vec::new();
    let mut open: Option<usize> = None;
    while !ops.eof() {
        let (op, offset) = ops
            .read_with_offset()
            .map_err(|e| format!("reading `{caller}`: {e}"))?;
        if let Some(start) = open.take() {
            sites.push(CallSite {
                at: start..offset,
                dropped: matches!(op, Operator::Drop),
            });
        }
        if matches!(op, Operator::Call { function_index } if function_index == callee_index) {
            open = Some(offset);
        }
    }
    Ok(sites)
}

/// How many times `caller` calls `callee` (for tests: 0 once [`keep_gil_held`] ran).
#[allow(dead_code)] // used by the crate's tests, not by the build script
pub fn calls(component: &[u8], caller: &str, callee: &str) -> Result<usize, String> {
    call_sites(component, caller, callee).map(|sites| sites.len())
}

/// Replaces `PyGILState_Release`'s one `call $PyEval_SaveThread; drop` by
/// `i32.const 0; nop…; drop`. Fails, naming what it found instead, on any other shape.
#[allow(dead_code)] // used by the build script, not by the crate's tests
pub fn keep_gil_held(component: &mut [u8]) -> Result<(), String> {
    let sites = call_sites(component, CALLER, CALLEE)?;
    let [site] = sites.as_slice() else {
        return Err(format!(
            "`{CALLER}` calls `{CALLEE}` {} times, expected once",
            sites.len()
        ));
    };
    let len = site.at.len();
    if !site.dropped || len < 2 || component.get(site.at.start) != Some(&0x10) {
        return Err(format!(
            "`{CALLER}`'s call to `{CALLEE}` is not a `call` whose result is dropped"
        ));
    }
    let code = &mut component[site.at.clone()];
    code[0] = 0x41; // i32.const
    code[1] = 0x00; // 0
    code[2..].fill(0x01); // nop
    Ok(())
}
