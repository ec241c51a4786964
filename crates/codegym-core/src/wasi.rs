//! The WASI world a sandbox sees: nothing granted, time virtual, randomness seeded, output capped.
//!
//! * No preopened directories, no environment variables, no arguments, no sockets, no name
//!   lookups: `open("/etc/passwd")`, `os.environ`, `socket.socket()` all find nothing.
//! * Clocks are virtual and deterministic. The monotonic clock advances 1 µs per read, and
//!   sleeping advances it by the requested time and returns at once, so `time.sleep(3600)`
//!   neither blocks a pool thread nor makes runs differ. The wall clock is a fixed epoch plus the
//!   virtual time.
//! * `random-get` (what `os.urandom` and fresh `random.Random()` seeds use) is a seeded RNG.
//! * stdout/stderr go to [`CappedPipe`]s that keep the first bytes and drop the rest instead of
//!   trapping when full.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng, TryRng};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};
use wasmtime_wasi_io::poll::{subscribe, DynPollable, Pollable};
use wasmtime_wasi_io::streams::{OutputStream, StreamError};

/// 2024-01-01T00:00:00Z: what `time.time()` reads at the start of every episode.
const WALL_CLOCK_EPOCH_SECS: u64 = 1_704_067_200;
/// How far the monotonic clock moves on each read, so that busy-wait loops see time pass.
const TICK_NANOS: u64 = 1_000;

/// Virtual nanoseconds since the sandbox started; shared by both clocks and the sleep shim.
#[derive(Clone, Default)]
pub struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    fn advance(&self, nanos: u64) -> u64 {
        // Saturating so that `sleep(huge)` cannot wrap the clock around.
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(nanos);
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }

    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl VirtualClock {
    /// Set this clock to `other`'s time (a forked sandbox continues its original's clock).
    pub fn copy_from(&self, other: &VirtualClock) {
        self.0.store(other.now(), Ordering::Relaxed);
    }
}

/// A seeded generator behind `random-get` (owned by the WASI context), which records its
/// draws in a [`DrawLog`] so that a fork can reproduce its state: rand's `StdRng` cannot be
/// cloned, so a copy re-seeds and repeats the draws. The guest draws a few thousand bytes on
/// its first call alone (one `u32` per byte, through wasmtime-wasi), so a draw of the same
/// kind as the last one costs one atomic increment, not a lock.
pub struct SeededRng {
    rng: StdRng,
    log: DrawLog,
    last: Option<Draw>,
    draws: u64,
}

/// Past this many runs of equal draws, or this many draws, a log stops recording and its
/// generator can no longer be reproduced (the sandbox is then forked by replay): a log stays
/// under 24 KB and a copy under a few milliseconds.
const MAX_DRAW_RUNS: usize = 1 << 10;
const MAX_DRAWS: u64 = 1 << 20;

#[derive(Clone, Copy, PartialEq)]
enum Draw {
    U32,
    U64,
    Bytes(usize),
}

/// The draws a [`SeededRng`] made since it was seeded, as runs of equal draws; shared with the
/// host side of the sandbox.
#[derive(Clone)]
pub struct DrawLog(Arc<LogInner>);

struct LogInner {
    seed: u64,
    /// Closed runs, then the open run with a stale count; `None` once full.
    runs: Mutex<Option<Vec<(Draw, u64)>>>,
    /// The open (last) run's count.
    open: AtomicU64,
}

impl DrawLog {
    fn new(seed: u64, runs: Vec<(Draw, u64)>) -> Self {
        let open = runs.last().map_or(0, |&(_, count)| count);
        Self(Arc::new(LogInner {
            seed,
            runs: Mutex::new(Some(runs)),
            open: AtomicU64::new(open),
        }))
    }

    /// The seed and runs so far; `None` once the log is full.
    fn read(&self) -> Option<(u64, Vec<(Draw, u64)>)> {
        let runs = self.0.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut runs = runs.as_ref()?.clone();
        if let Some(last) = runs.last_mut() {
            last.1 = self.0.open.load(Ordering::Relaxed);
        }
        Some((self.0.seed, runs))
    }

    /// A generator in the state this log describes, recording into this log from there on.
    fn generator(&self) -> Option<SeededRng> {
        let (seed, runs) = self.read()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut scratch = Vec::new();
        let mut draws = 0;
        for &(draw, count) in &runs {
            draws += count;
            for _ in 0..count {
                match draw {
                    Draw::U32 => drop(rng.next_u32()),
                    Draw::U64 => drop(rng.next_u64()),
                    Draw::Bytes(n) => {
                        scratch.resize(n, 0);
                        rng.fill_bytes(&mut scratch);
                    }
                }
            }
        }
        Some(SeededRng {
            rng,
            log: self.clone(),
            last: runs.last().map(|&(draw, _)| draw),
            draws,
        })
    }

