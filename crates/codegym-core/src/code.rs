//! Compiled env sources, shared by every sandbox of the process.
//!
//! Compiling a class source inside the guest costs milliseconds and dirties megabytes of the
//! instance's memory (parser and compiler arenas). Each distinct source is therefore compiled
//! once, in a throwaway instance, and every env sandbox executes the marshalled code instead.
//! Env sandboxes never compile, so every env of a spec starts from the same state whether or
//! not its code was already cached: fuel use and heap layout (hence `id()`-ordered iteration)
//! do not depend on which env happened to load first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::engine::Engine;
use crate::error::{EnvError, EnvErrorKind};
use crate::limits::Limits;
use crate::memory::Profile;
use crate::recycle::Recycling;
use crate::sandbox::Sandbox;

/// Distinct (source, class, limits) entries kept before the cache is emptied and refilled.
const MAX_ENTRIES: usize = 4096;

type Compiled = Result<Arc<[u8]>, EnvError>;

/// What a sandbox loads: the marshalled module code, and the class's pre-fault profiles.
#[derive(Clone)]
pub struct Code {
    pub bytes: Arc<[u8]>,
    pub profiles: Arc<Profiles>,
    pub(crate) recycling: Arc<Recycling>,
}

/// The pages envs of a class write (see [`crate::memory`]): while loading and resetting, and
/// while loading, resetting and running `solve()` (verification). Each is recorded by the
/// first env of the class to get there in a sandbox made for it.
#[derive(Default)]
pub struct Profiles {
    pub reset: OnceLock<Profile>,
    pub solve: OnceLock<Profile>,
}

#[derive(Default)]
struct Entry {
    compiled: OnceLock<Compiled>,
    profiles: Arc<Profiles>,
    recycling: Arc<Recycling>,
}

/// Limits are part of the key: whether a compile runs out of fuel or memory depends on them.
#[derive(Clone, Hash, PartialEq, Eq)]
struct Key {
    source: Arc<str>,
    class_name: String,
    limits: Limits,
}

#[derive(Default)]
pub struct CodeCache {
    entries: Mutex<HashMap<Key, Arc<Entry>>>,
}

impl CodeCache {
    /// The marshalled module code of `source`, compiling it on first use. Concurrent first
    /// uses of one source wait for a single compile.
    pub fn get(
        &self,
        engine: &Engine,
        limits: &Arc<Limits>,
        source: &Arc<str>,
        class_name: &str,
    ) -> Result<Code, EnvError> {
        let key = Key {
            source: source.clone(),
            class_name: class_name.to_owned(),
            limits: (**limits).clone(),
        };
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.entry(key.clone()).or_default().clone()
        };
        let compiled = cell
            .compiled
            .get_or_init(|| {
                Sandbox::compile(engine, limits.clone(), source, class_name).map(Arc::from)
            })
            .clone();
        if let Err(e) = &compiled {
            // Every outcome is deterministic except the wall-clock backstop, which depends on
            // the machine's load: forget it, so that the next env compiles again.
            if e.kind == EnvErrorKind::WallTime {
                let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                if entries.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                    entries.remove(&key);
                }
            }
        }
        compiled.map(|bytes| Code {
            bytes,
            profiles: cell.profiles.clone(),
            recycling: cell.recycling.clone(),
        })
    }
}
