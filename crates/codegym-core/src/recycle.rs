//! Recycling sandboxes: a new env of a class made from an idle sandbox of that class instead of
//! a fresh instance.
//!
//! Most of a fresh env's cost is not its class: it is wasmtime building the instance (the
//! guest's 5,670-entry function table is filled eagerly) and the kernel mapping the pages of the
//! guest's image that its first call reads. A sandbox that has finished with one env has all of
//! that done already. Every env of a class starts from the same state (the class loaded into a
//! fresh instance, then one `sync` call; loading uses a fixed seed, and the spec's seed enters
//! at `reset`), so a class keeps a *pristine* sandbox: the class loaded, never called again,
//! made by the class's second new sandbox or its first recycled one. An idle sandbox is brought
//! back to the start state by a `sync` call whose argument's lowering first copies the pristine
//! sandbox's bytes over every page the idle one has written (and every page the pristine one
//! wrote while loading), after it gets a copy of the pristine sandbox's host side (clock,
//! generators, output). A new sandbox of the class is made the same way from a fresh instance
//! (see `Sandbox::create`): it skips executing the class, which was most of a creation's guest
//! work. Its other state is what a fork by copy also relies on
//! being equal between sandboxes at a call boundary (see [`crate::memory`]); a sandbox whose
//! memory or tables grew, that holds host resources (after a `print`), or that failed, is never
//! recycled.
//!
//! Idle sandboxes are the process's ([`Idle::process`]), bounded by the bytes of the pages they
//! have written: a pool takes back the sandbox of an env whose `solve()` finished, of one whose
//! sandbox is rebuilt, and of every env when it closes, and the next env of the same class that
//! any pool creates takes it. Verifying many tasks of a class pays for one instance per thread
//! instead of one per task, and a training loop that makes a pool per step stops paying for
//! instances after its first. A fork's clones take idle sandboxes of their class too: each is
//! brought back to the start state, then the forked env's snapshot is written over it (see
//! `Sandbox::copy_of`).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use crate::memory::{MemorySeen, Profile, Template};
use crate::sandbox::Sandbox;

/// A class's pristine sandbox: the class loaded into a fresh instance, never called again.
pub(crate) struct Pristine {
    pub sandbox: Mutex<Sandbox>,
    /// Where its memory is (it stays there: the sandbox makes no more calls).
    pub memory: MemorySeen,
    /// The pages its load wrote.
    pub written: Profile,
}

impl Pristine {
    /// The hook that makes a sandbox's memory this one's, given the pages that sandbox has
    /// written (none, for a fresh instance).
    pub fn template<'a>(&'a self, to_written: &'a [Range<usize>]) -> Template<'a> {
        Template {
            from: &self.memory,
            from_written: &self.written,
            to_written,
        }
    }
}

/// Pristine sandboxes kept in the process, one per class; past this, making one drops the
/// oldest (its class makes it again when it next needs one).
const MAX_PRISTINE: usize = if cfg!(test) { 4 } else { 256 };

/// What a class shares with every sandbox of it made by [`Sandbox::for_spec`]'s path.
#[derive(Default)]
pub(crate) struct Recycling {
    pristine: Mutex<Made>,
    /// Sandboxes that loaded the class (the second makes its pristine sandbox).
    loads: AtomicUsize,
    /// The pages a step of the class touches, once learned.
    step_pages: OnceLock<Box<[u32]>>,
    /// Steps of the class that would have warmed its pages since it last tried to learn them.
    warm_steps: AtomicUsize,
    /// A thread is learning the class's pages (the others step without warming meanwhile).
    learning: AtomicBool,
}

