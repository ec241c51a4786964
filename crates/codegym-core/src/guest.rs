//! The embedded guest component and its typed bindings.

wasmtime::component::bindgen!({
    path: "../../envs_wasm/wit",
    world: "env-host",
});

/// The componentize-py component built from `envs_wasm/` by `build.rs`.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/env_host.wasm"));

/// Hash of [`COMPONENT`], computed at build time; part of the compiled-code cache key.
pub const COMPONENT_HASH: &str = env!("CODEGYM_GUEST_HASH");
