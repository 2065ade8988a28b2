//! Authenticity: Ed25519 signatures over compiled tables (feature `sign`).
//!
//! The checksum in a table catches damage, not forgery: anyone who can write the file can
//! write a valid checksum. When the delivery channel is not trusted, the vendor signs each
//! compiled table with a secret key and the product verifies the signature against the
//! public keys it trusts **before** the table is put in service.
//!
//! A signature is detached: `TABLE.sig` beside `TABLE`, one line of text,
//!
//! ```text
//! c2trie-ed25519-v1 <key id: 16 hex digits> <signature: 128 hex digits>
//! ```
//!
//! The signed message is the domain tag `c2trie table signature v1\0` followed by the
//! table's length (8 bytes, little endian) and the SHA-512 digest of all its bytes, so the
//! signature covers everything in the table, including its `list_version` (which is what
//! rollback protection compares) and its checksum.
//!
//! A signature may also carry a **not-after time** ([`SecretKey::sign_table_until`]):
//!
//! ```text
//! c2trie-ed25519-v2 <key id> <not-after: seconds since the Unix epoch> <signature>
//! ```
//!
//! Its message is the domain tag `c2trie table signature v2\0`, the length and the digest
//! as above, then the not-after time (8 bytes, little endian). After that time the table is
//! refused ([`SignErrorKind::Expired`]): whoever withholds updates cannot keep an agent on an
//! old list past it. [`TrustedKeys::require_not_after`] refuses `v1` signatures. The key id is the first 8 bytes of the
//! SHA-512 digest of the public key; it only names the key in messages, it is not trusted.
//!
//! Key files hold the 32-byte key as 64 hex digits or as base64, on one line; lines that
//! start with `#` are comments.
//!
//! # Example
//!
//! ```
//! use c2trie::sign::{SecretKey, TrustedKeys};
//! use c2trie::{Compiler, List, Meta};
//!
//! let mut c = Compiler::new();
//! c.list_version(5).add(List::Global, "192.0.2.0/24".parse()?, "c2.txt", Meta::default())?;
//! let bytes = c.to_vec()?;
//!
//! let key = SecretKey::generate()?;
//! let sig = key.sign_table(&bytes);
//!
//! let mut trusted = TrustedKeys::new();
//! trusted.add(key.public_key());
//! let table = trusted.load_table(bytes.clone(), &sig.to_string())?;
//! assert_eq!(table.list_version(), 5);
//!
//! // One changed byte and the signature no longer holds.
//! let mut tampered = bytes;
//! tampered[100] ^= 1;
//! assert!(trusted.load_table(tampered, &sig.to_string()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # With a live handle
//!
//! Verify, then swap: [`TrustedKeys::read_table`] reads `TABLE` and `TABLE.sig`, refuses an
//! unsigned or badly signed table, validates it, and returns a [`Table`] for
//! [`LiveTable::replace`](crate::swap::LiveTable::replace), which then applies rollback
//! protection:
//!
//! ```no_run
//! use c2trie::sign::{PublicKey, TrustedKeys};
//! use c2trie::swap::{FailMode, LiveTable};
//!
//! let mut trusted = TrustedKeys::new();
//! trusted.add(PublicKey::read_file("/etc/product/vendor.pub")?);
//! let live = LiveTable::empty(FailMode::Closed);
//! let table = trusted.read_table("/var/lib/product/table.c2t")?;
//! live.replace(table)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Use this instead of [`LiveTable::reload`](crate::swap::LiveTable::reload) wherever
//! signatures are required: `reload` checks integrity and version, not origin.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sha2::{Digest as _, Sha512};

use crate::error::LoadError;
use crate::table::Table;

/// The first token of a signature line without an expiry.
const SIG_TAG: &str = "c2trie-ed25519-v1";

/// The first token of a signature line with a not-after time.
const SIG_TAG_V2: &str = "c2trie-ed25519-v2";
/// The domain separator at the start of every signed message without an expiry.
const DOMAIN: &[u8] = b"c2trie table signature v1\0";