/// Steps of a class that would warm its pages before the class learns them: learning costs
/// ≈ 4 ms (a sandbox made, reset and stepped twice; LIS), and warming saves 0.5–0.9 µs per
/// step, so a class that is stepped only a few thousand times would lose by it. After this
/// many, learning costs at most ≈ 5 % of the class's steps so far (≈ 10 µs each), and nothing
/// for a class stepped far longer, as in a long rollout or a benchmark.
const LEARN_AFTER_STEPS: usize = 8192;

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
            drop(oldest.take_pristine()); // unmapping it: not under the lock
        }
        Some(made)
    }

    /// The pages of linear memory a step of an env of this class touches, for warming them
    /// before steps (see [`crate::sandbox::Sandbox::warm`]); `learn` finds them the first time.
    /// Until the class has had [`LEARN_AFTER_STEPS`] such steps, `None` (and `learn` is not
    /// called); then one caller learns them while the others go on without. If learning fails
    /// (the step it makes fails, or the kernel cannot tell), the class tries again after as
    /// many steps more.
    pub fn step_pages(&self, learn: impl FnOnce() -> Option<Vec<u32>>) -> Option<&[u32]> {
        if let Some(pages) = self.step_pages.get() {
            return Some(pages);
        }
        if self.warm_steps.fetch_add(1, Ordering::Relaxed) + 1 < LEARN_AFTER_STEPS
            || self.learning.swap(true, Ordering::Acquire)
        {
            return None;
        }
        match learn() {
            Some(pages) => {
                let _ = self.step_pages.set(pages.into_boxed_slice());
            }
            None => self.warm_steps.store(0, Ordering::Relaxed),
        }
        self.learning.store(false, Ordering::Release);
        self.step_pages.get().map(|pages| &pages[..])
    }

    /// Count a sandbox that loads the class.
    pub fn count_load(&self) {
        self.loads.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a sandbox has loaded the class before: only then is a pristine one worth making
    /// for new sandboxes to copy (a class verified once needs none).
    pub fn loaded_before(&self) -> bool {
        self.loads.load(Ordering::Relaxed) > 0
    }

    /// The class's pristine sandbox, taken out of it (the class makes a new one when it next
    /// needs one), for the caller to drop outside the lock.
    fn take_pristine(&self) -> Option<Arc<Pristine>> {
        let mut state = self.pristine.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::take(&mut *state) {
            Made::Pristine(pristine) => Some(pristine),
            other => {
                *state = other;
                None
            }
        }
    }
}

/// Drop every class's pristine sandbox (a class makes a new one when it next needs one);
/// returns how many there were.
pub(crate) fn release_pristines() -> usize {
    let holders: Vec<Weak<Recycling>> = HOLDERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    let dropped: Vec<Arc<Pristine>> = holders
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|class| class.take_pristine())
        .collect();
    dropped.len() // dropping them (unmapping) happens here, under no lock
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

/// An idle sandbox and the pages it has written: what bringing it back copies, and what keeping
/// it costs.
pub(crate) struct IdleSandbox {
    pub sandbox: Sandbox,
    pub written: Profile,
}

impl IdleSandbox {
    /// Bytes of the pages it has written.
    fn bytes(&self) -> usize {
        self.written.iter().map(Range::len).sum()
    }
}

#[derive(Default)]
struct Kept {
    sandboxes: VecDeque<IdleSandbox>,
    /// Bytes of the pages they have written.
    bytes: usize,
}

/// Bytes of written pages the process's idle sandboxes may hold: `$CODEGYM_IDLE_MB`, else
/// 1 GiB.
fn process_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("CODEGYM_IDLE_MB")
            .ok()
            .and_then(|mb| mb.trim().parse::<usize>().ok())
            .map_or(DEFAULT_IDLE_BYTES, |mb| mb << 20)
    })
}

const DEFAULT_IDLE_BYTES: usize = 1 << 30;

/// The process's idle sandboxes, shared by every pool.
static PROCESS: OnceLock<Arc<Mutex<Kept>>> = OnceLock::new();

/// A pool's access to idle sandboxes, counting the envs it made from them.
pub(crate) struct Idle {
    kept: Arc<Mutex<Kept>>,
    budget: usize,
    recycled: AtomicUsize,
}

