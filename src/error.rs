//! Errors, one type per phase: compiling ([`CompileError`]) and loading ([`LoadError`]).

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
                "unsupported table format version {found} (this build reads {:?})",
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

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Repr::Io(e) => Some(e),
            Repr::Format { .. } => None,
        }
    }
}

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

impl std::error::Error for CompileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}
