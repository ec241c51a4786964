//! The host's access to a sandbox's linear memory: pre-faulting what a new env of a class will
//! write, and copying a sandbox's state into a fresh one (fork).
//!
//! wasmtime does not expose a component's linear memory, but it lends the memory to a value's
//! lowering code while it copies an argument into the guest. [`WithMemory`] is such an argument:
//! it lowers exactly like the `&[u8]` it wraps, after running a [`MemoryHook`] on the memory.
//! It implements wasmtime's doc-hidden lowering traits, which is one reason the wasmtime pin is
//! exact.
//!
//! **Pre-faulting.** Every sandbox maps the guest's pre-initialised heap copy-on-write, so the
//! first write to each page of it is a page fault that copies the page. When that page was
//! already mapped read-only (by the kernel's fault-around after a read nearby, or by a read of
//! its own), the fault must also flush the stale translation from every other CPU running this
//! process: an inter-processor interrupt per page. With two threads creating envs at once, these
//! flushes made creation slower than on one thread (perf: 31 % of the time in
//! `ptep_clear_flush`'s IPIs). The pages a class's envs write while loading and resetting are
//! nearly the same for every env of the class, so the first env's written pages (read from
//! `/proc/self/pagemap`) become the class's [`Profile`], and every later sandbox of the class
//! asks the kernel to copy them before the guest runs (a class has a second profile for
//! sandboxes made to run `solve()`, which writes more; [`Prefault`] on `load`'s code argument;
//! `madvise(MADV_POPULATE_WRITE)`, Linux ≥ 5.14): one call, no fault per page, and no flush,
//! because none of those pages is mapped yet. The contents are unchanged (a private copy of the
//! same bytes), so nothing the guest can observe differs; a page in the profile that an env
//! would not have written costs it one private page.
//!
//! **Copying a sandbox.** A sandbox's state is its linear memory, the host side of its WASI
//! world (copied separately) and what wasmtime keeps outside both: core globals (the shadow
//! stack pointer, which every call restores, and values the guest's start-up code sets once) and
//! handles to host resources (which a fork only copies when there are none). The guest's `sync`
//! export does nothing; [`Capture`] on the original's call copies the pages it has written, and
//! [`Restore`] on a fresh sandbox's call writes them there, before either runs. The same call
//! then runs on the same memory in both, so they end in the same state. [`Template`] does the
//! same from a class's pristine sandbox (which makes no call of its own): every new or recycled
//! sandbox of the class ends its creation with a `sync` call that first makes its memory the
//! pristine one's, and a sandbox that loads the class ends with a `sync` call too, so all of
//! them start in one state.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};

pub use crate::pagemap::Profile;
use crate::pagemap::{self, PAGE};

/// Where a sandbox's linear memory was, as seen by the last lowering (0 until then).
#[derive(Default)]
pub struct MemorySeen {
    base: AtomicUsize,
    len: AtomicUsize,
}

impl MemorySeen {
    fn record(&self, memory: &[u8]) {
        self.base.store(memory.as_ptr() as usize, Ordering::Relaxed);
        self.len.store(memory.len(), Ordering::Relaxed);
    }

    /// The same record, for a sandbox that makes no more calls (its memory stays where it is).
    pub(crate) fn copy(&self) -> MemorySeen {
        MemorySeen {
            base: AtomicUsize::new(self.base.load(Ordering::Relaxed)),
            len: AtomicUsize::new(self.len()),
        }
    }

    /// Where the memory was at the last lowering (0 before it).
    #[cfg(test)]
    pub fn base(&self) -> usize {
        self.base.load(Ordering::Relaxed)
    }

    /// The memory's size at the last lowering.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// How many pages of this memory are mapped (read or written so far).
    #[cfg(test)]
    pub fn mapped_pages(&self) -> usize {
        pagemap::mapped_pages(self.base.load(Ordering::Relaxed), self.len())
    }

