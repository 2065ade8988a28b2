//! Software prefetch for the batch lookups and the compiler's host placement: the crate's
//! second use of `unsafe`, beside mapping files (`src/mmap.rs`) and comparing prefix lanes
//! (`src/lanes.rs`). A prefetch asks the CPU to start loading a cache line that a later
//! instruction will read, so that a batch lookup, or the compiler placing hosts in their
//! buckets, can have many loads in flight.

/// Starts loading the cache line that holds `*r` into the caches. It changes nothing a
/// program can observe. A no-op on targets other than x86_64 and under Miri.
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` reads nothing into a register and never faults, whatever the
    // address; this one comes from a live reference besides. SSE, which provides the
    // instruction, is part of the x86_64 baseline, so every x86_64 CPU has it.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = r;
}
