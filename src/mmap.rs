//! One of the crate's three uses of `unsafe` (the others are `src/prefetch.rs` and
//! `src/lanes.rs`): mapping a table file into memory.
//!
//! Mapping is unsafe because the file can change underneath the mapping, in this process or
//! another. The contract is passed on to the caller of [`Table::map_file`](crate::Table::map_file)
//! rather than hidden behind a safe function.

use std::fs::File;

use memmap2::Mmap;

use crate::{LoadError, Table};

impl Table {
    /// Memory-maps a table file and validates it.
    ///
    /// # Safety
    ///
    /// The file must not be modified or truncated, by this process or any other, while the
    /// returned `Table` (or anything holding it, such as a swap handle) is alive: the
    /// mapping shows such changes, and a truncated mapping faults on access. Publish new
    /// tables by writing a new file and renaming it into place, never by rewriting a
    /// mapped file. See [`memmap2::Mmap`].
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the file cannot be mapped or is not a valid table.
    pub unsafe fn map_file(file: &File) -> Result<Table, LoadError> {
        // SAFETY: the caller upholds this function's contract, which is memmap2's.
        let map = unsafe { Mmap::map(file) }.map_err(LoadError::io)?;
        Table::from_mapped(map)
    }
}

impl crate::swap::ReloadMode {
    /// Map files instead of reading them: [`LiveTable::reload`](crate::swap::LiveTable::reload)
    /// and watchers then serve tables straight from the page cache.
    ///
    /// # Safety
    ///
    /// Every file reloaded with this mode must stay unmodified and untruncated while the
    /// table is in service or held by a reader, as for [`Table::map_file`]. Files written
    /// only through [`publish`](crate::publish::publish) or
    /// [`publish_versioned`](crate::publish::publish_versioned) meet this: they are renamed
    /// into place, never rewritten.
    ///
    /// ```
    /// use c2trie::swap::ReloadMode;
    /// // SAFETY: this process only reloads files published by c2trie::publish.
    /// let mode = unsafe { ReloadMode::map() };
    /// assert!(mode.is_map());
    /// ```
    pub const unsafe fn map() -> crate::swap::ReloadMode {
        crate::swap::ReloadMode { map: true }
    }
}

/// Maps `path` and validates it. Called only for a [`ReloadMode`](crate::swap::ReloadMode)
/// built by the `unsafe` [`ReloadMode::map`](crate::swap::ReloadMode::map), whose caller took on
/// the mapping contract for every file reloaded with it.
pub(crate) fn load_promised(path: &std::path::Path) -> Result<Table, LoadError> {
    let file = File::open(path).map_err(LoadError::io)?;
    // SAFETY: the caller of `ReloadMode::map` promised that files reloaded with it are not
    // modified or truncated while mapped (see its `# Safety`).
    unsafe { Table::map_file(&file) }
}