/// The domain separator of a signed message with a not-after time.
const DOMAIN_V2: &[u8] = b"c2trie table signature v2\0";

/// Why a key, a signature or a signed table was refused ([`SignError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignErrorKind {
    /// A key file's text is not a 32-byte key in hex or base64.
    BadKey,
    /// A signature's text is not a well-formed signature line.
    BadSignature,
    /// The table has no signature (its `.sig` file does not exist; [`SignError::path`]).
    Unsigned,
    /// No trusted key verifies the signature: the table was changed after signing, or was
    /// signed by a key that is not trusted ([`SignError::key_id`] names the key the
    /// signature claims).
    Untrusted,
    /// [`TrustedKeys`] holds no key, so nothing can verify.
    NoTrustedKeys,
    /// Reading a file failed ([`SignError::io_error`]).
    Io,
    /// The signature holds but the bytes are not a valid table ([`SignError::load_error`]).
    Load,
    /// The system's random number generator failed (key generation).
    Random,
    /// The signature holds, but its not-after time has passed: a withheld or replayed old
    /// table.
    Expired {
        /// The signed not-after time (seconds since the Unix epoch).
        not_after: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// The signature has no not-after time, and [`TrustedKeys::require_not_after`] asks for
    /// one.
    NoExpiry,
}

/// The error for a key, a signature or a signed table that was refused.
///
/// Its `Display` is the whole message, cause included; [`source`](std::error::Error::source)
/// is `None`. [`SignError::kind`] and the accessors give the parts.
#[derive(Debug)]
pub struct SignError(Repr);

#[derive(Debug)]
enum Repr {
    BadKey(String),
    BadSignature(String),
    Unsigned { path: PathBuf },
    Untrusted { key_id: String },
    NoTrustedKeys,
    Io(io::Error),
    Load(LoadError),
    Random(String),
    Expired { not_after: u64, now: u64 },
    NoExpiry,
}

impl From<Repr> for SignError {
    fn from(r: Repr) -> SignError {
        SignError(r)
    }
}

impl SignError {
    /// What went wrong.
    pub fn kind(&self) -> SignErrorKind {
        match &self.0 {
            Repr::BadKey(_) => SignErrorKind::BadKey,
            Repr::BadSignature(_) => SignErrorKind::BadSignature,
            Repr::Unsigned { .. } => SignErrorKind::Unsigned,
            Repr::Untrusted { .. } => SignErrorKind::Untrusted,
            Repr::NoTrustedKeys => SignErrorKind::NoTrustedKeys,
            Repr::Io(_) => SignErrorKind::Io,
            Repr::Load(_) => SignErrorKind::Load,
            Repr::Random(_) => SignErrorKind::Random,
            Repr::Expired { not_after, now } => SignErrorKind::Expired {
                not_after: *not_after,
                now: *now,
            },
            Repr::NoExpiry => SignErrorKind::NoExpiry,
        }
    }

    /// For [`SignErrorKind::Untrusted`], the key id the signature names (not itself
    /// trusted).
    pub fn key_id(&self) -> Option<&str> {
        match &self.0 {
            Repr::Untrusted { key_id } => Some(key_id),
            _ => None,
        }
    }

