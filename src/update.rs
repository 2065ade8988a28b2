//! Signed-table updates over HTTP(S) (feature `update`).
//!
//! An [`Updater`] fetches a compiled table from a URL and its detached signature from the
//! same URL plus `.sig`, from any static HTTP server or CDN, and accepts it only when all of
//! these hold:
//!
//! - a [trusted key](TrustedKeys) verifies the signature, and its signed not-after time,
//!   if any, has not passed;
//! - the bytes are a valid table (every invariant of the format);
//! - its `list_version` is newer than the highest version accepted before, as persisted in
//!   a [`VersionState`] (`DIR/state`), so a replayed older table is refused after a
//!   restart too; the same version is accepted again only as the very same table;
//! - it arrived whole, within the size cap and the timeouts.
//!
//! Then the version record is raised, and the table is published crash-safely in the state
//! directory with [`publish_versioned`](crate::publish::publish_versioned)
//! (`DIR/lists.N.c2t`, its signature `DIR/lists.N.c2t.sig`, the pointer
//! `DIR/lists.current`), under the lock `publish_versioned` takes, so that two updaters of
//! one directory take turns; and, if a [`LiveTable`] is attached, the table is put in
//! service before [`Updater::check_once`] returns [`Outcome::Updated`].
//!
//! # What a refusal changes
//!
//! Anything refused leaves the state directory as it was, with one exception: when the
//! version record was raised and publishing the table after it failed (a disk error), the
//! refusal is [`RefusalKind::Io`] and the record is ahead of the pointer, which still names
//! the previous table. The next check completes that publish (the pointer never names a
//! table the record does not hold, and a rollback to below the record stays refused).
//!
//! # Conditional requests and signatures that expire
//!
//! Requests are conditional: the `ETag` and `Last-Modified` of the last accepted download
//! are kept in `DIR/http-meta` and sent back as `If-None-Match` and `If-Modified-Since`, so
//! an unchanged list costs one small request and a `304 Not Modified`. A `304` is a success
//! only while the published table's signature (`DIR/lists.N.c2t.sig`) still verifies now:
//! once its signed not-after time has passed, the check fetches `URL.sig` (a vendor that
//! signs the same table anew changes only the signature), stores it if it holds, and
//! otherwise is refused as [`RefusalKind::Expired`], so the runner backs off and signals a
//! stale list rather than reporting an expired list as current. A `304` while the pointer
//! or the published file is missing or damaged downloads the table again and restores it.
//! Bodies may arrive gzip-compressed. Redirects are followed to the same scheme or from
//! http to https, never from https to http, and never to a URL with credentials
//! (`user:password@`), which the configured URL may not have either.
//!
//! The state directory's small files (`DIR/lists.current`, `DIR/http-meta`, signatures)
//! are read only when they are regular files, and only up to a small size.
//!
//! [`Updater::run`] and [`Updater::spawn`] check periodically, with jitter, exponential
//! backoff after failures, and a stale signal when no check has succeeded for a while.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use c2trie::sign::{PublicKey, TrustedKeys};
//! use c2trie::swap::{FailMode, LiveTable};
//! use c2trie::update::{Outcome, Updater};
//!
//! let mut keys = TrustedKeys::new();
//! keys.add(PublicKey::read_file("/etc/product/vendor.pub")?);
//! let live = Arc::new(LiveTable::empty(FailMode::Open));
//! let mut updater = Updater::new("https://lists.example.com/c2.c2t", keys, "/var/lib/product/lists")?;
//! updater.serve(Arc::clone(&live))?; // the table published before, if any, serves now
//! match updater.check_once() {
//!     Outcome::Updated(u) => println!("list version {:?} -> {}", u.from, u.to),
//!     Outcome::NotModified | Outcome::Current { .. } => {}
//!     Outcome::Refused(why) => eprintln!("update refused: {why}"),
//!     _ => {}
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::{Uri, header};

use crate::SwapErrorKind;
use crate::error::SwapError;
use crate::publish::{self, pointer_path};
use crate::sign::{SignError, SignErrorKind, Signature, TrustedKeys, signature_path};
use crate::swap::{Accepted, LiveTable, VersionState};
use crate::table::Table;

mod http;
mod meta;
mod run;

pub use run::{Event, MIN_INTERVAL, Runner, Schedule, StopHandle};

use meta::Meta;