    /// The written pages as `PAGEMAP_SCAN` finds them and as the pagemap entries show them.
    #[cfg(test)]
    pub fn written_both_ways(&self) -> (Option<Profile>, Profile) {
        pagemap::written_both_ways(self.base.load(Ordering::Relaxed), self.len())
    }

    /// Every page of this memory that the sandbox has written (see [`pagemap::written_pages`]).
    pub fn written_all(&self) -> std::io::Result<Profile> {
        pagemap::written_pages(
            self.base.load(Ordering::Relaxed),
            self.len.load(Ordering::Relaxed),
            false,
        )
    }

    /// The pages of this memory that the sandbox has written and no other process shares
    /// (see [`pagemap::written_pages`]), as of its size at the last lowering.
    pub fn written(&self) -> std::io::Result<Profile> {
        pagemap::written_pages(
            self.base.load(Ordering::Relaxed),
            self.len.load(Ordering::Relaxed),
            true,
        )
    }
}

impl MemorySeen {
    /// Read one byte of each of `pages` (page indices, ascending) that lies inside the memory,
    /// so that the translations and cache lines a step is about to need are fetched together,
    /// ahead of it, rather than one at a time as the interpreter reaches them (see "Pages a step
    /// touches, and warming them" in docs/architecture.md). Reads only: nothing the guest sees
    /// changes.
    ///
    /// Contract (crate-internal): the sandbox is not running a call (its owner holds it), so
    /// its memory is mapped at its base for at least `len` bytes (it never shrinks or moves).
    pub(crate) fn warm(&self, pages: &[u32]) {
        let (base, len) = (self.base.load(Ordering::Relaxed), self.len());
        if base == 0 {
            return;
        }
        for &page in pages {
            let offset = page as usize * PAGE;
            if offset >= len {
                break;
            }
            // SAFETY: `offset` is inside the live memory (checked above, and by the contract);
            // a volatile read of one byte, so the compiler keeps it.
            unsafe { std::ptr::read_volatile((base + offset) as *const u8) };
        }
    }

    /// The pages of this memory that are mapped, as page indices (ascending).
    pub(crate) fn mapped(&self) -> std::io::Result<Vec<u32>> {
        let runs = pagemap::mapped(self.base.load(Ordering::Relaxed), self.len())?;
        Ok(runs
            .into_iter()
            .flat_map(|run| run.start / PAGE..run.end / PAGE)
            .filter_map(|page| u32::try_from(page).ok())
            .collect())
    }

    /// Map the mapped pages of this memory again, copy-on-write from a private copy of their
    /// current bytes, so that no page of the memory is mapped until the guest or the host
    /// touches it: the pages mapped after a call are the ones the call touched. The bytes are
    /// unchanged. (Pages not mapped yet are left alone: they are not mapped either.)
    ///
    /// Only for a sandbox that is dropped afterwards: its pages then come from that copy, not
    /// from the guest's image, so the written-page lists that recycling and copying a sandbox
    /// rely on would no longer show what it wrote. If this fails, the memory's contents are
    /// unspecified and the sandbox must not be called again.
    ///
    /// Contract (crate-internal): as for [`MemorySeen::warm`], and nothing else reads or
    /// writes the memory meanwhile.
    #[cfg(target_os = "linux")]
    pub(crate) fn remap_from_copy(&self) -> std::io::Result<()> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::fs::FileExt;
        let (base, len) = (self.base.load(Ordering::Relaxed), self.len());
        if base == 0 || len == 0 || !base.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) {
            return Err(std::io::Error::other("the memory has not been seen"));
        }
        let runs = pagemap::mapped(base, len)?;
        // SAFETY: memfd_create takes a NUL-terminated name and flags and returns a new fd.
        let fd = unsafe { libc::memfd_create(c"codegym-step-pages".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // Each page at its own offset; the rest of the file is holes, which take no memory.
        file.set_len(len as u64)?;
        for run in &runs {
            // SAFETY: `run` lies inside the live memory (the contract), read while no call runs.
            let bytes =
                unsafe { std::slice::from_raw_parts((base + run.start) as *const u8, run.len()) };
            file.write_all_at(bytes, run.start as u64)?;
        }
        for run in &runs {
            let at = base + run.start;
            // SAFETY: replaces the mapping of a range inside the live memory, read-write as
            // before, with a private mapping of the same bytes; no reference into the range is
            // held across the call.
            let mapped = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    run.len(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    file.as_raw_fd(),
                    run.start as libc::off_t,
                )
            };
            if mapped as usize != at {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: the same range, now mapped from the copy.
            let pages = unsafe { std::slice::from_raw_parts(at as *const u8, run.len()) };
            // Fault-around would map a touched page's neighbours too.
            if !crate::fault_around::disable(pages) {
                return Err(std::io::Error::other("fault-around cannot be turned off"));
            }
        }
        Ok(())
    }
}

