//! c2trie: compile command-and-control IP feeds into a validated longest-prefix-match table.
#![doc(test(attr(deny(warnings))))]

pub mod entry;
pub mod feed;

pub use entry::{Entry, List, Meta};
