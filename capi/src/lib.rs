//! The C ABI of [c2trie](https://docs.rs/c2trie): open compiled C&C IP tables, look addresses
//! up and decide verdicts from C and C++.
//!
//! The contract is `include/c2trie.h`; this crate implements it. Build and link instructions
//! are in `README.md`. Every exported symbol starts with `c2trie_`.
//!
//! This crate is the only place in the project with `unsafe` beyond the one memory map in
//! the library: pointers from C cannot be checked by the compiler. Every `unsafe` block says
//! why it is sound in a `// SAFETY:` comment, and every exported function:
//!
//! - checks each pointer argument for NULL before use and returns
//!   [`C2TRIE_ERR_NULL`] instead of dereferencing it;
//! - runs its body under [`std::panic::catch_unwind`], so a panic (a bug) becomes
//!   [`C2TRIE_ERR_PANIC`] and never unwinds into C;
//! - reports failures as a status code plus a message that [`c2trie_last_error`] returns.
//!
//! Rust code should use the `c2trie` crate directly; the `rlib` exists so that this crate's
//! own tests can check the C layout of its types.

#![allow(non_camel_case_types)] // The types carry their C names.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod boundary;
mod live;
mod policy;
mod table;
mod types;

pub use boundary::{c2trie_last_error, c2trie_strerror, c2trie_version};
pub use live::{
    c2trie_live, c2trie_live_decide, c2trie_live_decide_v4, c2trie_live_decide_v4_batch,
    c2trie_live_decide_v6, c2trie_live_decide_v6_batch, c2trie_live_free, c2trie_live_get_info,
    c2trie_live_new, c2trie_live_reload, c2trie_live_reload_pointer, c2trie_live_snapshot,
};
pub use policy::{
    c2trie_policy, c2trie_policy_add_nat64_prefix, c2trie_policy_clear_nat64_prefixes,
    c2trie_policy_clone, c2trie_policy_free, c2trie_policy_get_embedded, c2trie_policy_get_mode,
    c2trie_policy_get_nat64_prefix, c2trie_policy_nat64_count, c2trie_policy_new,
    c2trie_policy_set_embedded, c2trie_policy_set_mode,
};
pub use table::{
    c2trie_decide, c2trie_decide_v4, c2trie_decide_v4_batch, c2trie_decide_v6,
    c2trie_decide_v6_batch, c2trie_decision_init, c2trie_entry_fn, c2trie_lookup, c2trie_lookup_v4,
    c2trie_lookup_v4_batch, c2trie_lookup_v6, c2trie_lookup_v6_batch, c2trie_matches_init,
    c2trie_parse_addr, c2trie_table, c2trie_table_for_each_entry, c2trie_table_free,
    c2trie_table_from_bytes, c2trie_table_get_info, c2trie_table_map, c2trie_table_open,
};
pub use types::*;