/// Make `to` (a sandbox's memory, lent to a hook) hold the bytes the memory `from` saw (the same
/// guest's, the same size): every page of `to_written` (what `to` has written, from
/// [`MemorySeen::written_all`]; nothing for a fresh instance) and of `from_written` (what `from`
/// wrote) is copied from `from`; any other page still holds the image's bytes in both.
///
/// Contract (crate-internal): `from` is not running a call and has not run one since its
/// written pages were read, and its memory has not grown since it was seen, so it is mapped at
/// its base for `len` bytes and nothing writes it.
fn copy_memory(
    from: &MemorySeen,
    from_written: &[Range<usize>],
    to: &mut [u8],
    to_written: &[Range<usize>],
) -> std::io::Result<()> {
    let (from_base, len) = (from.base.load(Ordering::Relaxed), from.len());
    if from_base == 0 || len != to.len() {
        return Err(std::io::Error::other("the two memories differ in size"));
    }
    for range in union(to_written, from_written) {
        let Some(to) = to.get_mut(range.clone()) else {
            return Err(std::io::Error::other("a written page lies past the memory"));
        };
        // SAFETY: `range` lies inside `from`'s live linear memory of `len` bytes (checked above
        // and by the contract), another sandbox's than `to`, so the two do not overlap.
        let from = unsafe {
            std::slice::from_raw_parts((from_base + range.start) as *const u8, range.len())
        };
        to.copy_from_slice(from);
    }
    Ok(())
}

/// The byte ranges in `a` or `b` (each sorted and disjoint), sorted and disjoint: a page in both
/// is copied once.
fn union(a: &[Range<usize>], b: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut all: Vec<Range<usize>> = a.iter().chain(b).cloned().collect();
    all.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(all.len());
    for range in all {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Make `range` of `memory` resident and private to this mapping without changing a byte.
fn populate_write(memory: &mut [u8], range: &Range<usize>) {
    let Some(pages) = memory.get_mut(range.clone()) else {
        return;
    };
    #[cfg(target_os = "linux")]
    // SAFETY: `pages` is a live, exclusively borrowed range of the guest's memory; the advice
    // changes none of its bytes. It fails harmlessly (EINVAL) on Linux before 5.14.
    unsafe {
        libc::madvise(
            pages.as_mut_ptr().cast(),
            pages.len(),
            libc::MADV_POPULATE_WRITE,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pages;
}

/// Work done on a sandbox's whole linear memory just before an argument is copied into it.
pub trait MemoryHook: Send + Sync {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()>;
}

/// A `list<u8>` argument that runs `hook` on the guest's memory, records where that memory is
/// in `seen`, then lowers `bytes`.
pub struct WithMemory<'a, H> {
    pub bytes: &'a [u8],
    pub hook: H,
    pub seen: &'a MemorySeen,
}

impl<H: MemoryHook> WithMemory<'_, H> {
    fn prepare<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<()> {
        let memory = cx.as_slice_mut();
        if self.seen.base.load(Ordering::Relaxed) != memory.as_ptr() as usize {
            // The sandbox's first call: nothing has read its image yet.
            crate::fault_around::disable(memory);
        }
        self.seen.record(memory);
        self.hook.run(memory)
    }
}

// SAFETY: every item delegates to `[u8]`'s implementation, the type this one lowers as.
unsafe impl<H: MemoryHook> ComponentType for WithMemory<'_, H> {
    type Lower = <[u8] as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <[u8] as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: lowers exactly what `[u8]` lowers, after the hook, which only touches guest memory
// through the slice wasmtime lends it.
unsafe impl<H: MemoryHook> Lower for WithMemory<'_, H> {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        self.prepare(cx)?;
        <[u8] as Lower>::linear_lower_to_flat(self.bytes, cx, ty, dst)
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        self.prepare(cx)?;
        <[u8] as Lower>::linear_lower_to_memory(self.bytes, cx, ty, offset)
    }
}

