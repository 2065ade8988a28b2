//! c2trie decides, per network connection, whether the remote address is on a
//! command-and-control (C&C) IP list, and whether to let it pass, log it or block it.
//!
//! Endpoint security products receive a **global C&C list** from their vendor, plus a user
//! **approved** list and a user **blocked** list. c2trie is the engine under such a feature,
//! in one direction of flow:
//!
//! ```text
//!  feed text ──feed──▶ entries ──Compiler──▶ bytes / file ──Table──▶ lookup ──Policy──▶ Decision ──▶ MatchEvent
//! ```
//!
//! - [`feed`] parses the feeds operators download (plain lists, Feodo Tracker CSV, Spamhaus
//!   DROP, ipsum, FireHOL netsets, `prefix<TAB>ASN` tables, CSV/TSV, JSON, gzip), with a
//!   `file:line: reason` error for every line it cannot use;
//! - [`Compiler`] builds an immutable, versioned, checksummed table, guarded against
//!   poisoned feeds ([`compile::Limits`]);
//! - [`Table`] loads it from memory, a file or a memory map, validating every byte first
//!   (it never panics on any input), and answers IPv4 and IPv6 longest-prefix lookups
//!   lock-free and without allocating; the format is specified, with the invariants the
//!   loader enforces, in [`format`](mod@format);
//! - [`Policy`] turns matches into verdicts (the approved list always wins), [`event`] into
//!   rate-limited, serializable match events;
//! - [`LiveTable`] swaps tables atomically while readers go on ([`swap`], with rollback
//!   protection that survives restarts), [`publish`](mod@publish) writes them crash-safely, `c2trie::sign`
//!   (feature `sign`) checks who made them;
//! - [`wfp`] plans Windows Filtering Platform filters for block mode.
//!
//! The [`guide`] walks from a feed file to a logged verdict, with a runnable example per
//! step. The `c2trie` command-line tool is the `c2trie-cli` package; a C library with a
//! header, pkg-config and CMake files is built from the `capi/` directory of the source
//! repository.
//!
//! # Example
//!
//! ```
//! use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
//!
//! let mut compiler = Compiler::new();
//! compiler.list_version(42);
//! compiler.add(List::Global, "198.51.100.0/24".parse()?, "vendor.txt", Meta::tagged("Pikabot"))?;
//! compiler.add(List::Approved, "198.51.100.77/32".parse()?, "approved.txt", Meta::default())?;
//! let table = Table::from_bytes(compiler.to_vec()?)?;
//!
//! let global = table.lookup("198.51.100.1".parse()?).get(List::Global).unwrap();
//! assert_eq!((global.prefix().to_string(), global.tag()), ("198.51.100.0/24".into(), Some("Pikabot")));
//!
//! let policy = Policy::new(Mode::Block, Mode::Block);
//! assert_eq!(policy.decide(&table, "198.51.100.1".parse()?).verdict(), Verdict::Block);
//! assert_eq!(policy.decide(&table, "198.51.100.77".parse()?).verdict(), Verdict::Allow);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `mmap` | yes | [`Table::map_file`] (memmap2); on Linux, [`Table::read_file`] reads tables of 4 MiB or more, and the compiler keeps its IPv4 duplicate check once it reaches 4 MiB, in memory advised for transparent huge pages |
//! | `serde` | no | serde impls for public types; the JSON feed format |
//! | `gzip` | no | gzip-compressed feeds |
//! | `sign` | no | Ed25519 table signatures (`c2trie::sign`) |
//! | `update` | no | the HTTP(S) update client (`c2trie::update`; implies `sign`) |
//!
//! Errors follow one convention, described in [`error`].
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
#[allow(unsafe_code)] // One of three exceptions: comparing lanes and host slots. See src/lanes.rs.
mod lanes;
#[cfg(feature = "mmap")]
#[allow(unsafe_code)] // Another exception: mapping a file. See src/mmap.rs.
mod mmap;
pub mod policy;
#[allow(unsafe_code)] // The last exception: a prefetch hint. See src/prefetch.rs.
mod prefetch;
pub mod publish;
#[cfg(feature = "sign")]
#[cfg_attr(docsrs, doc(cfg(feature = "sign")))]
pub mod sign;
pub mod swap;
pub mod table;
#[cfg(feature = "update")]
#[cfg_attr(docsrs, doc(cfg(feature = "update")))]
pub mod update;
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

/// The README's examples, run as tests (the README itself is written for the repository).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
