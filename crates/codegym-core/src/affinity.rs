//! Which worker thread runs which env: each env has a *home* thread (`id % threads`), and a
//! thread runs the envs of its own home first and helps the others only once it has none left.
//!
//! Why: stepping a sandbox touches a few dozen of its own pages (its interpreter's stacks,
//! frames, allocator and the env's objects) and the page-table entries that map them, and
//! those stay in the core's private caches and TLB only while the core keeps meeting the same
//! sandboxes. Split by rayon's work stealing, each batch gave each thread a different half of
//! the envs, so over a few batches every core saw every sandbox; with more sandboxes per core
//! than its caches hold, a step went from ≈ 12 µs to ≈ 45 µs on this project's 2-core VM (see
//! docs/architecture.md, "Env-to-thread affinity"). With a home thread, a core's working set is
//! its own share of the envs.
//!
//! Load still balances: a thread that ran out of home work takes the next unclaimed env of
//! another home, so a slow env delays its batch no more than under work stealing.
//!
//! Every other batch walks each home's envs backwards. A thread that steps its envs in the same
//! order every batch meets each one again only after all the others, when a share larger than
//! its caches has pushed it out; reversing the order makes the envs it stepped last the first
//! of the next batch, while their pages are still cached.

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};

/// A claim counter on a cache line of its own, so threads claiming from different homes do
/// not bounce one line between their cores.
#[derive(Default)]
#[repr(align(128))]
struct Counter(AtomicUsize);

/// The home thread of env `id` in a pool of `threads` threads.
pub(crate) fn home(id: usize, threads: usize) -> usize {
    id % threads.max(1)
}

/// The homes thread `me` takes work from, in order: its own, then the others'.
fn homes_from(me: usize, threads: usize) -> impl Iterator<Item = usize> {
    (0..threads).map(move |offset| (me + offset) % threads)
}

/// Runs `work(j)` for every position `j` of a batch of env ids on every thread of `threads`,
/// each position preferably on its env's home thread, and returns the results in batch order.
/// Each home's positions start in batch order, or with `backwards` in reverse.
pub(crate) fn run_batch<T: Send>(
    threads: &rayon::ThreadPool,
    ids: &[usize],
    backwards: bool,
    work: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let k = threads.current_num_threads().max(1);
    let mut homes: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (j, &id) in ids.iter().enumerate() {
        homes[home(id, k)].push(j);
    }
    if backwards {
        for positions in &mut homes {
            positions.reverse();
        }
    }
    // How many positions of each home have been claimed: a position is run by whoever claims it.
    let claimed: Vec<Counter> = (0..k).map(|_| Counter::default()).collect();
    let per_thread: Vec<Vec<(usize, T)>> = threads.broadcast(|ctx| {
        let mut done = Vec::new();
        for home in homes_from(ctx.index(), k) {
            while let Some(&j) = homes[home].get(claimed[home].0.fetch_add(1, Ordering::Relaxed)) {
                done.push((j, work(j)));
            }
        }
        done
    });
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(ids.len()).collect();
    for (j, value) in per_thread.into_iter().flatten() {
        results[j] = Some(value);
    }
    // Every position was claimed exactly once (each home's counter hands out each index once,
    // and every thread walks every home until it is exhausted).
    debug_assert!(results.iter().all(Option::is_some));
    results.into_iter().flatten().collect()
}

/// Queued async work, one queue per home thread.
pub(crate) struct HomeQueues<J> {
    queues: Vec<(Sender<J>, Receiver<J>)>,
}