/// Make a sandbox's memory its class's template's (the class's pristine sandbox, see
/// [`crate::recycle`]) before the call runs: copy the template's bytes over every page either
/// has written (see [`copy_memory`]).
pub struct Template<'a> {
    pub from: &'a MemorySeen,
    pub from_written: &'a [Range<usize>],
    /// The pages this sandbox has written (none, for a fresh instance).
    pub to_written: &'a [Range<usize>],
}

impl MemoryHook for Template<'_> {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        copy_memory(self.from, self.from_written, memory, self.to_written)
            .map_err(|e| wasmtime::format_err!("copying the class's template: {e}"))
    }
}

/// Pre-fault a class's profile (nothing before it is recorded).
pub struct Prefault<'a>(pub Option<&'a Profile>);

impl MemoryHook for Prefault<'_> {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        for range in self.0.into_iter().flatten() {
            populate_write(memory, range);
        }
        Ok(())
    }
}

/// The pages a sandbox had written, and the size of its memory, at one quiescent point.
pub struct Snapshot {
    len: usize,
    ranges: Vec<Range<usize>>,
    bytes: Vec<u8>,
}

impl Snapshot {
    /// Size of the original's linear memory.
    pub fn memory_len(&self) -> usize {
        self.len
    }
}

/// Copy the pages the original has written into `out` (left empty if `/proc/self/pagemap`
/// cannot be read: the call still runs, and the env is forked by replay).
pub struct Capture<'a>(pub &'a Mutex<Option<Snapshot>>);

impl MemoryHook for Capture<'_> {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        let Ok(ranges) = pagemap::written_pages(memory.as_ptr() as usize, memory.len(), false)
        else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(ranges.iter().map(Range::len).sum());
        for range in &ranges {
            bytes.extend_from_slice(&memory[range.clone()]);
        }
        let snapshot = Snapshot {
            len: memory.len(),
            ranges,
            bytes,
        };
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
        Ok(())
    }
}

/// Write a [`Snapshot`] into a fresh sandbox of the same guest (refused if its memory is not
/// the same size: the guest would see a different `memory.size`).
pub struct Restore<'a>(pub &'a Snapshot);

impl MemoryHook for Restore<'_> {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        let snapshot = self.0;
        if memory.len() != snapshot.len {
            wasmtime::bail!(
                "the snapshot holds {} bytes of memory, the fresh sandbox {}",
                snapshot.len,
                memory.len()
            );
        }
        let mut at = 0;
        for range in &snapshot.ranges {
            populate_write(memory, range);
            let next = at + range.len();
            memory[range.clone()].copy_from_slice(&snapshot.bytes[at..next]);
            at = next;
        }
        Ok(())
    }
}

/// Copy the whole memory into the vector (tests compare sandboxes byte for byte).
#[cfg(test)]
pub struct Dump<'a>(pub &'a Mutex<Vec<u8>>);

#[cfg(test)]
impl MemoryHook for Dump<'_> {
    fn run(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = memory.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::union;

    #[test]
    fn union_copies_each_page_once() {
        let a = [0..4096, 8192..16384, 40960..45056];
        let b = [4096..8192, 12288..20480, 32768..36864];
        assert_eq!(union(&a, &b), vec![0..20480, 32768..36864, 40960..45056]);
        assert_eq!(union(&a, &[]), a.to_vec());
    }
}