    /// For [`SignErrorKind::Unsigned`], the signature file that was looked for.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Unsigned { path } => Some(path),
            _ => None,
        }
    }

    /// For [`SignErrorKind::Io`], the I/O error.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.0 {
            Repr::Io(e) => Some(e),
            _ => None,
        }
    }

    /// For [`SignErrorKind::Load`], why the signed bytes are not a valid table.
    pub fn load_error(&self) -> Option<&LoadError> {
        match &self.0 {
            Repr::Load(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::BadKey(why) => write!(f, "bad key: {why}"),
            Repr::BadSignature(why) => write!(f, "bad signature: {why}"),
            Repr::Unsigned { path } => {
                write!(f, "table is not signed ({} not found)", path.display())
            }
            Repr::Untrusted { key_id } => write!(
                f,
                "signature does not verify with any trusted key (it names key {key_id}): \
                 the table was changed after signing or signed by an untrusted key"
            ),
            Repr::NoTrustedKeys => f.write_str("no trusted public key is configured"),
            Repr::Io(e) => write!(f, "{e}"),
            Repr::Load(e) => write!(f, "{e}"),
            Repr::Random(e) => write!(f, "no randomness for a key: {e}"),
            Repr::Expired { not_after, now } => write!(
                f,
                "signature expired: valid until {} (unix {not_after}), now {} (unix {now})",
                date(*not_after),
                date(*now)
            ),
            Repr::NoExpiry => f.write_str(
                "signature has no not-after time (c2trie-ed25519-v1) and one is required",
            ),
        }
    }
}

impl std::error::Error for SignError {}

/// An RFC 3339 date for seconds since the epoch (`?` past what the clock type holds).
fn date(secs: u64) -> String {
    std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_secs(secs))
        .map_or_else(|| "?".to_owned(), crate::event::rfc3339)
}

/// Decodes a 32-byte key from a key file's text: hex or base64, `#` comment lines allowed.
fn key_bytes(text: &str) -> Result<[u8; 32], SignError> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let bytes = if body.len() == 64 && body.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex_decode(&body)
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| Repr::BadKey(format!("neither 64 hex digits nor base64 ({e})")))?
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| Repr::BadKey(format!("{} bytes, expected 32", bytes.len())).into())
}

fn hex_decode(s: &str) -> Vec<u8> {
    // Callers check that `s` is ASCII hex of even length.
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| {
            let n = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            (n(p[0]) << 4) | n(p[1])
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The message a signature covers: with a not-after time, the v2 domain and the time
/// (8 bytes, little endian) after the digest.
fn message(table: &[u8], not_after: Option<u64>) -> Vec<u8> {
    let digest = Sha512::digest(table);
    let mut m = Vec::with_capacity(DOMAIN_V2.len() + 16 + digest.len());
    m.extend_from_slice(if not_after.is_some() {
        DOMAIN_V2
    } else {
        DOMAIN
    });
    m.extend_from_slice(&(table.len() as u64).to_le_bytes());
    m.extend_from_slice(&digest);
    if let Some(t) = not_after {
        m.extend_from_slice(&t.to_le_bytes());
    }
    m
}

/// A public key: verifies signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl PublicKey {
    /// Parses a public key file's text (hex or base64).
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::BadKey`] when the text is not a valid Ed25519 public key.
    pub fn from_text(text: &str) -> Result<PublicKey, SignError> {
        let b = key_bytes(text)?;
        ed25519_dalek::VerifyingKey::from_bytes(&b)
            .map(PublicKey)
            .map_err(|e| SignError::from(Repr::BadKey(e.to_string())))
    }

    /// Reads a public key file.
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::Io`] or [`SignErrorKind::BadKey`].
    pub fn read_file(path: impl AsRef<Path>) -> Result<PublicKey, SignError> {
        PublicKey::from_text(
            &std::fs::read_to_string(path).map_err(|e| SignError::from(Repr::Io(e)))?,
        )
    }

    /// The key as 64 hex digits (the key file format).
    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// The key's id: the first 8 bytes of SHA-512 of the key, as hex.
    pub fn key_id(&self) -> String {
        hex(&Sha512::digest(self.0.as_bytes())[..8])
    }

    /// Checks `sig` over `table`.
    fn verifies(&self, table_message: &[u8], sig: &Signature) -> bool {
        self.0
            .verify_strict(
                table_message,
                &ed25519_dalek::Signature::from_bytes(&sig.sig),
            )
            .is_ok()
    }
}

/// A secret key: signs tables. Its bytes are wiped from memory when it is dropped.
pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key().key_id())
    }
}