/// A private set of idle sandboxes (tests use one to see exactly what is kept).
impl Default for Idle {
    fn default() -> Self {
        Self {
            kept: Arc::default(),
            budget: DEFAULT_IDLE_BYTES,
            recycled: AtomicUsize::new(0),
        }
    }
}

impl Idle {
    /// The process's idle sandboxes: what one pool gives back, any later pool can take.
    pub fn process() -> Self {
        Self {
            kept: PROCESS.get_or_init(Arc::default).clone(),
            budget: process_budget(),
            recycled: AtomicUsize::new(0),
        }
    }

    /// Keep `sandbox` for a later env of its class, if it can be recycled; the oldest idle
    /// sandboxes are dropped while the written pages kept are over the budget.
    pub fn offer(&self, sandbox: Sandbox) {
        if !sandbox.recyclable() {
            return;
        }
        let Ok(written) = sandbox.written_all() else {
            return;
        };
        let idle = IdleSandbox { sandbox, written };
        let bytes = idle.bytes();
        if bytes > self.budget {
            return;
        }
        let mut dropped = Vec::new();
        {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.sandboxes.push_back(idle);
            kept.bytes += bytes;
            while kept.bytes > self.budget {
                let Some(oldest) = kept.sandboxes.pop_front() else {
                    break;
                };
                kept.bytes -= oldest.bytes();
                dropped.push(oldest);
            }
        }
        drop(dropped); // unmapping a sandbox takes a while: not under the lock
    }

    /// An idle sandbox of the class `recycling` belongs to (the newest).
    pub fn take(&self, recycling: &Arc<Recycling>) -> Option<IdleSandbox> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let at = kept
            .sandboxes
            .iter()
            .rposition(|s| s.sandbox.is_of(recycling))?;
        let taken = kept.sandboxes.remove(at)?;
        kept.bytes -= taken.bytes();
        Some(taken)
    }

    /// Drop every idle sandbox; returns how many there were.
    pub fn release(&self) -> usize {
        let taken = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        taken.sandboxes.len()
    }

    /// Count one env made from a sandbox [`Idle::take`] gave.
    pub fn count_recycled(&self) {
        self.recycled.fetch_add(1, Ordering::Relaxed);
    }

    /// Envs made from recycled sandboxes so far.
    pub fn recycled(&self) -> usize {
        self.recycled.load(Ordering::Relaxed)
    }

    /// A private set of idle sandboxes holding at most `budget` bytes of written pages.
    #[cfg(test)]
    pub fn with_budget(budget: usize) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    /// Bytes of the written pages of the idle sandboxes kept.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sandboxes
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A class learns its step pages only after `LEARN_AFTER_STEPS` steps that would warm them,
    /// once; a failed attempt is retried after as many steps more.
    #[test]
    fn a_class_learns_its_step_pages_after_enough_steps_and_retries_a_failure() {
        let class = Recycling::default();
        let learned = std::cell::Cell::new(0);
        let attempt = |result: Option<Vec<u32>>| {
            class.step_pages(|| {
                learned.set(learned.get() + 1);
                result
            })
        };
        for _ in 1..LEARN_AFTER_STEPS {
            assert_eq!(attempt(Some(vec![1])), None);
        }
        assert_eq!(learned.get(), 0, "learned before the threshold");
        assert_eq!(attempt(None), None, "a failed attempt warms nothing");
        assert_eq!(learned.get(), 1);
        for _ in 1..LEARN_AFTER_STEPS {
            assert_eq!(attempt(Some(vec![1])), None);
        }
        assert_eq!(learned.get(), 1, "retried before the threshold");
        assert_eq!(attempt(Some(vec![3, 7])), Some(&[3, 7][..]));
        assert_eq!(attempt(Some(vec![9])), Some(&[3, 7][..]));
        assert_eq!(learned.get(), 2, "learned twice");
    }
}
