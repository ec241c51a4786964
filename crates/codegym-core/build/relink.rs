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
use std::collections::{HashMap, HashSet};
use std::ops::Range;

use regex::Regex;

/// The library whose module comes to define the table.
const LIBPYTHON: &str = "libpython3.14.so";
/// Name given to the table once `libpython` exports it, at component level.
const TABLE: &str = "$codegym_table";
/// The shim and fix-up modules this pass adds, and their instances.
const SHIM: &str = "$codegym_shim";
const FIXUP: &str = "$codegym_fixup";
/// How a library's module imports the shared table.
const TABLE_IMPORT: &str = "    (import \"env\" \"__indirect_function_table\"";

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

/// The printed component, one entry per line; a step replaces an entry (possibly by several
/// lines) or takes it out, so the indices found by earlier steps stay valid.
struct Text<'a> {
    lines: Vec<Option<Cow<'a, str>>>,
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().map(|l| Some(Cow::Borrowed(l))).collect(),
        }
    }

    fn get(&self, i: usize) -> &str {
        self.lines[i].as_deref().unwrap_or("")
    }

    /// The first line in `from..to` that satisfies `what`.
    fn find(&self, from: usize, to: usize, what: impl Fn(&str) -> bool) -> Option<usize> {
        (from..to.min(self.lines.len())).find(|&i| self.lines[i].as_deref().is_some_and(&what))
    }

    /// The last line in `from..to` that satisfies `what`.
    fn rfind(&self, from: usize, to: usize, what: impl Fn(&str) -> bool) -> Option<usize> {
        (from..to)
            .rev()
            .find(|&i| self.lines[i].as_deref().is_some_and(&what))
    }

    fn set(&mut self, i: usize, line: String) {
        self.lines[i] = Some(Cow::Owned(line));
    }

    /// Lines in `range`, skipping those taken out.
    fn iter(&self, range: Range<usize>) -> impl Iterator<Item = &str> {
        self.lines[range].iter().flatten().map(|l| &**l)
    }

    /// The end (exclusive) of the component-level block that starts at `start`.
    fn block_end(&self, start: usize) -> Result<usize, String> {
        self.find(start, usize::MAX, |l| l == "  )")
            .map(|i| i + 1)
            .ok_or_else(|| "an unterminated core instance".to_owned())
    }
}

/// Where each core module's text lies, and where the component's instances begin.
struct Modules {
    starts: Vec<(usize, String)>,
    first_instance: usize,
}

impl Modules {
    fn new(text: &Text) -> Result<Self, String> {
        let module_re = re(r"^  \(core module (\$\S+)");
        let starts = text
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let c = module_re.captures(l.as_deref()?)?;
                Some((i, c[1].to_owned()))
            })
            .collect();
        let first_instance = text
            .find(0, usize::MAX, |l| l.starts_with("  (core instance "))
            .ok_or("the component instantiates no core module")?;
        Ok(Self {
            starts,
            first_instance,
        })
    }

    fn range(&self, name: &str) -> Result<Range<usize>, String> {
        let k = self
            .starts
            .iter()
            .position(|(_, n)| n == name)
            .ok_or_else(|| format!("no core module {name}"))?;
        let end = self
            .starts
            .get(k + 1)
            .map_or(self.first_instance, |(i, _)| *i);
        Ok(self.starts[k].0..end)
    }
}

fn rewrite(printed: &str) -> Result<String, String> {
    let mut text = Text::new(printed);
    let modules = Modules::new(&text)?;
    let (table_size, base) = main_table(&text, &modules)?;
    let env_funcs = define_the_table_in_libpython(&mut text, &modules, &table_size, &base)?;
    fill_main_entries_in_both_tables(&mut text, &modules)?;
    instantiate_libpython_first(&mut text, &modules, &env_funcs)?;
    Ok(render(&text, printed.len()))
}

