//! A zeroed `u64` table for the compiler's IPv4 duplicate check, which writes at random
//! across many megabytes (16 MB for a million entries).
//!
//! Each access lands on a random page, so with ordinary 4 KiB pages most of them miss the
//! TLB as well as the cache, and the page walk (two-dimensional under a hypervisor) costs
//! as much as the miss. On Linux a large table is an anonymous mapping advised for
//! transparent huge pages, aligned to 2 MiB so that the kernel can back all of it with
//! them: on a million host entries, adding them went from 140–150 to 110–117 ms. Elsewhere,
//! for small tables, or where the mapping fails, it is a `Vec`.

/// A zeroed table of `u64`s.
pub(crate) struct Words(Inner);

enum Inner {
    Vec(Vec<u64>),
    #[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
    Map {
        map: memmap2::MmapMut,
        /// Where the 2 MiB-aligned table starts in `map`.
        start: usize,
        /// The table's length in words.
        len: usize,
    },
}

/// The length only: a table holds millions of words.
impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Words").field("len", &self.len()).finish()
    }
}

impl Default for Words {
    fn default() -> Words {
        Words(Inner::Vec(Vec::new()))
    }
}

impl Clone for Words {
    fn clone(&self) -> Words {
        let mut copy = Words::zeroed(self.len());
        copy.as_mut_slice().copy_from_slice(self.as_slice());
        copy
    }
}

/// The size from which a table is mapped rather than allocated.
#[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
const MAP_FROM: usize = 4 << 20;

/// A huge page's size, the mapped table's alignment.
#[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
const HUGE_PAGE: usize = 2 << 20;

impl Words {
    /// `len` zeros.
    pub(crate) fn zeroed(len: usize) -> Words {
        #[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
        if let Some(words) = Words::mapped(len) {
            return words;
        }
        Words(Inner::Vec(vec![0; len]))
    }

    /// `len` zeros in a mapping advised for huge pages, if the table is large enough and
    /// the mapping is granted.
    #[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
    fn mapped(len: usize) -> Option<Words> {
        let bytes = len.checked_mul(8)?;
        if bytes < MAP_FROM {
            return None;
        }
        let map = memmap2::MmapMut::map_anon(bytes.checked_add(HUGE_PAGE)?).ok()?;
        let start = (map.as_ptr() as usize).next_multiple_of(HUGE_PAGE) - map.as_ptr() as usize;
        // Only a hint: without it the table is the same, on ordinary pages.
        let _ = map.advise(memmap2::Advice::HugePage);
        let words = Words(Inner::Map { map, start, len });
        // The view is checked once here, so `as_slice` never falls back to nothing.
        (words.as_slice().len() == len).then_some(words)
    }

    /// The table's length in words.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn as_slice(&self) -> &[u64] {
        match &self.0 {
            Inner::Vec(v) => v,
            #[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
            Inner::Map { map, start, len } => start
                .checked_add(len.saturating_mul(8))
                .and_then(|end| map.get(*start..end))
                .and_then(|b| <[u64] as zerocopy::FromBytes>::ref_from_bytes(b).ok())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u64] {
        match &mut self.0 {
            Inner::Vec(v) => v,
            #[cfg(all(feature = "mmap", target_os = "linux", not(miri)))]
            Inner::Map { map, start, len } => start
                .checked_add(len.saturating_mul(8))
                .and_then(|end| map.get_mut(*start..end))
                .and_then(|b| <[u64] as zerocopy::FromBytes>::mut_from_bytes(b).ok())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Words;

    #[test]
    fn small_and_large_tables_start_zeroed_and_keep_writes() {
        // The large one is mapped on Linux; both behave as a slice of zeros.
        for len in [0, 5, 1 << 20] {
            let mut w = Words::zeroed(len);
            assert_eq!(w.len(), len);
            assert!(w.as_slice().iter().all(|&x| x == 0));
            if let Some(last) = w.as_mut_slice().last_mut() {
                *last = 7;
            }
            let copy = w.clone();
            assert_eq!(copy.as_slice(), w.as_slice());
            assert_eq!(
                copy.as_slice().last().copied(),
                len.checked_sub(1).map(|_| 7)
            );
        }
    }
}
