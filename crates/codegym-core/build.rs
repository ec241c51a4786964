//! Builds the Python guest component (`envs_wasm/`) with componentize-py and places it in
//! `OUT_DIR/env_host.wasm`, where `src/guest.rs` embeds it. The component is never committed:
//! it is rebuilt whenever a file under `envs_wasm/` changes.
//!
//! componentize-py is found as `$CODEGYM_COMPONENTIZE_PY`, else `componentize-py` on `PATH`
//! (pip puts it there from `[build-system] requires` during `pip install`), else through
//! `python3 -m componentize_py`.
//!
//! The component is then post-processed in place: the objects of its pre-initialised
//! interpreter are made immortal, so sandboxes never write to their headers
//! (`build/immortal.rs`), its interpreter keeps the GIL held between export calls
//! (`build/gil.rs`), and `libpython` comes to define the function table, so wasmtime fills it
//! lazily instead of at every instantiation (`build/relink.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/gil.rs"]
mod gil;
#[path = "build/immortal.rs"]
mod immortal;
#[path = "build/relink.rs"]
mod relink;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let guest_root = manifest.join("../../envs_wasm");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("env_host.wasm");
    println!("cargo:rerun-if-env-changed=CODEGYM_COMPONENTIZE_PY");
    println!("cargo:rerun-if-changed=build/immortal.rs");
    println!("cargo:rerun-if-changed=build/gil.rs");
    println!("cargo:rerun-if-changed=build/relink.rs");
    rerun_if_changed(&guest_root);

    let attempts: Vec<(String, Vec<String>)> = match std::env::var("CODEGYM_COMPONENTIZE_PY") {
        Ok(cmd) => vec![(cmd, vec![])],
        Err(_) => vec![
            ("componentize-py".into(), vec![]),
            (
                "python3".into(),
                vec!["-m".into(), "componentize_py".into()],
            ),
        ],
    };
    let args = [
        "-d",
        "wit",
        "-w",
        "env-host",
        "componentize",
        "app",
        "-p",
        "guest",
        "-o",
    ];
    let mut errors = Vec::new();
    for (program, prefix) in attempts {
        let status = Command::new(&program)
            .args(&prefix)
            .args(args)
            .arg(&out)
            .current_dir(&guest_root)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .status();
        match status {
            Ok(s) if s.success() => {
                post_process(&out);
                emit_hash(&out);
                return;
            }
            Ok(s) => errors.push(format!("`{program}` exited with {s}")),
            Err(e) => errors.push(format!("`{program}`: {e}")),
        }
    }
    // A build script reports failure by exiting non-zero with a message cargo shows.
    eprintln!(
        "error: could not build the guest component with componentize-py ({}).\n\
         Install it with `pip install componentize-py==0.25.1` or set CODEGYM_COMPONENTIZE_PY.",
        errors.join("; ")
    );
    std::process::exit(1);
}

fn post_process(component: &Path) {
    let result = std::fs::read(component)
        .map_err(|e| format!("reading {}: {e}", component.display()))
        .and_then(|mut bytes| {
            immortal::immortalize(&mut bytes)
                .map_err(|e| format!("making the snapshot's objects immortal: {e}"))?;
            gil::keep_gil_held(&mut bytes)
                .map_err(|e| format!("keeping the GIL held between calls: {e}"))?;
            let bytes = relink::relink(&bytes)
                .map_err(|e| format!("letting libpython define the function table: {e}"))?;
            std::fs::write(component, &bytes)
                .map_err(|e| format!("writing {}: {e}", component.display()))
        });
    if let Err(e) = result {
        eprintln!("error: post-processing the guest component: {e}");
        std::process::exit(1);
    }
}

/// Key for the on-disk cache of the compiled guest, computed here so start-up does not hash
/// tens of megabytes. `DefaultHasher::new()` is SipHash with fixed keys: stable across runs.
fn emit_hash(component: &Path) {
    use std::hash::{Hash, Hasher};
    let Ok(bytes) = std::fs::read(component) else {
        eprintln!(
            "error: componentize-py reported success but wrote no {}",
            component.display()
        );
        std::process::exit(1);
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    println!(
        "cargo:rustc-env=CODEGYM_GUEST_HASH={:016x}",
        hasher.finish()
    );
}

/// Files only: a directory's mtime changes whenever a tool drops a cache file into it.
fn rerun_if_changed(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') || name == "__pycache__" {
                continue;
            }
            if path.is_dir() {
                rerun_if_changed(&path);
            } else {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
