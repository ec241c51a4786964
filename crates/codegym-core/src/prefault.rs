//! Pre-faulting what a new env of a class will write, in one system call.
//!
//! Every sandbox maps the guest's pre-initialised heap copy-on-write, so the first write to each
//! page of it is a page fault that copies the page. When that page was already mapped read-only
//! (by the kernel's fault-around after a read nearby, or by a read of its own), the fault must
//! also flush the stale translation from every other CPU running this process: an
//! inter-processor interrupt per page. With two threads creating envs at once, these flushes
//! made creation slower than on one thread (perf: 31 % of the time in `ptep_clear_flush`'s
//! IPIs). The pages a class's envs write while loading and resetting are nearly the same for
//! every env of the class, so the first env's written pages (read from `/proc/self/pagemap`)
//! become the class's [`Profile`], and every later sandbox of the class asks the kernel to copy
//! them before the guest runs (`madvise(MADV_POPULATE_WRITE)`, Linux ≥ 5.14): one call, no
//! fault per page, and no flush, because none of those pages is mapped yet. The contents are
//! unchanged (a private copy of the same bytes), so nothing the guest can observe differs; a
//! page in the profile that an env would not have written costs it one private page.
//!
//! wasmtime does not expose a component's linear memory, but it hands the memory to a value's
//! lowering code while it copies an argument into the guest: [`LoadCode`], the `code` argument
//! of the guest's `load`, pre-faults there and records where the memory is.
#![allow(unsafe_code)]

use std::fs::File;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};

const PAGE: usize = 4096;
/// Bits of a `/proc/self/pagemap` entry.
const PRESENT: u64 = 1 << 63;
const FILE_OR_SHARED: u64 = 1 << 61;
const EXCLUSIVE: u64 = 1 << 56;

/// Byte ranges of linear memory (page-aligned offsets) to pre-fault for writing.
pub type Profile = Vec<Range<usize>>;

/// Where a sandbox's linear memory was, as seen by the last lowering (0 until then).
#[derive(Default)]
pub struct MemorySeen {
    base: AtomicUsize,
    len: AtomicUsize,
}

impl MemorySeen {
    /// The pages of this memory that the sandbox has written: present, private to this
    /// process and exclusively mapped (not the image's file pages, not the shared zero page).
    pub fn written(&self) -> std::io::Result<Profile> {
        let (base, len) = (
            self.base.load(Ordering::Relaxed),
            self.len.load(Ordering::Relaxed),
        );
        let mut profile = Profile::new();
        if base == 0 || len == 0 || base % PAGE != 0 {
            return Ok(profile);
        }
        let pages = len / PAGE;
        let mut raw = vec![0u8; pages * 8];
        File::open("/proc/self/pagemap")?.read_exact_at(&mut raw, (base / PAGE * 8) as u64)?;
        for (i, entry) in raw.chunks_exact(8).enumerate() {
            let bits = u64::from_le_bytes(entry.try_into().unwrap_or_default());
            if bits & PRESENT != 0 && bits & FILE_OR_SHARED == 0 && bits & EXCLUSIVE != 0 {
                let start = i * PAGE;
                match profile.last_mut() {
                    Some(last) if last.end == start => last.end += PAGE,
                    _ => profile.push(start..start + PAGE),
                }
            }
        }
        Ok(profile)
    }
}

/// The `code: list<u8>` argument of the guest's `load`: lowered like `&[u8]`, after
/// pre-faulting `profile` in the memory it is lowered into and recording that memory in `seen`.
pub struct LoadCode<'a> {
    pub bytes: &'a [u8],
    pub profile: Option<&'a Profile>,
    pub seen: &'a MemorySeen,
}

impl LoadCode<'_> {
    fn prepare<T>(&self, cx: &mut LowerContext<'_, T>) {
        let memory = cx.as_slice_mut();
        let (base, len) = (memory.as_mut_ptr(), memory.len());
        self.seen.base.store(base as usize, Ordering::Relaxed);
        self.seen.len.store(len, Ordering::Relaxed);
        for range in self.profile.into_iter().flatten() {
            if range.end <= len {
                // SAFETY: the range lies inside the guest memory wasmtime lent us (`memory`).
                unsafe { populate_write(base.add(range.start), range.end - range.start) };
            }
        }
    }
}

/// Make `len` bytes at `ptr` resident and private to this mapping without changing them.
/// Fails harmlessly (`EINVAL`) on Linux before 5.14; a no-op elsewhere.
///
/// # Safety
/// `ptr..ptr + len` must lie inside one live mapping.
#[cfg(target_os = "linux")]
unsafe fn populate_write(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract; the call changes no byte of the range.
    unsafe { libc::madvise(ptr.cast(), len, libc::MADV_POPULATE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
unsafe fn populate_write(_ptr: *mut u8, _len: usize) {}

// SAFETY: every item delegates to `[u8]`'s implementation, the type this one lowers as.
unsafe impl ComponentType for LoadCode<'_> {
    type Lower = <[u8] as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <[u8] as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: lowers exactly what `[u8]` lowers, after `prepare`, which changes no guest byte.
unsafe impl Lower for LoadCode<'_> {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        self.prepare(cx);
        <[u8] as Lower>::linear_lower_to_flat(self.bytes, cx, ty, dst)
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        self.prepare(cx);
        <[u8] as Lower>::linear_lower_to_memory(self.bytes, cx, ty, offset)
    }
}