impl<J: Send> HomeQueues<J> {
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            queues: (0..threads.max(1))
                .map(|_| crossbeam_channel::unbounded())
                .collect(),
        }
    }

    /// Queues `job` for env `id`'s home thread.
    pub(crate) fn push(&self, id: usize, job: J) {
        let (tx, _) = &self.queues[home(id, self.queues.len())];
        // The queue owns its receiver, so a send cannot fail.
        let _ = tx.send(job);
    }

    /// Runs queued jobs on thread `me` until every queue is empty: its home's first, then the
    /// others'.
    pub(crate) fn drain(&self, me: usize, mut run: impl FnMut(J)) {
        for home in homes_from(me, self.queues.len()) {
            while let Ok(job) = self.queues[home].1.try_recv() {
                run(job);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Barrier, Mutex};
    use std::time::Duration;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Runs `work` for one claimed position after every thread of a 2-thread pool has claimed
    /// its first one, so a thread that starts late cannot leave its share to the other.
    fn both_started(barrier: &Barrier, seen: &Mutex<[bool; 2]>) {
        let me = rayon::current_thread_index().unwrap();
        let first = !std::mem::replace(&mut seen.lock().unwrap()[me], true);
        if first {
            barrier.wait();
        }
    }

    /// Every position runs once, results come back in batch order, and with equal work each
    /// env runs on its home thread (only the batch's tail may be taken by the other thread).
    #[test]
    fn a_batch_runs_each_env_once_in_order_on_its_home_thread() {
        let threads = pool(2);
        let ids: Vec<usize> = (0..64).rev().collect();
        let ran: Mutex<Vec<(usize, usize)>> = Mutex::default();
        let (barrier, seen) = (Barrier::new(2), Mutex::new([false; 2]));
        let out = run_batch(&threads, &ids, false, |j| {
            both_started(&barrier, &seen);
            ran.lock()
                .unwrap()
                .push((ids[j], rayon::current_thread_index().unwrap()));
            std::thread::sleep(Duration::from_millis(1));
            ids[j] * 10
        });
        assert_eq!(out, ids.iter().map(|id| id * 10).collect::<Vec<_>>());
        let mut ran = ran.into_inner().unwrap();
        ran.sort();
        let envs: Vec<usize> = ran.iter().map(|(id, _)| *id).collect();
        assert_eq!(envs, (0..64).collect::<Vec<_>>(), "each env exactly once");
        // Split by work stealing instead, about half would run away from home.
        let away = ran.iter().filter(|(id, t)| home(*id, 2) != *t).count();
        assert!(away <= 8, "{away} of 64 envs ran away from home: {ran:?}");
    }

    /// A thread with no home work takes the work of a busy home, so a batch whose envs all
    /// call one thread home still runs on both.
    #[test]
    fn an_idle_thread_takes_work_from_a_busy_home() {
        let threads = pool(2);
        let ids: Vec<usize> = (0..10).map(|i| 2 * i).collect(); // all at home on thread 0
        let ran_on_1 = AtomicUsize::new(0);
        let (barrier, seen) = (Barrier::new(2), Mutex::new([false; 2]));
        let out = run_batch(&threads, &ids, false, |j| {
            both_started(&barrier, &seen);
            if rayon::current_thread_index() == Some(1) {
                ran_on_1.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(5));
            j
        });
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert!(
            ran_on_1.load(Ordering::Relaxed) >= 2,
            "thread 1 helped with too few"
        );
    }

    /// A backwards batch starts each home at its last position and still returns the results
    /// in batch order.
    #[test]
    fn a_backwards_batch_walks_each_home_from_its_end() {
        let threads = pool(1);
        let ids: Vec<usize> = vec![5, 3, 8, 1];
        for (backwards, order) in [(false, [5, 3, 8, 1]), (true, [1, 8, 3, 5])] {
            let ran = Mutex::new(Vec::new());
            let out = run_batch(&threads, &ids, backwards, |j| {
                ran.lock().unwrap().push(ids[j]);
                ids[j] * 10
            });
            assert_eq!(out, vec![50, 30, 80, 10]);
            assert_eq!(ran.into_inner().unwrap(), order);
        }
    }

    #[test]
    fn queued_jobs_drain_home_first() {
        let queues = HomeQueues::new(3);
        for id in 0..9 {
            queues.push(id, id);
        }
        let mut seen = Vec::new();
        queues.drain(1, |id| seen.push(id));
        assert_eq!(seen, vec![1, 4, 7, 2, 5, 8, 0, 3, 6]);
        queues.drain(0, |_| panic!("nothing left"));
    }
}