/// The default cap on a table's size: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// A signature file larger than this is refused (one line of about 170 bytes is expected).
const MAX_SIG_BYTES: u64 = 4096;

/// The longest timeout and schedule interval: one year. Longer ones are clamped to it
/// (they could not be added to a point in time); shorter than anyone would wait anyway.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// The version record's file name in the state directory.
pub const STATE_FILE: &str = "state";

/// The HTTP metadata file's name in the state directory.
pub const META_FILE: &str = "http-meta";

/// What one [`Updater::check_once`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The server answered `304 Not Modified` to the conditional request, and a trusted
    /// signature over the published table still holds now (the stored one, or a fresh
    /// one from the server, which is then stored); an expired one is
    /// [`RefusalKind::Expired`], not this.
    NotModified,
    /// The server sent the table already accepted (same version, same bytes), e.g. after
    /// its validators changed or after it was signed anew; only the stored validators and,
    /// if it changed, the stored signature were updated.
    Current {
        /// The accepted table's `list_version`.
        list_version: u64,
    },
    /// A new table was verified, published and recorded (and put in service, if a
    /// [`LiveTable`] is attached).
    Updated(Updated),
    /// Nothing was accepted, and the state directory is as it was (with the one exception
    /// described in the [module docs](self#what-a-refusal-changes)).
    Refused(Refusal),
}

impl Outcome {
    /// Whether the check succeeded: the list is known to be current.
    pub fn is_success(&self) -> bool {
        !matches!(self, Outcome::Refused(_))
    }
}

/// A table accepted by [`Updater::check_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Updated {
    /// The `list_version` accepted before, if any.
    pub from: Option<u64>,
    /// The new table's `list_version`.
    pub to: u64,
    /// The published table file (`DIR/STEM.N.c2t`; its signature is beside it).
    pub path: PathBuf,
    /// The table's size in bytes.
    pub bytes: u64,
    /// The attached [`LiveTable`]'s generation now serving the table, if one is attached.
    pub generation: Option<u64>,
}

/// Why a check accepted nothing ([`Refusal::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// The signature is missing, malformed, or no trusted key verifies it.
    Signature,
    /// The signature holds but its signed not-after time has passed.
    Expired,
    /// The table's `list_version` is older than the accepted one, or equal to it with other
    /// bytes ([`Refusal::versions`]: accepted, offered).
    Rollback,
    /// The table's `list_version` lies further above the accepted one than the jump limit
    /// ([`Updater::max_jump`]) allows.
    VersionJump,
    /// The signed bytes are not a valid table.
    InvalidTable,
    /// The table (or its signature) is larger than the cap ([`Updater::max_bytes`]).
    TooLarge,
    /// The server answered with an unexpected status ([`Refusal::status`]).
    HttpStatus,
    /// A redirect was refused: https to http, too many, or without a usable location.
    Redirect,
    /// Connecting, a read, or the whole check took too long.
    Timeout,
    /// The connection failed or closed early (a truncated body), TLS failed, or the
    /// response was not valid HTTP.
    Network,
    /// Reading or writing the state directory failed.
    Io,
}

/// Why a check accepted nothing: the kind and a message naming the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    kind: RefusalKind,
    message: String,
    versions: Option<(u64, u64)>,
    status: Option<u16>,
}

impl Refusal {
    fn new(kind: RefusalKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
            versions: None,
            status: None,
        }
    }

    fn io(what: impl fmt::Display, e: impl fmt::Display) -> Refusal {
        Refusal::new(RefusalKind::Io, format!("{what}: {e}"))
    }

    fn swap(what: &str, e: &SwapError) -> Refusal {
        let kind = match e.kind() {
            SwapErrorKind::Rollback => RefusalKind::Rollback,
            SwapErrorKind::VersionJump => RefusalKind::VersionJump,
            SwapErrorKind::Load => RefusalKind::InvalidTable,
            _ => RefusalKind::Io,
        };
        Refusal {
            versions: e.versions(),
            ..Refusal::new(kind, format!("{what}: {e}"))
        }
    }

    /// The kind of refusal.
    pub fn kind(&self) -> RefusalKind {
        self.kind
    }

    /// The message, with the cause (also the `Display` form).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For [`RefusalKind::Rollback`] and [`RefusalKind::VersionJump`]: the accepted and
    /// the offered `list_version`.
    pub fn versions(&self) -> Option<(u64, u64)> {
        self.versions
    }

    /// For [`RefusalKind::HttpStatus`]: the status code.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// What kind of [`UpdateError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateErrorKind {
    /// An argument was refused: the URL, the keys, the stem.
    InvalidInput,
    /// The state directory could not be created, read or written
    /// ([`UpdateError::io_error`] when an I/O error is the cause).
    Io,
}

