#![doc = include_str!("../README.md")]
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod compile;
pub mod entry;
pub mod error;
pub mod event;
pub mod feed;
pub mod format;
pub mod guide;
#[cfg(feature = "mmap")]
#[allow(unsafe_code)] // The single exception: mapping a file. See src/mmap.rs.
mod mmap;
pub mod policy;
pub mod publish;
#[cfg(feature = "sign")]
#[cfg_attr(docsrs, doc(cfg(feature = "sign")))]
pub mod sign;
pub mod swap;
pub mod table;
pub mod wfp;

pub use compile::Compiler;
pub use entry::{Entry, List, Meta};
pub use error::{
    CompileError, CompileErrorKind, LoadError, LoadErrorKind, SwapError, SwapErrorKind,
};
pub use event::{MatchEvent, RateLimiter};
pub use format::validate::LoadOptions;
pub use policy::{Decision, Mode, Policy, Verdict};
pub use publish::{publish, publish_versioned};
pub use swap::{FailMode, LiveTable, ReloadMode};
pub use table::{EntryRef, Hits, Table};