    /// An independent log with the same contents; `None` once full.
    fn copy(&self) -> Option<DrawLog> {
        let (seed, runs) = self.read()?;
        Some(DrawLog::new(seed, runs))
    }
}

impl SeededRng {
    fn record(&mut self, draw: Draw) {
        self.draws += 1;
        if self.last == Some(draw) && self.draws <= MAX_DRAWS {
            self.log.0.open.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut runs = self
            .log
            .0
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(list) = runs.as_mut() else {
            return;
        };
        if list.len() >= MAX_DRAW_RUNS || self.draws > MAX_DRAWS {
            *runs = None;
            self.last = None;
            return;
        }
        if let Some(last) = list.last_mut() {
            last.1 = self.log.0.open.load(Ordering::Relaxed);
        }
        list.push((draw, 1));
        self.log.0.open.store(1, Ordering::Relaxed);
        self.last = Some(draw);
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.record(Draw::U32);
        Ok(self.rng.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.record(Draw::U64);
        Ok(self.rng.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.record(Draw::Bytes(dst.len()));
        self.rng.fill_bytes(dst);
        Ok(())
    }
}

/// The host side of one sandbox's WASI world: what it reads (clock, randomness) and what it
/// wrote (captured output). A fork copies all of it along with the guest's memory.
pub struct HostSide {
    pub clock: VirtualClock,
    pub stdout: CappedPipe,
    pub stderr: CappedPipe,
    secure: DrawLog,
    insecure: DrawLog,
    seed: u64,
}

impl HostSide {
    pub fn new(max_output_bytes: usize, seed: u64) -> Self {
        Self {
            clock: VirtualClock::default(),
            stdout: CappedPipe::new(max_output_bytes),
            stderr: CappedPipe::new(max_output_bytes),
            secure: DrawLog::new(seed, Vec::new()),
            insecure: DrawLog::new(seed ^ 0x9e37_79b9_7f4a_7c15, Vec::new()),
            seed,
        }
    }

    /// Restart both generators from `seed` (a reset does, so that an episode's randomness
    /// depends on its seed alone, not on what ran in the sandbox before it).
    pub fn reseed(&mut self, seed: u64) {
        let fresh = HostSide::new(0, seed);
        self.secure = fresh.secure;
        self.insecure = fresh.insecure;
        self.seed = seed;
    }

    /// An independent copy: same clock time, captured output and generator logs. `None` once
    /// a generator's log is full (see [`SeededRng`]).
    pub fn copy(&self) -> Option<HostSide> {
        let copy = HostSide {
            clock: VirtualClock::default(),
            stdout: CappedPipe::new(0),
            stderr: CappedPipe::new(0),
            secure: self.secure.copy()?,
            insecure: self.insecure.copy()?,
            seed: self.seed,
        };
        copy.clock.copy_from(&self.clock);
        copy.stdout.copy_from(&self.stdout);
        copy.stderr.copy_from(&self.stderr);
        Some(copy)
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        TICK_NANOS
    }
    fn now(&self) -> u64 {
        self.advance(TICK_NANOS)
    }
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NANOS)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(WALL_CLOCK_EPOCH_SECS) + Duration::from_nanos(VirtualClock::now(self))
    }
}

/// A pollable that is ready at once: the sleep has already happened in virtual time.
struct Elapsed;

#[wasmtime_wasi_io::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

/// `wasi:clocks/monotonic-clock` over a [`VirtualClock`]; replaces wasmtime-wasi's, whose
/// `subscribe-*` really sleep on the calling thread.
pub struct VirtualClockView<'a> {
    pub clock: &'a VirtualClock,
    pub table: &'a mut ResourceTable,
}

impl monotonic_clock::Host for VirtualClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(HostMonotonicClock::now(self.clock))
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(TICK_NANOS)
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.clock.now();
        self.clock.advance(when.saturating_sub(now));
        let ready = self.table.push(Elapsed)?;
        subscribe(self.table, ready)
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.clock.advance(duration);
        let ready = self.table.push(Elapsed)?;
        subscribe(self.table, ready)
    }
}

/// [`HasData`] marker for linking [`VirtualClockView`].
pub struct VirtualClocks;

impl HasData for VirtualClocks {
    type Data<'a> = VirtualClockView<'a>;
}