/// Why an [`Updater`] could not be set up.
///
/// As every error of the crate, its `Display` is the whole message, cause included, and
/// [`source`](std::error::Error::source) is `None`; [`UpdateError::kind`] and
/// [`UpdateError::io_error`] give the parts.
#[derive(Debug)]
pub struct UpdateError {
    message: String,
    source: Option<io::Error>,
    invalid: bool,
}

impl UpdateError {
    fn new(message: impl Into<String>) -> UpdateError {
        UpdateError {
            message: message.into(),
            source: None,
            invalid: false,
        }
    }

    fn invalid(message: impl Into<String>) -> UpdateError {
        UpdateError {
            invalid: true,
            ..UpdateError::new(message)
        }
    }

    /// Whether an argument was refused (the URL, the keys, the stem), as opposed to a
    /// failure of the state directory: `kind() == UpdateErrorKind::InvalidInput`.
    pub fn is_invalid_input(&self) -> bool {
        self.invalid
    }

    /// What kind of error it is.
    pub fn kind(&self) -> UpdateErrorKind {
        if self.invalid {
            UpdateErrorKind::InvalidInput
        } else {
            UpdateErrorKind::Io
        }
    }

    /// The I/O error behind it, if one is.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UpdateError {}

impl From<SwapError> for UpdateError {
    fn from(e: SwapError) -> UpdateError {
        UpdateError::new(e.to_string())
    }
}

/// A progress callback: bytes of the table received so far, and the total when known.
type Progress = Box<dyn FnMut(u64, Option<u64>) + Send>;

/// Fetches, verifies and publishes signed tables from one URL into one state directory
/// (see the [module docs](self)).
///
/// Defaults: the stem `lists`, a 64 MiB cap, 10 s to connect, 30 s per read, 5 minutes for
/// a whole check, 5 redirects, no jump limit, the Mozilla root certificates, and the proxy
/// named by the usual environment variables (`HTTPS_PROXY`, `NO_PROXY`, ...), if any.
pub struct Updater {
    url: Uri,
    sig_url: Uri,
    keys: TrustedKeys,
    dir: PathBuf,
    stem: String,
    max_bytes: u64,
    connect_timeout: Duration,
    read_timeout: Duration,
    timeout: Duration,
    max_redirects: u32,
    max_jump: Option<u64>,
    keep: usize,
    roots: Vec<ureq::tls::Certificate<'static>>,
    agent: Option<ureq::Agent>,
    live: Option<Arc<LiveTable>>,
    progress: Option<Progress>,
}

impl fmt::Debug for Updater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Updater")
            .field("url", &self.url.to_string())
            .field("dir", &self.dir)
            .field("stem", &self.stem)
            .field("max_bytes", &self.max_bytes)
            .field("live", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

impl Updater {
    /// An updater for the table at `url` (its signature at `url` + `.sig`), trusting
    /// `keys`, keeping its files in `dir` (created if missing).
    ///
    /// # Errors
    ///
    /// When `url` is not an absolute `http` or `https` URL naming a file, or has a query,
    /// a fragment or credentials (`user:password@`: they would be stored in `DIR/http-meta`
    /// and printed in messages; [`UpdateError::is_invalid_input`] for these and for empty
    /// `keys`), `keys` is empty, `dir` cannot be created, or the version record `DIR/state`
    /// exists but is damaged (a damaged record is never taken for an empty one: that would
    /// switch rollback protection off).
    pub fn new(
        url: &str,
        keys: TrustedKeys,
        dir: impl AsRef<Path>,
    ) -> Result<Updater, UpdateError> {
        let parsed = http::parse_url(url).map_err(UpdateError::invalid)?;
        let sig_url = http::parse_url(&format!("{url}.sig")).map_err(UpdateError::invalid)?;
        if keys.keys().is_empty() {
            return Err(UpdateError::invalid(
                "no trusted public key: every table would be refused",
            ));
        }
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| UpdateError {
            message: format!("cannot create {}", dir.display()),
            source: Some(e),
            invalid: false,
        })?;
        VersionState::open(dir.join(STATE_FILE))?;
        Ok(Updater {
            url: parsed,
            sig_url,
            keys,
            dir,
            stem: "lists".to_owned(),
            max_bytes: DEFAULT_MAX_BYTES,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(300),
            max_redirects: 5,
            max_jump: None,
            keep: 1,
            roots: Vec::new(),
            agent: None,
            live: None,
            progress: None,
        })
    }

    /// The file name stem of published tables (`STEM.N.c2t`, `STEM.current`); `lists` by
    /// default.
    ///
    /// # Errors
    ///
    /// When `stem` is not a plain file name part (empty, a leading `.`, a path separator,
    /// `:`, a control character, white space at either end).
    pub fn stem(&mut self, stem: &str) -> Result<&mut Updater, UpdateError> {
        let ok = !stem.is_empty()
            && !stem.starts_with('.')
            && stem.trim() == stem
            && !stem.contains(['/', '\\', ':'])
            && !stem.chars().any(char::is_control);
        if !ok {
            return Err(UpdateError::invalid(format!(
                "{stem:?} is not a plain file name part"
            )));
        }
        stem.clone_into(&mut self.stem);
        Ok(self)
    }

    /// Refuse a table larger than `bytes` (checked against `Content-Length` before the
    /// body, and while reading it, whatever the header said).
    pub fn max_bytes(&mut self, bytes: u64) -> &mut Updater {
        self.max_bytes = bytes;
        self
    }

    /// The time allowed to connect (TCP and TLS); at most [`MAX_DURATION`].
    pub fn connect_timeout(&mut self, t: Duration) -> &mut Updater {
        self.connect_timeout = t.min(MAX_DURATION);
        self.agent = None;
        self
    }

    /// The time allowed for each read from the server (a server that stops answering); at
    /// most [`MAX_DURATION`].
    pub fn read_timeout(&mut self, t: Duration) -> &mut Updater {
        self.read_timeout = t.min(MAX_DURATION);
        self.agent = None;
        self
    }

    /// The time allowed for a whole check: both downloads, redirects included (a server
    /// that answers, but too slowly); at most [`MAX_DURATION`].
    pub fn timeout(&mut self, t: Duration) -> &mut Updater {
        self.timeout = t.min(MAX_DURATION);
        self
    }

    /// The most redirects followed per request.
    pub fn max_redirects(&mut self, n: u32) -> &mut Updater {
        self.max_redirects = n;
        self
    }

    /// Refuse a `list_version` more than `max` above the accepted one (see
    /// [`VersionState::set_max_jump`]); `None` (the default): no limit.
    pub fn max_jump(&mut self, max: Option<u64>) -> &mut Updater {
        self.max_jump = max;
        self
    }

    /// How many older published versions to keep besides the current one (1 by default);
    /// older ones and their signatures are removed after an update.
    pub fn keep(&mut self, n: usize) -> &mut Updater {
        self.keep = n;
        self
    }

    /// Trusts the root certificate(s) in `cert` (PEM, one or more certificates, or one
    /// DER certificate) for HTTPS: a private certificate authority. Once a root is added,
    /// **only** the added roots are trusted, not the built-in Mozilla roots, so that a
    /// product pinned to its own authority cannot be served by anyone else's certificate.
    ///
    /// # Errors
    ///
    /// When `cert` holds no certificate.
    pub fn add_root_certificate(&mut self, cert: &[u8]) -> Result<&mut Updater, UpdateError> {
        let mut found = Vec::new();
        if cert.starts_with(b"-----") || cert.iter().take(64).all(|b| b.is_ascii()) {
            for item in ureq::tls::parse_pem(cert) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => found.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(UpdateError::new(format!("bad PEM certificate: {e}"))),
                }
            }
        } else {
            found.push(ureq::tls::Certificate::from_der(cert).to_owned());
        }
        if found.is_empty() {
            return Err(UpdateError::new("no certificate found"));
        }
        self.roots.extend(found);
        self.agent = None;
        Ok(self)
    }

    /// Calls `f` with the bytes of the table received so far and the total, when the
    /// server declared it, during each download (for a progress bar).
    pub fn on_progress(
        &mut self,
        f: impl FnMut(u64, Option<u64>) + Send + 'static,
    ) -> &mut Updater {
        self.progress = Some(Box::new(f));
        self
    }

    /// Attaches `live`: every accepted table is put in service in it
    /// ([`LiveTable::replace`]) before [`Updater::check_once`] returns. If `live` has no
    /// table in service, the table published before (if any) is verified and put in
    /// service now, so a restarted process serves its last list before the first check.
    ///
    /// # Errors
    ///
    /// When the published table cannot be read, does not verify, or is refused by `live`;
    /// `live` is then not attached.
    pub fn serve(&mut self, live: Arc<LiveTable>) -> Result<&mut Updater, Refusal> {
        if live.list_version().is_none()
            && let Some(table) = self.published_table()?
        {
            live.replace(table)
                .map_err(|e| Refusal::swap("cannot serve the published table", &e))?;
        }
        self.live = Some(live);
        Ok(self)
    }

    /// The table currently published in the state directory (the one its pointer names),
    /// verified against the trusted keys; `None` when nothing is published yet.
    ///
    /// # Errors
    ///
    /// When the pointer, the table or its signature cannot be read, or do not verify.
    pub fn published_table(&self) -> Result<Option<Table>, Refusal> {
        let pointer = self.pointer();
        match fs::symlink_metadata(&pointer) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Refusal::io(pointer.display(), e)),
            Ok(_) => {}
        }
        let path =
            publish::resolve_pointer(&pointer).map_err(|e| Refusal::io(pointer.display(), e))?;
        let bytes = publish::read_regular(&path, self.max_bytes)
            .map_err(|e| Refusal::io(path.display(), e))?;
        let sig = read_signature(&signature_path(&path))?;
        self.keys
            .verify(&bytes, &sig)
            .map_err(|e| sign_refusal(path.display(), &e))?;
        Table::from_bytes(bytes).map(Some).map_err(|e| {
            Refusal::new(
                RefusalKind::InvalidTable,
                format!("{}: signed, but not a valid table: {e}", path.display()),
            )
        })
    }

    /// The table URL.
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pointer file naming the current table (`DIR/STEM.current`).
    pub fn pointer(&self) -> PathBuf {
        pointer_path(&self.dir, &self.stem)
    }

    /// The last accepted table, as the version record in the state directory says.
    ///
    /// # Errors
    ///
    /// When the record exists but cannot be read or is damaged.
    pub fn accepted(&self) -> Result<Option<Accepted>, Refusal> {
        Ok(self.state()?.accepted())
    }

    fn state(&self) -> Result<VersionState, Refusal> {
        VersionState::open(self.dir.join(STATE_FILE))
            .map(|s| s.with_max_jump(self.max_jump))
            .map_err(|e| Refusal::new(RefusalKind::Io, e.to_string()))
    }

    fn agent(&mut self) -> ureq::Agent {
        if let Some(a) = &self.agent {
            return a.clone();
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if !self.roots.is_empty() {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&self.roots));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("c2trie/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(self.connect_timeout))
            .timeout_per_read(Some(self.read_timeout))
            .tls_config(tls.build())
            .build()
            .into();
        self.agent = Some(agent.clone());
        agent
    }

    /// Checks the URL once: downloads a new table if there is one, verifies it, publishes
    /// it and puts it in service (see the [module docs](self)). Never panics on anything
    /// the server sends; a refusal leaves the state directory unchanged (with the one
    /// exception in the [module docs](self#what-a-refusal-changes)).
    pub fn check_once(&mut self) -> Outcome {
        match self.try_check() {
            Ok(o) => o,
            Err(r) => Outcome::Refused(r),
        }
    }

    fn try_check(&mut self) -> Result<Outcome, Refusal> {
        let deadline = deadline_after(self.timeout);
        let agent = self.agent();
        let mut state = self.state()?;
        let accepted = state.accepted();
        let meta_path = self.dir.join(META_FILE);
        let url_text = self.url.to_string();
        // Validators only for the table the record holds, fetched from this URL.
        let meta = Meta::read(&meta_path).filter(|m| {
            m.url == url_text && accepted.is_some_and(|a| a.list_version == m.list_version)
        });
        let cond = http::Conditional {
            etag: meta.as_ref().and_then(|m| m.etag.as_deref()),
            last_modified: meta.as_ref().and_then(|m| m.last_modified.as_deref()),
        };
        let conditional = cond.etag.is_some() || cond.last_modified.is_some();
        let (mut resp, mut final_url) =
            http::get(&agent, &self.url, &cond, self.max_redirects, deadline)?;
        if resp.status().as_u16() == 304 && conditional {
            match accepted.and_then(|a| self.local_table(a)) {
                Some((path, table)) => return self.not_modified(&agent, &path, &table, deadline),
                None => {
                    // The published table is not the one the record holds (the pointer or
                    // the file is missing or damaged): download it again to restore it.
                    (resp, final_url) = http::get(
                        &agent,
                        &self.url,
                        &http::Conditional::default(),
                        self.max_redirects,
                        deadline,
                    )?;
                }
            }
        }
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status_refusal(&final_url, status));
        }
        let etag = http::header_text(&resp, header::ETAG).map(str::to_owned);
        let last_modified = http::header_text(&resp, header::LAST_MODIFIED).map(str::to_owned);
        let mut no_progress = |_: u64, _: Option<u64>| {};
        let progress: &mut dyn FnMut(u64, Option<u64>) = match self.progress.as_mut() {
            Some(p) => p,
            None => &mut no_progress,
        };
        let bytes = http::read_body(resp, &final_url, self.max_bytes, progress)?;

        let (sig, _) = self.fetch_signature(&agent, deadline)?;
        self.keys
            .verify(&bytes, &sig)
            .map_err(|e| sign_refusal(&final_url, &e))?;
        let table = Table::from_bytes(bytes).map_err(|e| {
            Refusal::new(
                RefusalKind::InvalidTable,
                format!("{final_url}: signed, but not a valid table: {e}"),
            )
        })?;
        let offered = table.list_version();
        let new_meta = Meta {
            url: url_text,
            list_version: offered,
            etag,
            last_modified,
        };
        let path = self.dir.join(publish::versioned_name(&self.stem, offered));
        let same_as_accepted =
            accepted.is_some_and(|a| a.list_version == offered && a.checksum == table.checksum());
        if let Err(r) = state.admits(&table) {
            let acc = accepted.map_or(0, |a| a.list_version);
            let (kind, detail) = if offered <= acc {
                (RefusalKind::Rollback, "not newer than the accepted table")
            } else {
                (RefusalKind::VersionJump, "too far above the accepted table")
            };
            return Err(Refusal {
                versions: Some((acc, offered)),
                ..Refusal::new(
                    kind,
                    format!("{final_url}: list version {offered} is {detail} ({r})"),
                )
            });
        }
        if let Some(live) = &self.live
            && let Some(serving) = live.list_version()
            && serving > offered
        {
            return Err(Refusal {
                versions: Some((serving, offered)),
                ..Refusal::new(
                    RefusalKind::Rollback,
                    format!(
                        "{final_url}: list version {offered} is older than the {serving} in service"
                    ),
                )
            });
        }
        if same_as_accepted && self.is_published(&path, table.as_bytes()) {
            // The same table, perhaps signed anew (a later not-after time): keep the
            // signature just verified, so that the next 304 finds it.
            self.store_signature(&path, &sig)?;
            new_meta
                .write(&meta_path)
                .map_err(|e| Refusal::io("cannot store the HTTP validators", e))?;
            return Ok(Outcome::Current {
                list_version: offered,
            });
        }

        // Accepted: record, publish (signature first, so the pointer never names an
        // unsigned table), remember the validators, serve.
        let from = accepted
            .map(|a| a.list_version)
            .filter(|v| *v != offered)
            .or_else(|| self.published_version());
        self.publish(&path, &table, &sig, &mut state)?;
        // Losing the validators costs one download next time, nothing else.
        let _ = new_meta.write(&meta_path);
        let generation = match &self.live {
            Some(live) if live.list_version() != Some(offered) => Some(
                live.replace(table)
                    .map_err(|e| Refusal::swap("published, but not put in service", &e))?
                    .generation,
            ),
            Some(live) => Some(live.generation()),
            None => None,
        };
        Ok(Outcome::Updated(Updated {
            from,
            to: offered,
            bytes: fs::metadata(&path).map_or(0, |m| m.len()),
            path,
            generation,
        }))
    }

    /// GETs the signature (small, unconditional) and parses it.
    fn fetch_signature(
        &self,
        agent: &ureq::Agent,
        deadline: Instant,
    ) -> Result<(Signature, Uri), Refusal> {
        let (sig_resp, sig_url) = http::get(
            agent,
            &self.sig_url,
            &http::Conditional::default(),
            self.max_redirects,
            deadline,
        )?;
        let sig_status = sig_resp.status().as_u16();
        if sig_status != 200 {
            let mut r = status_refusal(&sig_url, sig_status);
            if sig_status == 404 {
                r.kind = RefusalKind::Signature;
                r.message = format!("the table is unsigned: {}", r.message);
            }
            return Err(r);
        }
        let sig_bytes = http::read_body(sig_resp, &sig_url, MAX_SIG_BYTES, &mut |_, _| {})?;
        let sig_text = String::from_utf8(sig_bytes)
            .map_err(|_| Refusal::new(RefusalKind::Signature, format!("{sig_url}: not text")))?;
        let sig = Signature::from_text(&sig_text)
            .map_err(|e| Refusal::new(RefusalKind::Signature, format!("{sig_url}: {e}")))?;
        Ok((sig, sig_url))
    }

    /// The table the pointer names, when it is the one the record holds (read under the
    /// size cap and validated); `None` when the pointer or the file is missing or damaged.
    fn local_table(&self, accepted: Accepted) -> Option<(PathBuf, Table)> {
        let path = self
            .dir
            .join(publish::versioned_name(&self.stem, accepted.list_version));
        if publish::resolve_pointer(self.pointer()).ok()? != path {
            return None;
        }
        let table = Table::from_bytes(publish::read_regular(&path, self.max_bytes).ok()?).ok()?;
        (table.list_version() == accepted.list_version && table.checksum() == accepted.checksum)
            .then_some((path, table))
    }

    /// A `304` for the published `table` at `path`: it is still current only while a
    /// trusted signature over it holds now. The stored one is tried first; if it is
    /// missing, damaged or expired, the server's (the table re-signed with a later
    /// not-after time keeps its bytes, and so its `304`) is fetched, and stored if it holds.
    fn not_modified(
        &self,
        agent: &ureq::Agent,
        path: &Path,
        table: &Table,
        deadline: Instant,
    ) -> Result<Outcome, Refusal> {
        let sig_path = signature_path(path);
        let stored = read_signature(&sig_path).and_then(|sig| {
            self.keys
                .verify(table.as_bytes(), &sig)
                .map_err(|e| sign_refusal(sig_path.display(), &e))
        });
        let Err(stored) = stored else {
            return Ok(Outcome::NotModified);
        };
        let fresh = self
            .fetch_signature(agent, deadline)
            .and_then(|(sig, url)| {
                self.keys
                    .verify(table.as_bytes(), &sig)
                    .map_err(|e| sign_refusal(&url, &e))?;
                Ok(sig)
            });
        match fresh {
            Ok(sig) => {
                self.store_signature(path, &sig)?;
                Ok(Outcome::NotModified)
            }
            Err(e) if stored.kind == RefusalKind::Expired => Err(Refusal::new(
                RefusalKind::Expired,
                format!(
                    "not modified, but the published table's signature has expired: {stored}; \
                     and no fresh one: {e}"
                ),
            )),
            Err(e) => Err(Refusal {
                message: format!(
                    "not modified, but the published table's signature does not hold: \
                     {stored}; and: {e}"
                ),
                ..e
            }),
        }
    }

    /// Stores `sig` beside the published table at `path`, atomically and under the stem's
    /// lock, unless the same signature is there already.
    fn store_signature(&self, path: &Path, sig: &Signature) -> Result<(), Refusal> {
        let _lock = publish::lock_stem(&self.dir, &self.stem)
            .map_err(|e| Refusal::swap("cannot lock the state directory", &e))?;
        write_signature(path, sig)
    }

    /// The version the pointer names now, if it names one of this stem.
    fn published_version(&self) -> Option<u64> {
        let path = publish::resolve_pointer(self.pointer()).ok()?;
        let name = path.file_name()?.to_str()?;
        name.strip_prefix(&self.stem)?
            .strip_prefix('.')?
            .strip_suffix(".c2t")?
            .parse()
            .ok()
    }

    /// Whether `path` is the file the pointer names and holds `bytes` (a previous check
    /// that published it and stopped before recording it, or another updater of the same
    /// directory).
    fn is_published(&self, path: &Path, bytes: &[u8]) -> bool {
        publish::resolve_pointer(self.pointer()).is_ok_and(|p| p == path)
            && publish::read_regular(path, self.max_bytes).is_ok_and(|b| b == bytes)
    }

    /// Under the lock [`publish::publish_versioned`] takes, so that two updaters of one
    /// directory take turns: records the version, writes the signature beside `path`,
    /// then publishes the table and moves the pointer. The record comes first: a failure
    /// after it leaves the record ahead of the pointer (never the pointer on a table the
    /// record does not hold), and the next check completes the publish. On failure, a
    /// signature file this call created is removed again. A table another updater has
    /// published meanwhile is only completed (its signature and record), never refused.
    fn publish(
        &self,
        path: &Path,
        table: &Table,
        sig: &Signature,
        state: &mut VersionState,
    ) -> Result<(), Refusal> {
        let lock = publish::lock_stem(&self.dir, &self.stem)
            .map_err(|e| Refusal::swap("cannot lock the state directory", &e))?;
        if self.is_published(path, table.as_bytes()) {
            write_signature(path, sig)?;
            return state
                .record(table)
                .map_err(|e| Refusal::swap("cannot write the version record", &e));
        }
        state
            .record(table)
            .map_err(|e| Refusal::swap("cannot write the version record", &e))?;
        let sig_path = signature_path(path);
        let existed = fs::symlink_metadata(&sig_path).is_ok();
        write_signature(path, sig)?;
        let published =
            match publish::publish_versioned_locked(&self.dir, &self.stem, table.as_bytes(), &lock)
            {
                // The pointer already names this version, but its file is missing or
                // damaged: the record holds exactly this table (recorded above, which
                // refuses any other with its version), so the file is written again.
                Err(e)
                    if e.kind() == SwapErrorKind::Rollback
                        && e.versions() == Some((table.list_version(), table.list_version())) =>
                {
                    publish::repair_versioned_locked(&self.dir, &self.stem, table.as_bytes(), &lock)
                }
                r => r,
            };
        let result = match published {
            Ok(_) => Ok(()),
            Err(e) if e.is_published() => Err(Refusal::swap("published, but", &e)),
            Err(e) => {
                if !existed {
                    let _ = fs::remove_file(&sig_path);
                }
                Err(Refusal::swap("recorded, but cannot publish", &e))
            }
        };
        if result.is_ok() {
            // Still under the lock, so the pointer it reads is the one just written and
            // no other updater's newer file is taken for an old one.
            if let Ok(c) = publish::cleanup(&self.dir, &self.stem, self.keep) {
                for old in c.removed {
                    let _ = fs::remove_file(signature_path(&old));
                }
            }
        }
        result
    }
}

