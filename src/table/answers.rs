//! Each IPv6 prefix's answer, found among a validated table's tuples: what the runtime
//! indexes (`groups`, `lengths`) store in place of a trie walk.
//!
//! A prefix's answer is the tuple that names, in every list, the longest entry containing
//! the prefix. In every table the compiler writes it is the tuple the trie gives every
//! address of the prefix outside longer prefixes; a prefix whose answer the table does not
//! hold is covered entirely by longer ones, so no address answers with it. The answers are
//! derived from the entries and the tuples alone, and every entry an answer names contains
//! the prefix, so an index built from them answers only with entries that contain the
//! address, whatever the table.

use crate::format::validate::Layout;
use crate::format::{Family, NONE, V6};

/// A tuple index naming no tuple: the prefix's answer is not in the table.
pub(crate) const ABSENT: u32 = u32::MAX;

/// Whether the left-aligned prefix `a/l` contains `b/m`.
pub(crate) fn contains(a: u128, l: u8, b: u128, m: u8) -> bool {
    l <= m
        && (a ^ b)
            .checked_shr(128u32.saturating_sub(u32::from(l)))
            .unwrap_or(0)
            == 0
}

/// Each distinct IPv6 prefix of `layout`, in address order, as (address, length, index of
/// its answer among the IPv6 tuples or [`ABSENT`]). `None` when the table has more IPv6
/// tuples than distinct prefixes plus one: the compiler writes at most one tuple per
/// distinct prefix (an address's answer is its longest prefix's) and tuple 0, so such a
/// table was written otherwise, and its tuples (which could be millions) are not read.
/// Reads each entry and each tuple once; allocates in proportion to the prefixes.
pub(crate) fn prefix_answers(layout: &Layout<'_>) -> Option<Vec<(u128, u8, u32)>> {
    let fam = &layout.v6;
    let entries = fam.entries;
    // Entries are sorted by (address, length, list), so a prefix's containing entries come
    // before it; `open[list]` holds that list's entries containing the current one, nested.
    let mut open: [Vec<(u128, u8, u32)>; 3] = Default::default();
    let mut prefixes: Vec<(u128, u8, u32)> = Vec::new();
    // Each prefix's answer as it should be, and each entry's prefix.
    let mut wanted: Vec<[u32; 3]> = Vec::new();
    let mut prefix_of: Vec<u32> = Vec::with_capacity(entries.len());
    let mut i = 0;
    while let Some(e) = entries.get(i) {
        let (addr, len) = (V6::entry_addr(e), V6::entry_len(e));
        for list in &mut open {
            while list
                .last()
                .is_some_and(|&(a, l, _)| !contains(a, l, addr, len))
            {
                list.pop();
            }
        }
        let n = u32::try_from(prefixes.len()).ok()?;
        // Every list's entry for this same prefix.
        while let Some(e) = entries.get(i) {
            if (V6::entry_addr(e), V6::entry_len(e)) != (addr, len) {
                break;
            }
            let list = layout.attrs.get(V6::entry_attr(e) as usize)?.list;
            open.get_mut(usize::from(list))?
                .push((addr, len, u32::try_from(i).ok()?));
            prefix_of.push(n);
            i += 1;
        }
        wanted.push(open.each_ref().map(|l| l.last().map_or(NONE, |x| x.2)));
        prefixes.push((addr, len, ABSENT));
    }
    if fam.tuples.len() > prefixes.len().saturating_add(1) {
        return None;
    }
    // A tuple that is some prefix's answer names that prefix as its longest entry (the
    // others contain it), so each tuple is compared with one prefix's answer only. The
    // first of equal tuples is kept.
    for (t, tuple) in fam.tuples.iter().enumerate() {
        let tuple = tuple.0.map(|e| e.get());
        let longest = tuple
            .iter()
            .filter_map(|&e| Some((V6::entry_len(entries.get(e as usize)?), e)))
            .max();
        let Some(p) = longest.and_then(|(_, e)| prefix_of.get(e as usize)) else {
            continue;
        };
        let p = *p as usize;
        if let (Some(want), Some(answer)) = (wanted.get(p), prefixes.get_mut(p))
            && *want == tuple
            && answer.2 == ABSENT
        {
            answer.2 = u32::try_from(t).ok()?;
        }
    }
    Some(prefixes)
}
