//! Lets `libpython` define the guest's function table, so wasmtime fills it lazily.
//!
//! componentize-py links the guest as a set of core modules sharing one `funcref` table (dynamic
//! linking): a synthesised `main` module defines the table and the libraries import it, each
//! filling its part with an active element segment at `global.get $__table_base`. wasmtime
//! precomputes a table image, filled lazily on first use, only for a table the module defines
//! itself, at constant offsets; a segment into an imported table is applied eagerly at every
//! instantiation, one function reference at a time. `libpython`'s segment holds 4,955 of the
//! table's 5,670 entries, and building their references was the largest single cost of creating
//! a sandbox (`docs/architecture.md`, "Instantiation: libpython's function table").
//!
//! This pass rewrites the component (as text: printed with `wasmprinter`, edited line by line,
//! parsed back with `wat`) so that:
//! - `libpython` defines the table (same size) and exports it; its segment lands at the
//!   constant `libpython3.14.so:table_base` that `main` already fixes;
//! - `libpython` is instantiated before `libc` and the other libraries it imports functions
//!   from, which now import the table from `libpython`. `main` keeps a table of its own: its
//!   functions (aliases of library symbols) call through it, at the entries past the
//!   libraries' ranges that `__init` fills with the dynamic linker's functions; `__init` now
//!   fills those entries in both tables;
//! - those imports go through a small shim module instantiated first: each shim calls through
//!   a table of its own (`call_indirect`), which a fix-up module fills with the real functions
//!   once the libraries exist, before any guest code runs. This is how `wit-component` itself
//!   breaks the cycle between the WASI adapter and the libraries.
//!
//! Table indices, memory addresses and every function's body are unchanged; only the order of
//! instantiation, where the table lives and which module fills its `libpython` part change.

use std::borrow::Cow;
use std::collections::HashMap;

use regex::Regex;

/// The library whose module comes to define the table.
const LIBPYTHON: &str = "libpython3.14.so";
/// Name given to the table once `libpython` exports it, at component level.
const TABLE: &str = "$codegym_table";
/// The shim and fix-up modules this pass adds, and their instances.
const SHIM: &str = "$codegym_shim";
const FIXUP: &str = "$codegym_fixup";

fn re(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => unreachable!("pattern {pattern:?}: {e}"),
    }
}

/// A function's type as the text format writes it after `(func`: ` (param ...) (result ...)`.
fn signature(func_type: &str) -> &str {
    func_type
        .strip_prefix("(func")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or("")
}

pub fn relink(component: &[u8]) -> Result<Vec<u8>, String> {
    let text = wasmprinter::print_bytes(component).map_err(|e| format!("printing: {e}"))?;
    let relinked = rewrite(&text)?;
    wat::parse_str(&relinked).map_err(|e| format!("parsing the relinked component: {e}"))
}