/// The instant `timeout` from now, or the latest one that can be represented.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout.min(MAX_DURATION))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// Reads and parses the signature file at `sig_path` (a small regular file).
fn read_signature(sig_path: &Path) -> Result<Signature, Refusal> {
    let bytes = publish::read_regular(sig_path, MAX_SIG_BYTES).map_err(|e| {
        let kind = if e.kind() == io::ErrorKind::NotFound {
            RefusalKind::Signature
        } else {
            RefusalKind::Io
        };
        Refusal::new(kind, format!("{}: {e}", sig_path.display()))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Refusal::new(
            RefusalKind::Signature,
            format!("{}: not text", sig_path.display()),
        )
    })?;
    Signature::from_text(&text).map_err(|e| {
        Refusal::new(
            RefusalKind::Signature,
            format!("{}: {e}", sig_path.display()),
        )
    })
}

/// Writes `sig` beside the table at `path` atomically, unless the file holds it already.
/// The caller holds the stem's lock.
fn write_signature(path: &Path, sig: &Signature) -> Result<(), Refusal> {
    let sig_path = signature_path(path);
    let text = format!("{sig}\n");
    if publish::read_regular(&sig_path, MAX_SIG_BYTES).is_ok_and(|b| b == text.as_bytes()) {
        return Ok(());
    }
    publish::atomic_write(&sig_path, |f| f.write_all(text.as_bytes()), |_| Ok(()))
        .map_err(|e| Refusal::swap("cannot write the signature", &e))
}

/// The refusal for a signature that does not hold.
fn sign_refusal(what: impl fmt::Display, e: &SignError) -> Refusal {
    let kind = match e.kind() {
        SignErrorKind::Load => RefusalKind::InvalidTable,
        SignErrorKind::Io => RefusalKind::Io,
        SignErrorKind::Expired { .. } => RefusalKind::Expired,
        _ => RefusalKind::Signature,
    };
    Refusal::new(kind, format!("{what}: {e}"))
}

fn status_refusal(url: &Uri, status: u16) -> Refusal {
    Refusal {
        status: Some(status),
        ..Refusal::new(
            RefusalKind::HttpStatus,
            format!("GET {url}: HTTP status {status}"),
        )
    }
}