/// Shadow the monotonic clock of an already-populated WASI linker with the virtual one.
pub fn link_virtual_clock<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> VirtualClockView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    monotonic_clock::add_to_linker::<T, VirtualClocks>(linker, view)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Captured output: keeps the first `capacity` bytes, counts and drops the rest.
#[derive(Clone)]
pub struct CappedPipe {
    inner: Arc<Mutex<CappedBuffer>>,
}

struct CappedBuffer {
    data: Vec<u8>,
    capacity: usize,
    dropped: u64,
}

impl CappedPipe {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CappedBuffer {
                data: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        // A poisoned lock only means another writer panicked; the bytes are still valid.
        let mut buf = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let room = buf.capacity.saturating_sub(buf.data.len());
        let keep = room.min(bytes.len());
        buf.data.extend_from_slice(&bytes[..keep]);
        buf.dropped += (bytes.len() - keep) as u64;
    }

    /// What was captured (lossily decoded) and a marker if bytes were dropped.
    pub fn text(&self) -> String {
        let buf = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::from_utf8_lossy(&buf.data).into_owned();
        if buf.dropped > 0 {
            text.push_str(&format!("\n...[{} more bytes dropped]", buf.dropped));
        }
        text
    }

    /// Hold exactly what `other` holds.
    pub fn copy_from(&self, other: &CappedPipe) {
        let (data, capacity, dropped) = {
            let theirs = other.inner.lock().unwrap_or_else(PoisonError::into_inner);
            (theirs.data.clone(), theirs.capacity, theirs.dropped)
        };
        let mut buf = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        buf.data = data;
        buf.capacity = capacity;
        buf.dropped = dropped;
    }

    pub fn clear(&self) {
        let mut buf = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        buf.data.clear();
        buf.dropped = 0;
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always writable: excess is dropped, never refused, so the guest never blocks or traps.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// A WASI context that grants nothing: no files, env, args, network; virtual time; seeded RNG.
///
/// `None` if a generator of `host` can no longer be reproduced.
pub fn sealed_ctx(host: &HostSide) -> Option<WasiCtx> {
    let secure = host.secure.generator()?;
    let insecure = host.insecure.generator()?;
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(host.stdout.clone())
        .stderr(host.stderr.clone())
        .wall_clock(host.clock.clone())
        .monotonic_clock(host.clock.clone())
        .secure_random(secure)
        .insecure_random(insecure)
        .insecure_random_seed(u128::from(host.seed))
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    Some(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_pipe_keeps_the_head_and_counts_the_rest() {
        let pipe = CappedPipe::new(8);
        pipe.push(b"hello ");
        pipe.push(b"world!");
        assert_eq!(pipe.text(), "hello wo\n...[4 more bytes dropped]");
        pipe.clear();
        pipe.push(b"ok");
        assert_eq!(pipe.text(), "ok");
    }

    #[test]
    fn a_generator_from_a_copied_log_continues_the_original_until_the_log_is_full() {
        let log = DrawLog::new(7, Vec::new());
        let mut original = log.generator().unwrap();
        let mut bytes = [0u8; 5];
        for _ in 0..3 {
            original.next_u32();
            original.next_u32();
            original.next_u64();
            original.fill_bytes(&mut bytes);
        }
        let mut copy = log.copy().unwrap().generator().unwrap();
        for _ in 0..4 {
            assert_eq!(copy.next_u64(), original.next_u64());
            let (mut a, mut b) = ([0u8; 3], [0u8; 3]);
            copy.fill_bytes(&mut a);
            original.fill_bytes(&mut b);
            assert_eq!(a, b);
            assert_eq!(copy.next_u32(), original.next_u32());
        }
        for _ in 0..MAX_DRAW_RUNS {
            original.next_u32();
            original.next_u64();
        }
        assert!(log.copy().is_none());
    }

    #[test]
    fn virtual_clock_only_moves_when_read_or_slept() {
        let clock = VirtualClock::default();
        let wall = HostWallClock::now(&clock);
        assert_eq!(wall, Duration::from_secs(WALL_CLOCK_EPOCH_SECS));
        let a = HostMonotonicClock::now(&clock);
        let b = HostMonotonicClock::now(&clock);
        assert_eq!(b - a, TICK_NANOS);
        clock.advance(3_600_000_000_000);
        assert_eq!(
            HostMonotonicClock::now(&clock) - b,
            3_600_000_000_000 + TICK_NANOS
        );
        clock.advance(u64::MAX);
        assert_eq!(clock.now(), u64::MAX);
    }
}
