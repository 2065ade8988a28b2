//! Errors, one type per phase: compiling ([`CompileError`]), loading ([`LoadError`]) and
//! swapping or publishing ([`SwapError`]); reading feeds and checking signatures have theirs
//! in their modules ([`FeedError`](crate::feed::FeedError),
//! `c2trie::sign::SignError`, feature `sign`).
//!
//! Every one is built the same way: an opaque struct with a `kind()` (a `Copy` enum to
//! match on) and accessors for what a kind carries (`io_error()`, `load_error()`, ...).
//! Its `Display` is the whole message, the underlying cause included, and
//! [`source`](std::error::Error::source) is `None`, so an error reporter that walks the
//! source chain prints each message once.

use std::fmt;
use std::io;

use crate::compile::Breach;

/// The coarse kind of a [`LoadError`]: enough to choose between re-fetching the list,
/// upgrading the software, and fixing the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// The bytes do not start like a c2trie table.
    NotATable,
    /// A table of a format version this crate does not read.
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// The checksum does not match: the file was damaged after it was written.
    ChecksumMismatch,
    /// The checksum matches but the structure breaks a format invariant.
    Corrupt,
}

#[derive(Debug)]
enum Repr {
    Io(io::Error),
    Format {
        kind: LoadErrorKind,
        invariant: u8,
        detail: String,
    },
}

/// The error for a table that cannot be loaded.
///
/// [`LoadError::kind`] gives the coarse kind; [`LoadError::invariant`] the number of the
/// `FORMAT.md` invariant that failed, for format errors.
#[derive(Debug)]
pub struct LoadError(Repr);

impl LoadError {
    pub(crate) fn io(e: io::Error) -> LoadError {
        LoadError(Repr::Io(e))
    }

    pub(crate) fn format(kind: LoadErrorKind, invariant: u8, detail: String) -> LoadError {
        LoadError(Repr::Format {
            kind,
            invariant,
            detail,
        })
    }

    /// The coarse kind.
    pub fn kind(&self) -> LoadErrorKind {
        match &self.0 {
            Repr::Io(_) => LoadErrorKind::Io,
            Repr::Format { kind, .. } => *kind,
        }
    }