fn rewrite(text: &str) -> Result<String, String> {
    let mut lines: Vec<Option<Cow<str>>> = text.lines().map(|l| Some(Cow::Borrowed(l))).collect();
    let line = |lines: &[Option<Cow<str>>], i: usize| -> String {
        lines[i].as_deref().unwrap_or("").to_owned()
    };
    let find = |lines: &[Option<Cow<str>>], from: usize, what: &dyn Fn(&str) -> bool| {
        (from..lines.len()).find(|&i| lines[i].as_deref().is_some_and(what))
    };

    // Core modules: where each starts and ends in the text.
    let module_re = re(r"^  \(core module (\$\S+)");
    let starts: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let c = module_re.captures(l.as_deref()?)?;
            Some((i, c[1].to_owned()))
        })
        .collect();
    let first_instance = find(&lines, 0, &|l| l.starts_with("  (core instance "))
        .ok_or("the component instantiates no core module")?;
    let module = |name: &str| -> Result<(usize, usize), String> {
        let k = starts
            .iter()
            .position(|(_, n)| n == name)
            .ok_or_else(|| format!("no core module {name}"))?;
        let end = starts.get(k + 1).map_or(first_instance, |(i, _)| *i);
        Ok((starts[k].0, end))
    };
    let libpython = format!("${LIBPYTHON}");

    // `main`: the table's size and libpython's (constant) table base.
    let (m0, m1) = module("$main")?;
    let global_re = re(r"^    \(global \(;(\d+);\) i32 i32\.const (-?\d+)\)");
    let table_re = re(r"^    \(table \(;0;\) (\d+) funcref\)");
    let mut globals = HashMap::new();
    let mut table_size = None;
    let mut base_global = None;
    let base_export = format!("    (export \"{LIBPYTHON}:table_base\" (global ");
    for l in lines[m0..m1].iter().flatten() {
        if let Some(c) = global_re.captures(l) {
            globals.insert(c[1].to_owned(), c[2].to_owned());
        } else if let Some(c) = table_re.captures(l) {
            table_size = Some(c[1].to_owned());
        } else if let Some(g) = l.strip_prefix(base_export.as_str()) {
            base_global = Some(g.trim_end_matches(')').to_owned());
        }
    }
    let table_size = table_size.ok_or("`main` defines no function table")?;
    let base = base_global
        .and_then(|g| globals.get(&g).cloned())
        .ok_or_else(|| format!("`main` fixes no {LIBPYTHON}:table_base"))?;

    // `libpython`: its function types, the functions it imports from `env`, its table import
    // and element segment.
    let (p0, p1) = module(&libpython)?;
    let type_re = re(r"^    \(type \(;(\d+);\) (\(func.*\))\)$");
    let import_re = re(r#"^    \(import "env" "([^"]+)" \(func .*?\(type (\d+)\)"#);
    let mut types = HashMap::new();
    let mut env_funcs = HashMap::new();
    let mut last_import = None;
    for (i, l) in lines.iter().enumerate().take(p1).skip(p0) {
        let l = l.as_deref().unwrap_or("");
        if let Some(c) = type_re.captures(l) {
            types.insert(c[1].to_owned(), c[2].to_owned());
        } else if l.starts_with("    (import ") {
            last_import = Some(i);
            if let Some(c) = import_re.captures(l) {
                let ty = types
                    .get(&c[2])
                    .ok_or_else(|| format!("{LIBPYTHON}: no type {}", &c[2]))?;
                env_funcs.insert(c[1].to_owned(), ty.clone());
            }
        }
    }
    let last_import = last_import.ok_or_else(|| format!("{LIBPYTHON} imports nothing"))?;
    // Its imports from libc reach libc only once the fix-up module has run: nothing of
    // libpython may run at its own instantiation.
    if lines[p0..p1]
        .iter()
        .flatten()
        .any(|l| l.starts_with("    (start "))
    {
        return Err(format!("{LIBPYTHON} has a start function"));
    }
    let table_import = find(&lines, p0, &|l| {
        l.starts_with("    (import \"env\" \"__indirect_function_table\"")
    })
    .filter(|&i| i < p1)
    .ok_or_else(|| format!("{LIBPYTHON} does not import the function table"))?;
    let segment = find(&lines, p0, &|l| {
        l.starts_with("    (elem (;0;) (global.get $__table_base) func")
    })
    .filter(|&i| i < p1)
    .ok_or_else(|| format!("{LIBPYTHON} has no element segment at its table base"))?;
    lines[table_import] = None;
    lines[last_import] = Some(Cow::Owned(format!(
        "{}\n    (table (;0;) {table_size} funcref)\n    (export \"__indirect_function_table\" (table 0))",
        line(&lines, last_import)
    )));
    lines[segment] = Some(Cow::Owned(line(&lines, segment).replacen(
        "(global.get $__table_base)",
        &format!("(i32.const {base})"),
        1,
    )));

    // `__init` fills the table's last entries (functions other modules reach through the
    // dynamic linker's GOT) and `main`'s own functions (aliases of library symbols) call
    // through `main`'s table at those entries: `__init` now fills them in both tables.
    let (i0, i1) = module("$__init")?;
    let init_import = find(&lines, i0, &|l| {
        l.starts_with("    (import \"env\" \"__indirect_function_table\" (table (;0;) ")
    })
    .filter(|&i| i < i1)
    .ok_or("`__init` does not import the function table")?;
    lines[init_import] = Some(Cow::Owned(format!(
        "{}\n    (import \"{LIBPYTHON}\" \"__indirect_function_table\" (table (;1;) 0 funcref))",
        line(&lines, init_import)
    )));
    let init_elem_re = re(r"^    \(elem \(;\d+;\) (\(i32\.const \d+\) func.*)\)$");
    for i in i0..i1 {
        let copy = lines[i]
            .as_deref()
            .and_then(|l| init_elem_re.captures(l))
            .map(|c| format!("    (elem (table 1) {})", &c[1]));
        if let Some(copy) = copy {
            lines[i] = Some(Cow::Owned(format!("{}\n{copy}", line(&lines, i))));
        }
    }

    // Where each aliased item of the component comes from.
    let alias_re =
        re(r#"^  \(alias core export (\$"[^"]+"|\$\S+) "[^"]*" \(core \w+ (\$"[^"]+"|\$[^\s)]+)"#);
    let mut source: HashMap<String, (String, usize)> = HashMap::new();
    for (i, l) in lines.iter().enumerate().skip(first_instance) {
        if let Some(c) = l.as_deref().and_then(|l| alias_re.captures(l)) {
            source.insert(c[2].to_owned(), (c[1].to_owned(), i));
        }
    }

    // libpython's instantiation and everything made only for it: from the end of the
    // instance before it to the end of its own.
    let instantiation = find(&lines, first_instance, &|l| {
        l.starts_with(&format!("  (core instance {libpython} "))
    })
    .ok_or_else(|| format!("{LIBPYTHON} is never instantiated"))?;
    let block_end = |lines: &[Option<Cow<str>>], from: usize| {
        find(lines, from, &|l| l == "  )").ok_or("unterminated core instance")
    };
    let seg1 = block_end(&lines, instantiation)? + 1;
    let previous = (first_instance..instantiation)
        .rev()
        .find(|&i| {
            lines[i]
                .as_deref()
                .is_some_and(|l| l.starts_with("  (core instance ") && l.contains("(instantiate "))
        })
        .ok_or_else(|| format!("nothing is instantiated before {LIBPYTHON}"))?;
    let seg0 = block_end(&lines, previous)? + 1;
    // The instances instantiated before libpython from a module that imports the table:
    // libpython must now come first, so its imports from them go through the shim.
    let instantiate_re = re(r"^  \(core instance (\$\S+) .*\(instantiate (\$\S+)");
    let mut importers = Vec::new();
    for (_, name) in &starts {
        let (s, e) = module(name)?;
        if lines[s..e]
            .iter()
            .flatten()
            .any(|l| l.starts_with("    (import \"env\" \"__indirect_function_table\""))
        {
            importers.push(name.clone());
        }
    }
    let mut earlier = Vec::new();
    for l in lines[first_instance..seg0].iter().flatten() {
        if let Some(c) = instantiate_re.captures(l) {
            if importers.iter().any(|m| m == &c[2]) {
                earlier.push(c[1].to_owned());
            }
        }
    }
    let env_name = {
        let with = lines[instantiation..seg1]
            .iter()
            .flatten()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("(with \"env\" (instance ")
                    .map(|s| s.trim_end_matches(')').to_owned())
            })
            .ok_or_else(|| format!("{LIBPYTHON} is instantiated without `env`"))?;
        format!("  (core instance {with} ")
    };
    let env_start = find(&lines, seg0, &|l| l.starts_with(&env_name))
        .filter(|&i| i < seg1)
        .ok_or("libpython's `env` is not built next to its instantiation")?;

    // Split that stretch: aliases of earlier libraries' exports stay where they are; the rest
    // moves before them, with libpython's imports from those libraries replaced by shims.
    let export_func_re = re(r#"^    \(export "([^"]+)" \(func (\$"[^"]+"|\$[^\s)]+)\)\)$"#);
    let alias_from_re = re(r#"^  \(alias core export (\$"[^"]+"|\$\S+) "#);
    let mut shims: Vec<(String, String)> = Vec::new(); // (import name, original function)
    let (mut moved, mut stay) = (Vec::new(), Vec::new());
    for (i, slot) in lines.iter_mut().enumerate().take(seg1).skip(seg0) {
        let Some(l) = slot.take() else { continue };
        if let Some(c) = alias_from_re.captures(&l) {
            if earlier.iter().any(|e| e == &c[1]) {
                stay.push(l.into_owned());
            } else {
                moved.push(l.into_owned());
            }
            continue;
        }
        if i > env_start && l.contains("(export \"__indirect_function_table\"") {
            continue;
        }
        if i > env_start {
            if let Some(c) = export_func_re.captures(&l) {
                let from = source.get(&c[2]).map(|(s, _)| s.as_str());
                if from.is_some_and(|s| earlier.iter().any(|e| e == s)) {
                    let k = shims.len();
                    shims.push((c[1].to_owned(), c[2].to_owned()));
                    moved.push(format!("    (export \"{}\" (func {SHIM}.{k}))", &c[1]));
                    continue;
                }
            }
        }
        moved.push(l.into_owned());
    }
    if shims.is_empty() {
        return Err(format!(
            "{LIBPYTHON} imports nothing from the libraries before it"
        ));
    }

    // The moved stretch goes before the first `env` that hands the table to a library.
    let hands_table = find(&lines, first_instance, &|l| {
        l == "    (export \"__indirect_function_table\" (table $__indirect_function_table))"
    })
    .ok_or("no library is given the function table")?;
    let insert_at = (first_instance..hands_table)
        .rev()
        .find(|&i| {
            lines[i]
                .as_deref()
                .is_some_and(|l| l.starts_with("  (core instance "))
        })
        .ok_or("the function table is handed out before any instance")?;
    // Everything the moved lines use must exist by then, or be aliased among them.
    let ref_re = re(r#"\((?:func|global|table|memory) (\$"[^"]+"|\$[^\s)]+)\)"#);
    let alias_name_re = re(r#"\(core \w+ (\$"[^"]+"|\$[^\s)]+)"#);
    let moved_names: std::collections::HashSet<String> = moved
        .iter()
        .filter(|l| l.starts_with("  (alias "))
        .filter_map(|l| alias_name_re.captures(l).map(|c| c[1].to_owned()))
        .collect();
    for l in &moved {
        for c in ref_re.captures_iter(l) {
            if let Some((from, at)) = source.get(&c[1]) {
                if *at >= insert_at && !moved_names.contains(&c[1]) {
                    return Err(format!(
                        "{LIBPYTHON}'s instantiation uses {} from {from}, aliased too late",
                        &c[1]
                    ));
                }
            }
        }
    }

    let mut shim = vec![
        format!("  (core module {SHIM}"),
        format!("    (table $t {} funcref)", shims.len()),
        "    (export \"table\" (table $t))".to_owned(),
    ];
    let mut fixup = vec![
        format!("  (core module {FIXUP}"),
        format!(
            "    (import \"\" \"table\" (table {} funcref))",
            shims.len()
        ),
    ];
    for (k, (name, _)) in shims.iter().enumerate() {
        let ty = env_funcs
            .get(name)
            .ok_or_else(|| format!("{LIBPYTHON} imports no function `{name}`"))?;
        let sig = signature(ty);
        let params = ty.find("(param ").map_or(0, |at| {
            ty[at + 7..]
                .split(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .count()
        });
        let args: String = (0..params).map(|j| format!("local.get {j} ")).collect();
        shim.push(format!(
            "    (func (export \"{k}\"){sig} {args}i32.const {k} call_indirect $t{sig})"
        ));
        fixup.push(format!("    (import \"\" \"{k}\" (func $f{k}{sig}))"));
    }
    shim.push("  )".to_owned());
    let elems: String = (0..shims.len()).map(|k| format!(" $f{k}")).collect();
    fixup.push(format!("    (elem (i32.const 0) func{elems})"));
    fixup.push("  )".to_owned());

    let mut early = vec![format!("  (core instance {SHIM} (instantiate {SHIM}))")];
    early.extend(
        (0..shims.len())
            .map(|k| format!("  (alias core export {SHIM} \"{k}\" (core func {SHIM}.{k}))")),
    );
    early.extend(moved);
    early.push(format!(
        "  (alias core export {libpython} \"__indirect_function_table\" (core table {TABLE}))"
    ));
    let mut late = stay;
    late.push(format!(
        "  (alias core export {SHIM} \"table\" (core table {SHIM}_table))"
    ));
    late.push(format!("  (core instance {FIXUP}_args"));
    late.push(format!("    (export \"table\" (table {SHIM}_table))"));
    late.extend(
        shims
            .iter()
            .enumerate()
            .map(|(k, (_, f))| format!("    (export \"{k}\" (func {f}))")),
    );
    late.push("  )".to_owned());
    late.push(format!(
        "  (core instance {FIXUP} (instantiate {FIXUP} (with \"\" (instance {FIXUP}_args))))"
    ));

    lines[seg0] = Some(Cow::Owned(late.join("\n")));
    lines[insert_at] = Some(Cow::Owned(format!(
        "{}\n{}",
        early.join("\n"),
        line(&lines, insert_at)
    )));
    lines[first_instance] = Some(Cow::Owned(format!(
        "{}\n{}\n{}",
        shim.join("\n"),
        fixup.join("\n"),
        line(&lines, first_instance)
    )));

    // From the shim's instantiation on, every library takes libpython's table.
    let mut out = String::with_capacity(text.len() + (1 << 20));
    let mut after = false;
    let shim_instance = format!("  (core instance {SHIM} (instantiate");
    for l in lines.iter().flatten() {
        after |= l.starts_with(&shim_instance);
        if after && l.contains("(table $__indirect_function_table)") {
            out.push_str(&l.replace(
                "(table $__indirect_function_table)",
                &format!("(table {TABLE})"),
            ));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    Ok(out)
}
