//! Recycling sandboxes: a new env of a class made from an idle sandbox of that class instead of
//! a fresh instance.
//!
//! Most of a fresh env's cost is not its class: it is wasmtime building the instance (the
//! guest's 5,670-entry function table is filled eagerly) and the kernel mapping the pages of the
//! guest's image that its first call reads. A sandbox that has finished with one env has all of
//! that done already. Every env of a class starts from the same state (the class loaded into a
//! fresh instance; loading uses a fixed seed, and the spec's seed enters at `reset`), so the
//! first sandbox of a class that is asked to be recycled keeps a *pristine* sandbox of the class
//! in that state, never called again. An idle sandbox is brought back to that state by copying
//! the pristine sandbox's bytes over every page the idle one has written (and every page the
//! pristine one wrote while loading), and by giving it a copy of the pristine sandbox's host
//! side (clock, generators, output). Its other state is what a fork by copy also relies on
//! being equal between sandboxes at a call boundary (see [`crate::memory`]); a sandbox whose
//! memory or tables grew, that holds host resources (after a `print`), or that failed, is never
//! recycled.
//!
//! Idle sandboxes belong to one pool ([`Idle`]) and are dropped with it: a pool takes back the
//! sandbox of an env whose `solve()` finished and of one whose sandbox is rebuilt, and gives it
//! to the next env of the same class it creates. Verifying many tasks of a class in one pool
//! pays for one instance per thread instead of one per task.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::memory::Profile;
use crate::sandbox::Sandbox;

/// Idle sandboxes one pool keeps, oldest dropped first.
const MAX_IDLE: usize = 64;

/// A class's pristine sandbox: the class loaded into a fresh instance, never called again.
pub(crate) struct Pristine {
    pub sandbox: Mutex<Sandbox>,
    /// The pages its load wrote.
    pub written: Profile,
}

/// Pristine sandboxes kept in the process, one per class; past this, making one drops the
/// oldest (its class makes it again if it is recycled again).
const MAX_PRISTINE: usize = if cfg!(test) { 4 } else { 256 };

/// What a class shares with every sandbox of it made by [`Sandbox::for_spec`]'s path.
#[derive(Default)]
pub(crate) struct Recycling {
    pristine: Mutex<Made>,
}

#[derive(Default)]
enum Made {
    #[default]
    Not,
    /// The class cannot be recycled: its load grew the memory, or its pages could not be read.
    Failed,
    Pristine(Arc<Pristine>),
}

/// Classes holding a pristine sandbox, oldest first.
static HOLDERS: Mutex<VecDeque<Weak<Recycling>>> = Mutex::new(VecDeque::new());

impl Recycling {
    /// The class's pristine sandbox, made by `make` if it has none (`None`: the class cannot be
    /// recycled). Two threads may both make one; the first kept wins.
    pub fn pristine(
        self: &Arc<Self>,
        make: impl FnOnce() -> Option<Pristine>,
    ) -> Option<Arc<Pristine>> {
        match &*self.pristine.lock().unwrap_or_else(PoisonError::into_inner) {
            Made::Pristine(pristine) => return Some(pristine.clone()),
            Made::Failed => return None,
            Made::Not => {}
        }
        let made = make().map(Arc::new);
        let (oldest, made) = {
            let mut state = self.pristine.lock().unwrap_or_else(PoisonError::into_inner);
            match (&*state, made) {
                (Made::Pristine(kept), _) => return Some(kept.clone()),
                (Made::Failed, _) => return None,
                (Made::Not, None) => {
                    *state = Made::Failed;
                    return None;
                }
                (Made::Not, Some(made)) => {
                    *state = Made::Pristine(made.clone());
                    drop(state);
                    let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
                    holders.retain(|h| h.strong_count() > 0);
                    holders.push_back(Arc::downgrade(self));
                    let oldest = (holders.len() > MAX_PRISTINE)
                        .then(|| holders.pop_front())
                        .flatten();
                    drop(holders);
                    (oldest.and_then(|w| w.upgrade()), made)
                }
            }
        };
        if let Some(oldest) = oldest {
            let dropped = std::mem::take(
                &mut *oldest
                    .pristine
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            drop(dropped); // unmapping it: not under the lock
        }
        Some(made)
    }
}

#[cfg(test)]
impl Recycling {
    pub fn has_pristine(&self) -> bool {
        matches!(
            *self.pristine.lock().unwrap_or_else(PoisonError::into_inner),
            Made::Pristine(_)
        )
    }

    pub fn pristines() -> usize {
        HOLDERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|h| h.upgrade().is_some_and(|r| r.has_pristine()))
            .count()
    }
}

/// One pool's idle sandboxes.
#[derive(Default)]
pub(crate) struct Idle {
    sandboxes: Mutex<VecDeque<Sandbox>>,
    recycled: AtomicUsize,
}

impl Idle {
    /// Keep `sandbox` for a later env of its class, if it can be recycled.
    pub fn offer(&self, sandbox: Sandbox) {
        if !sandbox.recyclable() {
            return;
        }
        let dropped = {
            let mut idle = self
                .sandboxes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            idle.push_back(sandbox);
            (idle.len() > MAX_IDLE).then(|| idle.pop_front())
        };
        drop(dropped); // unmapping a sandbox takes a while: not under the lock
    }

    /// An idle sandbox of the class `recycling` belongs to.
    pub fn take(&self, recycling: &Arc<Recycling>) -> Option<Sandbox> {
        let mut idle = self
            .sandboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let at = idle.iter().rposition(|s| s.is_of(recycling))?;
        idle.remove(at)
    }

    /// Count one env made from a sandbox [`Idle::take`] gave.
    pub fn count_recycled(&self) {
        self.recycled.fetch_add(1, Ordering::Relaxed);
    }

    /// Envs made from recycled sandboxes so far.
    pub fn recycled(&self) -> usize {
        self.recycled.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sandboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