    /// For [`LoadErrorKind::Io`], the I/O error.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.0 {
            Repr::Io(e) => Some(e),
            Repr::Format { .. } => None,
        }
    }

    /// The number of the format invariant (`FORMAT.md`, "Invariants") that the bytes
    /// break; `None` for I/O errors.
    pub fn invariant(&self) -> Option<u8> {
        match &self.0 {
            Repr::Io(_) => None,
            Repr::Format { invariant, .. } => Some(*invariant),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Io(e) => write!(f, "cannot read table: {e}"),
            Repr::Format {
                kind: LoadErrorKind::NotATable,
                invariant,
                detail,
            } => {
                write!(f, "not a c2trie table (invariant {invariant}): {detail}")
            }
            Repr::Format {
                kind: LoadErrorKind::UnsupportedVersion { found },
                ..
            } => write!(
                f,
                "unsupported table format version {found} (this build reads {:?}); \
                 recompile the feeds with this version's compiler",
                crate::format::SUPPORTED_VERSIONS
            ),
            Repr::Format {
                kind: LoadErrorKind::ChecksumMismatch,
                invariant,
                detail,
            } => {
                write!(
                    f,
                    "table checksum mismatch (invariant {invariant}): {detail}"
                )
            }
            Repr::Format {
                invariant, detail, ..
            } => {
                write!(f, "corrupt table (invariant {invariant}): {detail}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// The error for input the compiler cannot turn into a table.
#[derive(Debug)]
pub struct CompileError {
    kind: CompileErrorKind,
    message: String,
    source: Option<io::Error>,
    breaches: Vec<Breach>,
}

/// The coarse kind of a [`CompileError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileErrorKind {
    /// An entry or its metadata is invalid.
    Invalid,
    /// The input exceeds a format or configured limit.
    TooLarge,
    /// Writing the output failed.
    Io,
    /// Entries break the poisoned-feed guards ([`Limits`](crate::compile::Limits)); see
    /// [`CompileError::breaches`].
    Limit,
}

impl CompileError {
    pub(crate) fn invalid(message: String) -> CompileError {
        CompileError {
            kind: CompileErrorKind::Invalid,
            message,
            source: None,
            breaches: Vec::new(),
        }
    }

    pub(crate) fn limits(breaches: Vec<Breach>) -> CompileError {
        /// How many breaches the message spells out; the rest are counted.
        const SHOWN: usize = 10;
        let mut message = format!(
            "{} entr{} break{} the poisoned-feed limits:",
            breaches.len(),
            if breaches.len() == 1 { "y" } else { "ies" },
            if breaches.len() == 1 { "s" } else { "" }
        );
        for b in breaches.iter().take(SHOWN) {
            message.push_str("\n  ");
            message.push_str(&b.to_string());
        }
        if breaches.len() > SHOWN {
            message.push_str(&format!("\n  … and {} more", breaches.len() - SHOWN));
        }
        CompileError {
            kind: CompileErrorKind::Limit,
            message,
            source: None,
            breaches,
        }
    }

    pub(crate) fn too_large(message: &str) -> CompileError {
        CompileError {
            kind: CompileErrorKind::TooLarge,
            message: message.to_owned(),
            source: None,
            breaches: Vec::new(),
        }
    }

    pub(crate) fn io(e: io::Error) -> CompileError {
        CompileError {
            kind: CompileErrorKind::Io,
            message: e.to_string(),
            source: Some(e),
            breaches: Vec::new(),
        }
    }

    /// The coarse kind.
    pub fn kind(&self) -> CompileErrorKind {
        self.kind
    }

    /// For [`CompileErrorKind::Io`], the I/O error.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }

    /// For [`CompileErrorKind::Limit`], every entry that breaks a limit; empty otherwise.
    pub fn breaches(&self) -> &[Breach] {
        &self.breaches
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

/// The coarse kind of a [`SwapError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwapErrorKind {
    /// The offered table's `list_version` is not newer than the one in service (or already
    /// published): a stale or replayed list.
    Rollback,
    /// The offered file or bytes are not a valid table.
    Load,
    /// Writing, syncing or renaming a published file (or the version record) failed.
    Io,
    /// The offered table's `list_version` lies further above the accepted one than the
    /// [`VersionState`](crate::swap::VersionState)'s jump limit allows.
    VersionJump,
}

#[derive(Debug)]
enum SwapRepr {
    Rollback {
        current: u64,
        offered: u64,
        table: Option<Box<crate::Table>>,
    },
    Load(LoadError),
    Io {
        what: String,
        source: io::Error,
        published: bool,
    },
    Jump {
        accepted: u64,
        offered: u64,
        max: u64,
        table: Option<Box<crate::Table>>,
    },
}

/// The error for a table that was not put in service or not published.
///
/// In every case the table in service before the call is still in service.
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, SwapErrorKind, Table};
/// use c2trie::swap::{FailMode, LiveTable};
///
/// let table = |v| Table::from_bytes(Compiler::new().list_version(v).to_vec().unwrap());
/// let live = LiveTable::new(table(5)?, FailMode::Closed);
/// let err = live.replace(table(4)?).unwrap_err();
/// assert_eq!(err.kind(), SwapErrorKind::Rollback);
/// assert_eq!(err.versions(), Some((5, 4)));
/// // The refused table comes back, for an operator who really means it.
/// live.force_replace(err.into_table().unwrap())?;
/// assert_eq!(live.list_version(), Some(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SwapError(SwapRepr);

impl SwapError {
    pub(crate) fn rollback(current: u64, offered: u64, table: Option<crate::Table>) -> SwapError {
        SwapError(SwapRepr::Rollback {
            current,
            offered,
            table: table.map(Box::new),
        })
    }

    pub(crate) fn jump(
        accepted: u64,
        offered: u64,
        max: u64,
        table: Option<crate::Table>,
    ) -> SwapError {
        SwapError(SwapRepr::Jump {
            accepted,
            offered,
            max,
            table: table.map(Box::new),
        })
    }

    pub(crate) fn load(e: LoadError) -> SwapError {
        SwapError(SwapRepr::Load(e))
    }

    pub(crate) fn io(what: String, source: io::Error) -> SwapError {
        SwapError(SwapRepr::Io {
            what,
            source,
            published: false,
        })
    }

    /// An error after the new file was renamed into place (syncing its directory).
    pub(crate) fn io_after_publish(what: String, source: io::Error) -> SwapError {
        SwapError(SwapRepr::Io {
            what,
            source,
            published: true,
        })
    }

    /// Whether the new table was already in place when this error happened: a publish
    /// whose rename succeeded but whose directory sync failed. Readers opening the path now
    /// get the new table; after a power cut the file system may bring back the old one.
    /// For every other error the previous file is untouched.
    pub fn is_published(&self) -> bool {
        matches!(
            self.0,
            SwapRepr::Io {
                published: true,
                ..
            }
        )
    }

    /// The coarse kind.
    pub fn kind(&self) -> SwapErrorKind {
        match &self.0 {
            SwapRepr::Rollback { .. } => SwapErrorKind::Rollback,
            SwapRepr::Load(_) => SwapErrorKind::Load,
            SwapRepr::Io { .. } => SwapErrorKind::Io,
            SwapRepr::Jump { .. } => SwapErrorKind::VersionJump,
        }
    }

    /// For a rollback or a version jump: the `list_version` in service, published or
    /// accepted, and the one offered.
    pub fn versions(&self) -> Option<(u64, u64)> {
        match &self.0 {
            SwapRepr::Rollback {
                current, offered, ..
            } => Some((*current, *offered)),
            SwapRepr::Jump {
                accepted, offered, ..
            } => Some((*accepted, *offered)),
            _ => None,
        }
    }

    /// For [`SwapErrorKind::Io`], the I/O error.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.0 {
            SwapRepr::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// For a load failure: the [`LoadError`].
    pub fn load_error(&self) -> Option<&LoadError> {
        match &self.0 {
            SwapRepr::Load(e) => Some(e),
            _ => None,
        }
    }

    /// The refused table, by reference (see [`SwapError::into_table`]).
    pub fn table(&self) -> Option<&crate::Table> {
        match &self.0 {
            SwapRepr::Rollback { table, .. } | SwapRepr::Jump { table, .. } => table.as_deref(),
            _ => None,
        }
    }

    /// The refused table, when a [`LiveTable::replace`](crate::swap::LiveTable::replace)
    /// was refused as a rollback: pass it to
    /// [`force_replace`](crate::swap::LiveTable::force_replace) to put it in service anyway.
    pub fn into_table(self) -> Option<crate::Table> {
        match self.0 {
            SwapRepr::Rollback { table, .. } | SwapRepr::Jump { table, .. } => table.map(|t| *t),
            _ => None,
        }
    }
}

impl fmt::Display for SwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SwapRepr::Rollback {
                current, offered, ..
            } => write!(
                f,
                "refused table with list_version {offered}: not newer than {current}"
            ),
            SwapRepr::Load(e) => write!(f, "table not swapped in: {e}"),
            SwapRepr::Io { what, source, .. } => write!(f, "{what}: {source}"),
            SwapRepr::Jump {
                accepted,
                offered,
                max,
                ..
            } => write!(
                f,
                "refused table with list_version {offered}: more than {max} above the \
                 accepted {accepted}"
            ),
        }
    }
}

impl std::error::Error for SwapError {}
