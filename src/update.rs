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
//! Then it is published crash-safely in the state directory with
//! [`publish_versioned`](crate::publish::publish_versioned) (`DIR/lists.N.c2t`, its
//! signature `DIR/lists.N.c2t.sig`, the pointer `DIR/lists.current`), the version record is
//! updated, and, if a [`LiveTable`] is attached, the table is put in service before
//! [`Updater::check_once`] returns [`Outcome::Updated`]. Anything refused leaves the state
//! directory as it was.
//!
//! Requests are conditional: the `ETag` and `Last-Modified` of the last accepted download
//! are kept in `DIR/http-meta` and sent back as `If-None-Match` and `If-Modified-Since`, so
//! an unchanged list costs one small request and a `304 Not Modified`. Bodies may arrive
//! gzip-compressed. Redirects are followed to the same scheme or from http to https, never
//! from https to http.
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
use crate::sign::{SignErrorKind, Signature, TrustedKeys, signature_path};
use crate::swap::{Accepted, LiveTable, VersionState};
use crate::table::Table;

mod http;
mod meta;
mod run;

pub use run::{Event, Runner, Schedule, StopHandle};

use meta::Meta;

/// The default cap on a table's size: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// A signature file larger than this is refused (one line of about 170 bytes is expected).
const MAX_SIG_BYTES: u64 = 4096;

/// The version record's file name in the state directory.
pub const STATE_FILE: &str = "state";

/// The HTTP metadata file's name in the state directory.
pub const META_FILE: &str = "http-meta";

/// What one [`Updater::check_once`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The server answered `304 Not Modified` to the conditional request.
    NotModified,
    /// The server sent the table already accepted (same version, same bytes), e.g. after
    /// its validators changed; only the stored validators were updated.
    Current {
        /// The accepted table's `list_version`.
        list_version: u64,
    },
    /// A new table was verified, published and recorded (and put in service, if a
    /// [`LiveTable`] is attached).
    Updated(Updated),
    /// Nothing was accepted, and the state directory is as it was.
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

/// Why an [`Updater`] could not be set up.
#[derive(Debug)]
pub struct UpdateError {
    message: String,
    source: Option<io::Error>,
}