impl SecretKey {
    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::Random`] when the system has no randomness to give.
    pub fn generate() -> Result<SecretKey, SignError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SignError::from(Repr::Random(e.to_string())))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(SecretKey(key))
    }

    /// Parses a secret key file's text (the 32-byte seed, hex or base64).
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::BadKey`].
    pub fn from_text(text: &str) -> Result<SecretKey, SignError> {
        Ok(SecretKey(ed25519_dalek::SigningKey::from_bytes(
            &key_bytes(text)?,
        )))
    }

    /// Reads a secret key file.
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::Io`] or [`SignErrorKind::BadKey`].
    pub fn read_file(path: impl AsRef<Path>) -> Result<SecretKey, SignError> {
        SecretKey::from_text(
            &std::fs::read_to_string(path).map_err(|e| SignError::from(Repr::Io(e)))?,
        )
    }

    /// The key as 64 hex digits (the key file format). Handle with care.
    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a compiled table's bytes, with no expiry (`c2trie-ed25519-v1`).
    pub fn sign_table(&self, table: &[u8]) -> Signature {
        Signature {
            key_id: self.public_key().key_id(),
            sig: self.0.sign(&message(table, None)).to_bytes(),
            not_after: None,
        }
    }

    /// Signs a compiled table's bytes together with a not-after time (seconds since the
    /// Unix epoch; `c2trie-ed25519-v2`): after it, [`TrustedKeys::verify`] refuses the
    /// table, so an attacker who withholds updates cannot keep serving an old list forever.
    pub fn sign_table_until(&self, table: &[u8], not_after: u64) -> Signature {
        Signature {
            key_id: self.public_key().key_id(),
            sig: self.0.sign(&message(table, Some(not_after))).to_bytes(),
            not_after: Some(not_after),
        }
    }
}

/// A detached signature over a table; [`fmt::Display`] and [`Signature::from_text`] give
/// and read the one-line `.sig` file format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    key_id: String,
    sig: [u8; 64],
    not_after: Option<u64>,
}

impl Signature {
    /// Parses a signature line (surrounding whitespace and `#` comment lines ignored).
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::BadSignature`].
    pub fn from_text(text: &str) -> Result<Signature, SignError> {
        let bad = |why: &str| SignError::from(Repr::BadSignature(why.to_owned()));
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or_else(|| bad("empty"))?;
        let mut parts = line.split_ascii_whitespace();
        let not_after = match parts.next() {
            Some(SIG_TAG) => None,
            Some(SIG_TAG_V2) => {
                let t = parts
                    .nth(1)
                    .ok_or_else(|| bad("expected a not-after time"))?;
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the not-after time is not a number of seconds"));
                }
                Some(
                    t.parse::<u64>()
                        .map_err(|_| bad("the not-after time is too large"))?,
                )
            }
            _ => {
                return Err(bad(
                    "does not start with c2trie-ed25519-v1 or c2trie-ed25519-v2",
                ));
            }
        };
        // Again from the start: the key id comes before the time.
        let mut parts = line.split_ascii_whitespace().skip(1);
        let key_id = parts.next();
        if not_after.is_some() {
            parts.next();
        }
        let (Some(key_id), Some(sig), None) = (key_id, parts.next(), parts.next()) else {
            return Err(bad("expected a key id and a signature"));
        };
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex(key_id, 16) || !is_hex(sig, 128) {
            return Err(bad("key id or signature is not hex of the right length"));
        }
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(&hex_decode(sig));
        Ok(Signature {
            key_id: key_id.to_ascii_lowercase(),
            sig: bytes,
            not_after,
        })
    }

    /// The id of the key the signature says it was made with (a hint, not trusted).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signed not-after time, if the signature has one (trusted only once
    /// [`TrustedKeys::verify`] accepts the signature).
    pub fn not_after(&self) -> Option<u64> {
        self.not_after
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.not_after {
            None => write!(f, "{SIG_TAG} {} {}", self.key_id, hex(&self.sig)),
            Some(t) => write!(f, "{SIG_TAG_V2} {} {t} {}", self.key_id, hex(&self.sig)),
        }
    }
}

/// The signature file of a table: `TABLE.sig` beside `TABLE`.
pub fn signature_path(table: impl AsRef<Path>) -> PathBuf {
    let mut p = table.as_ref().as_os_str().to_owned();
    p.push(".sig");
    PathBuf::from(p)
}

/// The public keys a product trusts. A table is accepted when any of them verifies its
/// signature (several keys allow rotation).
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
    require_not_after: bool,
}

impl TrustedKeys {
    /// No key yet: every table is refused until one is added.
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Trusts `key`.
    pub fn add(&mut self, key: PublicKey) -> &mut TrustedKeys {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
        self
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Refuse signatures without a not-after time ([`SecretKey::sign_table_until`]), once
    /// the publisher signs every table with one: an old `v1` signature can then not be
    /// replayed to pin an old list. Off by default.
    pub fn require_not_after(&mut self, on: bool) -> &mut TrustedKeys {
        self.require_not_after = on;
        self
    }

    /// Checks `sig` over `table` (the table's bytes) against the current time; does not
    /// validate the table.
    ///
    /// # Errors
    ///
    /// As [`TrustedKeys::verify_at`].
    pub fn verify(&self, table: &[u8], sig: &Signature) -> Result<(), SignError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_at(table, sig, now)
    }

    /// Checks `sig` over `table` as of `now` (seconds since the Unix epoch): a trusted key
    /// verifies it, and its not-after time, if any, is not before `now`.
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::NoTrustedKeys`], [`SignErrorKind::Untrusted`], [`SignErrorKind::Expired`], or
    /// [`SignErrorKind::NoExpiry`] under [`TrustedKeys::require_not_after`].
    pub fn verify_at(&self, table: &[u8], sig: &Signature, now: u64) -> Result<(), SignError> {
        if self.keys.is_empty() {
            return Err(Repr::NoTrustedKeys.into());
        }
        let m = message(table, sig.not_after);
        if !self.keys.iter().any(|k| k.verifies(&m, sig)) {
            return Err(SignError::from(Repr::Untrusted {
                key_id: sig.key_id.clone(),
            }));
        }
        match sig.not_after {
            Some(not_after) if now > not_after => Err(Repr::Expired { not_after, now }.into()),
            None if self.require_not_after => Err(Repr::NoExpiry.into()),
            _ => Ok(()),
        }
    }

    /// Verifies the signature text `sig` over `bytes`, then validates the bytes as a table.
    ///
    /// # Errors
    ///
    /// As [`TrustedKeys::verify`] and [`Signature::from_text`]; [`SignErrorKind::Load`] when the
    /// signed bytes are not a valid table.
    pub fn load_table(&self, bytes: Vec<u8>, sig: &str) -> Result<Table, SignError> {
        self.verify(&bytes, &Signature::from_text(sig)?)?;
        Table::from_bytes(bytes).map_err(|e| Repr::Load(e).into())
    }

    /// Reads `path` and its signature file ([`signature_path`]), verifies, validates.
    /// The file is read once into memory, so what is verified is what is served.
    ///
    /// # Errors
    ///
    /// [`SignErrorKind::Unsigned`] when the signature file does not exist; otherwise as
    /// [`TrustedKeys::load_table`], or [`SignErrorKind::Io`].
    pub fn read_table(&self, path: impl AsRef<Path>) -> Result<Table, SignError> {
        let path = path.as_ref();
        let sig_path = signature_path(path);
        let sig = match std::fs::read_to_string(&sig_path) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Repr::Unsigned { path: sig_path }.into());
            }
            Err(e) => return Err(Repr::Io(e).into()),
        };
        let bytes = std::fs::read(path).map_err(|e| SignError::from(Repr::Io(e)))?;
        self.load_table(bytes, &sig)
    }
}