/// `main`'s table size and libpython's (constant) table base.
fn main_table(text: &Text, modules: &Modules) -> Result<(String, String), String> {
    let global_re = re(r"^    \(global \(;(\d+);\) i32 i32\.const (-?\d+)\)");
    let table_re = re(r"^    \(table \(;0;\) (\d+) funcref\)");
    let base_export = format!("    (export \"{LIBPYTHON}:table_base\" (global ");
    let mut globals = HashMap::new();
    let (mut table_size, mut base_global) = (None, None);
    for l in text.iter(modules.range("$main")?) {
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
    Ok((table_size, base))
}

/// libpython defines and exports the table, and its segment lands at a constant offset.
/// Returns the type of each function it imports from `env`, by import name.
fn define_the_table_in_libpython(
    text: &mut Text,
    modules: &Modules,
    table_size: &str,
    base: &str,
) -> Result<HashMap<String, String>, String> {
    let range = modules.range(&format!("${LIBPYTHON}"))?;
    let type_re = re(r"^    \(type \(;(\d+);\) (\(func.*\))\)$");
    let import_re = re(r#"^    \(import "env" "([^"]+)" \(func .*?\(type (\d+)\)"#);
    let mut types = HashMap::new();
    let mut env_funcs = HashMap::new();
    let mut last_import = None;
    for i in range.clone() {
        let l = text.get(i);
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
    if text
        .iter(range.clone())
        .any(|l| l.starts_with("    (start "))
    {
        return Err(format!("{LIBPYTHON} has a start function"));
    }
    let table_import = text
        .find(range.start, range.end, |l| l.starts_with(TABLE_IMPORT))
        .ok_or_else(|| format!("{LIBPYTHON} does not import the function table"))?;
    let segment = text
        .find(range.start, range.end, |l| {
            l.starts_with("    (elem (;0;) (global.get $__table_base) func")
        })
        .ok_or_else(|| format!("{LIBPYTHON} has no element segment at its table base"))?;
    text.lines[table_import] = None;
    let with_table = format!(
        "{}\n    (table (;0;) {table_size} funcref)\n    (export \"__indirect_function_table\" (table 0))",
        text.get(last_import)
    );
    text.set(last_import, with_table);
    let constant = text.get(segment).replacen(
        "(global.get $__table_base)",
        &format!("(i32.const {base})"),
        1,
    );
    text.set(segment, constant);
    Ok(env_funcs)
}

/// `__init` fills the table's last entries (functions other modules reach through the dynamic
/// linker's GOT), and `main`'s own functions (aliases of library symbols) call through
/// `main`'s table at those entries: `__init` now fills them in both tables.
fn fill_main_entries_in_both_tables(text: &mut Text, modules: &Modules) -> Result<(), String> {
    let range = modules.range("$__init")?;
    let import = text
        .find(range.start, range.end, |l| {
            l.starts_with(&format!("{TABLE_IMPORT} (table (;0;) "))
        })
        .ok_or("`__init` does not import the function table")?;
    let both = format!(
        "{}\n    (import \"{LIBPYTHON}\" \"__indirect_function_table\" (table (;1;) 0 funcref))",
        text.get(import)
    );
    text.set(import, both);
    let elem_re = re(r"^    \(elem \(;\d+;\) (\(i32\.const \d+\) func.*)\)$");
    for i in range {
        let copy = elem_re
            .captures(text.get(i))
            .map(|c| format!("    (elem (table 1) {})", &c[1]));
        if let Some(copy) = copy {
            let with_copy = format!("{}\n{copy}", text.get(i));
            text.set(i, with_copy);
        }
    }
    Ok(())
}

/// Moves libpython's instantiation (and what is built only for it) before the first library
/// that is handed the table, and routes its imports from the libraries instantiated before it
/// through the shim.
fn instantiate_libpython_first(
    text: &mut Text,
    modules: &Modules,
    env_funcs: &HashMap<String, String>,
) -> Result<(), String> {
    let first = modules.first_instance;
    // Where each aliased item of the component comes from, and where it is aliased.
    let alias_re =
        re(r#"^  \(alias core export (\$"[^"]+"|\$\S+) "[^"]*" \(core \w+ (\$"[^"]+"|\$[^\s)]+)"#);
    let mut source: HashMap<String, (String, usize)> = HashMap::new();
    for i in first..text.lines.len() {
        if let Some(c) = alias_re.captures(text.get(i)) {
            source.insert(c[2].to_owned(), (c[1].to_owned(), i));
        }
    }

    // libpython's instantiation and everything made only for it: from the end of the
    // instance before it to the end of its own.
    let libpython = format!("${LIBPYTHON}");
    let instance_line = format!("  (core instance {libpython} ");
    let instantiation = text
        .find(first, usize::MAX, |l| l.starts_with(&instance_line))
        .ok_or_else(|| format!("{LIBPYTHON} is never instantiated"))?;
    let end = text.block_end(instantiation)?;
    let previous = text
        .rfind(first, instantiation, |l| {
            l.starts_with("  (core instance ") && l.contains("(instantiate ")
        })
        .ok_or_else(|| format!("nothing is instantiated before {LIBPYTHON}"))?;
    let start = text.block_end(previous)?;

    // The instances made before libpython from a module that imports the table: libpython now
    // comes first, so its imports from them go through the shim.
    let mut importers = Vec::new();
    for (_, name) in &modules.starts {
        if text
            .iter(modules.range(name)?)
            .any(|l| l.starts_with(TABLE_IMPORT))
        {
            importers.push(name.clone());
        }
    }
    let instantiate_re = re(r"^  \(core instance (\$\S+) .*\(instantiate (\$\S+)");
    let earlier: Vec<String> = text
        .iter(first..start)
        .filter_map(|l| instantiate_re.captures(l))
        .filter(|c| importers.iter().any(|m| m == &c[2]))
        .map(|c| c[1].to_owned())
        .collect();
    let env_line = text
        .iter(instantiation..end)
        .find_map(|l| {
            l.trim()
                .strip_prefix("(with \"env\" (instance ")
                .map(|s| format!("  (core instance {} ", s.trim_end_matches(')')))
        })
        .ok_or_else(|| format!("{LIBPYTHON} is instantiated without `env`"))?;
    let env_start = text
        .find(start, end, |l| l.starts_with(&env_line))
        .ok_or("libpython's `env` is not built next to its instantiation")?;

    // Split that stretch: aliases of earlier libraries' exports stay where they are; the rest
    // moves, with libpython's imports from those libraries replaced by shims.
    let export_func_re = re(r#"^    \(export "([^"]+)" \(func (\$"[^"]+"|\$[^\s)]+)\)\)$"#);
    let alias_from_re = re(r#"^  \(alias core export (\$"[^"]+"|\$\S+) "#);
    let mut shims: Vec<(String, String)> = Vec::new(); // (import name, original function)
    let (mut moved, mut stay) = (Vec::new(), Vec::new());
    for i in start..end {
        let Some(l) = text.lines[i].take() else {
            continue;
        };
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
    let hands_table = text
        .find(first, usize::MAX, |l| {
            l == "    (export \"__indirect_function_table\" (table $__indirect_function_table))"
        })
        .ok_or("no library is given the function table")?;
    let insert_at = text
        .rfind(first, hands_table, |l| l.starts_with("  (core instance "))
        .ok_or("the function table is handed out before any instance")?;
    // Everything the moved lines use must exist by then, or be aliased among them.
    let ref_re = re(r#"\((?:func|global|table|memory) (\$"[^"]+"|\$[^\s)]+)\)"#);
    let alias_name_re = re(r#"\(core \w+ (\$"[^"]+"|\$[^\s)]+)"#);
    let moved_names: HashSet<String> = moved
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

    let (shim, fixup) = shim_modules(&shims, env_funcs)?;
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

    text.set(start, late.join("\n"));
    let with_early = format!("{}\n{}", early.join("\n"), text.get(insert_at));
    text.set(insert_at, with_early);
    let with_modules = format!("{shim}\n{fixup}\n{}", text.get(first));
    text.set(first, with_modules);
    Ok(())
}

/// The shim module (one function per import, calling through its own table) and the fix-up
/// module that fills that table with the original functions.
fn shim_modules(
    shims: &[(String, String)],
    env_funcs: &HashMap<String, String>,
) -> Result<(String, String), String> {
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
    Ok((shim.join("\n"), fixup.join("\n")))
}

/// The edited text; from the shim's instantiation on, every library takes libpython's table.
fn render(text: &Text, size: usize) -> String {
    let mut out = String::with_capacity(size + (1 << 20));
    let mut after = false;
    let shim_instance = format!("  (core instance {SHIM} (instantiate");
    for l in text.lines.iter().flatten() {
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
    out
}
