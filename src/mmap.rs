//! The crate's one use of `unsafe`: mapping a table file into memory.
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
