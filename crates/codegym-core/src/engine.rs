//! One wasmtime engine per stack-size setting: compiled guest (cached on disk), linker with the
//! sealed WASI world, pre-instantiated component, and the epoch ticker behind wall-clock limits.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, ResourceLimiter};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::code::CodeCache;
use crate::error::EngineError;
use crate::guest::{EnvHostIndices, COMPONENT, COMPONENT_HASH};
use crate::wasi::{link_virtual_clock, VirtualClock, VirtualClockView};

/// Period of the epoch ticker; wall-clock limits are rounded up to it.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Memory images up to this size are always laid out densely so that instances map them
/// copy-on-write: the guest's pre-initialised CPython heap is one large, sparse image.
const DENSE_IMAGE_BYTES: u64 = 1 << 30;

/// Everything one store holds.
pub struct GuestState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub clock: VirtualClock,
    pub limiter: MemoryLimiter,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory; remembers that it refused so the trap can be reported as a memory limit,
/// and whether a memory or table grew once the instance was made (`armed`): such a sandbox no
/// longer has the shape of a fresh one, so it is never recycled.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub hit: bool,
    pub armed: bool,
    pub grew: bool,
}

impl MemoryLimiter {
    /// A limiter for `limits`, not yet `armed`.
    pub fn new(limits: &crate::limits::Limits) -> Self {
        Self {
            max_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            hit: false,
            armed: false,
            grew: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            // An error (rather than `Ok(false)`) traps the guest: CPython does not reliably
            // survive a failed allocation, and a clear reason beats a corrupted interpreter.
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_bytes);
        }
        self.grew |= self.armed;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= 1 << 20;
        self.grew |= self.armed && allowed;
        Ok(allowed)
    }
}

/// Guest exports the host calls with arguments that reach into the guest's memory.
#[derive(Clone, Copy)]
pub(crate) struct Exports {
    pub load: ComponentExportIndex,
    pub sync: ComponentExportIndex,
}

/// A compiled, linked guest ready to be instantiated many times.
pub struct Engine {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) pre: InstancePre<GuestState>,
    /// The typed exports of an instance of `pre`.
    pub(crate) indices: EnvHostIndices,
    /// Exports called with [`crate::memory::WithMemory`] arguments rather than through
    /// `indices`.
    pub(crate) exports: Exports,
    /// Env sources compiled by this engine's guest.
    pub(crate) code: CodeCache,
    /// Size of a fresh instance's linear memory (0 until a sandbox has loaded): a snapshot of
    /// a sandbox whose memory grew past it cannot be copied into a fresh one.
    pub(crate) initial_memory: std::sync::atomic::AtomicUsize,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Engine {
    /// The process-wide engine for this wasm stack size, created on first use.
    pub fn shared(stack_bytes: usize) -> Result<Arc<Engine>, EngineError> {
        static ENGINES: OnceLock<Mutex<HashMap<usize, Arc<Engine>>>> = OnceLock::new();
        let engines = ENGINES.get_or_init(Default::default);
        // Holding the lock while compiling makes concurrent first uses wait instead of compiling twice.
        let mut map = engines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = map.get(&stack_bytes) {
            return Ok(engine.clone());
        }
        let engine = Arc::new(Engine::new(stack_bytes)?);
        map.insert(stack_bytes, engine.clone());
        Ok(engine)
    }

    fn new(stack_bytes: usize) -> Result<Self, EngineError> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(stack_bytes)
            // Only async calls use this stack (we call synchronously), but wasmtime requires
            // it to be larger than the wasm stack limit.
            .async_stack_size(stack_bytes + (1 << 20))
            .memory_init_cow(true)
            .memory_guaranteed_dense_image_size(DENSE_IMAGE_BYTES)
            .parallel_compilation(true);
        let engine = wasmtime::Engine::new(&config)?;
        let component = load_component(&engine)?;

        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        link_virtual_clock(&mut linker, |state: &mut GuestState| VirtualClockView {
            clock: &state.clock,
            table: &mut state.table,
        })?;
        let pre = linker.instantiate_pre(&component)?;
        let indices = EnvHostIndices::new(&pre)?;
        let export = |name: &str| {
            component
                .get_export_index(None, name)
                .ok_or_else(|| wasmtime::format_err!("the guest exports no `{name}`"))
        };
        let exports = Exports {
            load: export("load")?,
            sync: export("sync")?,
        };

        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), stop_ticker.clone())?;
        Ok(Self {
            engine,
            pre,
            indices,
            exports,
            code: CodeCache::default(),
            initial_memory: Default::default(),
            stop_ticker,
        })
    }
}

fn spawn_epoch_ticker(engine: wasmtime::Engine, stop: Arc<AtomicBool>) -> Result<(), EngineError> {
    std::thread::Builder::new()
        .name("codegym-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
        .map_err(|source| EngineError::Cache {
            path: "<epoch ticker thread>".into(),
            source,
        })
}

/// Where compiled guests are cached: `$CODEGYM_CACHE_DIR`, else the user cache dir.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEGYM_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("codegym")
}

/// The compiled component: from the on-disk cache when its key matches, else compiled and stored.
///
/// The key joins the component's hash (build time) with the engine's compatibility hash
/// (wasmtime version, target, and every codegen-relevant setting), so a stale or foreign entry
/// is never picked up; an entry that still fails to deserialize is recompiled and replaced.
fn load_component(engine: &wasmtime::Engine) -> Result<Component, EngineError> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    // Settings that change the compiled artifact but that the compatibility hash leaves out.
    DENSE_IMAGE_BYTES.hash(&mut hasher);
    let dir = cache_dir();
    let path = dir.join(format!(
        "env_host-{COMPONENT_HASH}-{:016x}.cwasm",
        hasher.finish()
    ));
    if path.is_file() {
        if let Ok(component) = deserialize(engine, &path) {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(COMPONENT)?;
    let cache_err = |source| EngineError::Cache {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(cache_err)?;
    // Write to a private temporary name, then rename: readers only ever see whole files.
    let tmp = dir.join(format!(
        ".env_host-{}-{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, &compiled).map_err(cache_err)?;
    std::fs::rename(&tmp, &path).map_err(cache_err)?;
    deserialize(engine, &path)
}

#[allow(unsafe_code)]
fn deserialize(engine: &wasmtime::Engine, path: &Path) -> Result<Component, EngineError> {
    // SAFETY: the file is one this module wrote with `precompile_component` under a name that
    // includes the engine's compatibility hash, renamed into place only once complete; wasmtime
    // additionally checks its header against this engine. The cache directory belongs to the
    // user running the engine, who is trusted like the binary itself.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}