impl UpdateError {
    fn new(message: impl Into<String>) -> UpdateError {
        UpdateError {
            message: message.into(),
            source: None,
        }
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

impl std::error::Error for UpdateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

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
    /// When `url` is not an absolute `http` or `https` URL, `keys` is empty, `dir` cannot
    /// be created, or the version record `DIR/state` exists but is damaged (a damaged
    /// record is never taken for an empty one: that would switch rollback protection off).
    pub fn new(
        url: &str,
        keys: TrustedKeys,
        dir: impl AsRef<Path>,
    ) -> Result<Updater, UpdateError> {
        let parsed = http::parse_url(url).map_err(UpdateError::new)?;
        let sig_url = http::parse_url(&format!("{url}.sig")).map_err(UpdateError::new)?;
        if parsed.query().is_some() {
            return Err(UpdateError::new(format!(
                "{url:?}: a URL with a query cannot name its signature as URL.sig"
            )));
        }
        if keys.keys().is_empty() {
            return Err(UpdateError::new(
                "no trusted public key: every table would be refused",
            ));
        }
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| UpdateError {
            message: format!("cannot create {}", dir.display()),
            source: Some(e),
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
            return Err(UpdateError::new(format!(
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

    /// The time allowed to connect (TCP and TLS).
    pub fn connect_timeout(&mut self, t: Duration) -> &mut Updater {
        self.connect_timeout = t;
        self.agent = None;
        self
    }

    /// The time allowed for each read from the server (a server that stops answering).
    pub fn read_timeout(&mut self, t: Duration) -> &mut Updater {
        self.read_timeout = t;
        self.agent = None;
        self
    }

    /// The time allowed for a whole check: both downloads, redirects included (a server
    /// that answers, but too slowly).
    pub fn timeout(&mut self, t: Duration) -> &mut Updater {
        self.timeout = t;
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
        if !pointer.exists() {
            return Ok(None);
        }
        let path =
            publish::resolve_pointer(&pointer).map_err(|e| Refusal::io(pointer.display(), e))?;
        self.keys.read_table(&path).map(Some).map_err(|e| {
            let kind = match e.kind() {
                SignErrorKind::Load => RefusalKind::InvalidTable,
                SignErrorKind::Io => RefusalKind::Io,
                SignErrorKind::Expired { .. } => RefusalKind::Expired,
                _ => RefusalKind::Signature,
            };
            Refusal::new(kind, format!("{}: {e}", path.display()))
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
    /// the server sends; a refusal leaves the state directory unchanged.
    pub fn check_once(&mut self) -> Outcome {
        match self.try_check() {
            Ok(o) => o,
            Err(r) => Outcome::Refused(r),
        }
    }

    fn try_check(&mut self) -> Result<Outcome, Refusal> {
        let deadline = Instant::now() + self.timeout;
        let agent = self.agent();
        let state = self.state()?;
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
        let (resp, final_url) = http::get(&agent, &self.url, &cond, self.max_redirects, deadline)?;
        let status = resp.status().as_u16();
        if status == 304 && conditional {
            return Ok(Outcome::NotModified);
        }
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

        // The signature: small, unconditional.
        let (sig_resp, sig_url) = http::get(
            &agent,
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
        self.keys.verify(&bytes, &sig).map_err(|e| {
            let kind = match e.kind() {
                SignErrorKind::Expired { .. } => RefusalKind::Expired,
                _ => RefusalKind::Signature,
            };
            Refusal::new(kind, format!("{final_url}: {e}"))
        })?;
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
        let already = self.is_published(&path, table.as_bytes());
        if same_as_accepted && already {
            new_meta
                .write(&meta_path)
                .map_err(|e| Refusal::io("cannot store the HTTP validators", e))?;
            return Ok(Outcome::Current {
                list_version: offered,
            });
        }

        // Accepted: publish (signature first, so the pointer never names an unsigned
        // table), record, remember the validators, serve.
        if !already {
            self.publish(&path, &table, &sig)?;
        }
        let mut state = state;
        state
            .record(&table)
            .map_err(|e| Refusal::swap("cannot write the version record", &e))?;
        // Losing the validators costs one download next time, nothing else.
        let _ = new_meta.write(&meta_path);
        if let Ok(c) = publish::cleanup(&self.dir, &self.stem, self.keep) {
            for old in c.removed {
                let _ = fs::remove_file(signature_path(&old));
            }
        }
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
            from: accepted.map(|a| a.list_version),
            to: offered,
            bytes: fs::metadata(&path).map_or(0, |m| m.len()),
            path,
            generation,
        }))
    }

    /// Whether `path` is the file the pointer names and holds `bytes` (a previous check
    /// that published it and stopped before recording it).
    fn is_published(&self, path: &Path, bytes: &[u8]) -> bool {
        publish::resolve_pointer(self.pointer()).is_ok_and(|p| p == path)
            && fs::read(path).is_ok_and(|b| b == bytes)
    }

    /// Writes the signature beside `path`, then publishes the table and its pointer. On
    /// failure, a signature file this call created is removed again.
    fn publish(&self, path: &Path, table: &Table, sig: &Signature) -> Result<(), Refusal> {
        let sig_path = signature_path(path);
        let existed = sig_path.exists();
        publish::atomic_write(&sig_path, |f| writeln!(f, "{sig}"), |_| Ok(()))
            .map_err(|e| Refusal::swap("cannot write the signature", &e))?;
        match publish::publish_versioned(&self.dir, &self.stem, table.as_bytes()) {
            Ok(_) => Ok(()),
            Err(e) if e.is_published() => Err(Refusal::swap("published, but", &e)),
            Err(e) => {
                if !existed {
                    let _ = fs::remove_file(&sig_path);
                }
                Err(Refusal::swap("cannot publish", &e))
            }
        }
    }
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
