//! `c2trie update`: fetch a signed table over HTTP(S) into a state directory, once or
//! periodically (see `c2trie::update`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use c2trie::sign::{PublicKey, TrustedKeys};
use c2trie::update::{Event, Outcome, RefusalKind, Schedule, Updater};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::{Result, UsageError};

pub(crate) const HELP: &str = "Examples:
  c2trie update --url https://lists.example.com/c2.c2t --pubkey vendor.key.pub \\
      --dir /var/lib/product/lists --once
  c2trie update --url https://lists.example.com/c2.c2t --pubkey vendor.key.pub \\
      --dir /var/lib/product/lists --interval 1h --json

The signature is fetched from URL.sig. An accepted table is published as DIR/lists.N.c2t
with DIR/lists.N.c2t.sig, and DIR/lists.current names it; DIR/state records the highest
accepted list version (older tables are refused, also after a restart) and DIR/http-meta
the validators for conditional requests. A refused table leaves DIR unchanged.

With --once, exit 0 when a table was accepted or the list is current (304 Not Modified,
and the published table's signature has not expired), 1 with the reason when the update
was refused (bad or expired signature, rollback, version jump, invalid table, too large,
HTTP error, timeout, I/O), 2 for a usage error (a URL that is not http(s), has a query,
a fragment or credentials, or does not name a file; a duration out of range). Without
--once, check every --interval (1s to 365d; ±10 % jitter; after a failure retry sooner,
backing off) until interrupted, printing one line (or JSON object) per check.";

/// `c2trie update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The table's URL (http or https); its signature is URL.sig.
    #[arg(long)]
    url: String,
    /// A trusted public key file (repeatable); the signature must verify with one of them.
    #[arg(long, value_name = "KEYFILE", required = true)]
    pubkey: Vec<PathBuf>,
    /// The state directory (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Check once and exit (0: updated or current, 1: refused).
    #[arg(long)]
    once: bool,
    /// The interval between checks: 90s, 15m, 1h, 1d (a bare number is seconds); 1s to
    /// 365d.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    interval: String,
    /// Trust this root certificate (PEM or DER) for HTTPS instead of the built-in roots.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Refuse a table larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = c2trie::update::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
    /// The time allowed for one whole check (at most 365d).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    timeout: String,
    /// Refuse a table whose list version lies more than N above the accepted one (a
    /// signed table far in the future would block every later one).
    #[arg(long, value_name = "N")]
    max_jump: Option<u64>,
    /// Refuse signatures without a signed not-after time (v1 signatures), so that a
    /// withheld update cannot keep an agent on an old list forever.
    #[arg(long)]
    require_not_after: bool,
    /// Machine-readable output: one JSON object per check on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Parses `90s`, `15m`, `1h`, `1d`, `500ms` or a bare number of seconds.
fn duration(text: &str) -> std::result::Result<Duration, UsageError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| UsageError(format!("{text:?} is not a duration (e.g. 90s, 15m, 1h)")))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        _ => {
            return Err(UsageError(format!(
                "{text:?}: unknown unit {unit:?} (ms, s, m, h, d)"
            )));
        }
    };
    if d.is_zero() {
        return Err(UsageError(format!("{text:?}: a duration must be positive")));
    }
    if d > c2trie::update::MAX_DURATION {
        return Err(UsageError(format!(
            "{text:?}: a duration must be at most 365d"
        )));
    }
    Ok(d)
}

/// `--interval`: a duration of at least one second.
fn interval(text: &str) -> std::result::Result<Duration, UsageError> {
    let d = duration(text)?;
    if d < c2trie::update::MIN_INTERVAL {
        return Err(UsageError(format!(
            "--interval {text:?}: the interval must be at least 1s"
        )));
    }
    Ok(d)
}

fn kind_name(k: RefusalKind) -> &'static str {
    match k {
        RefusalKind::Signature => "signature",
        RefusalKind::Expired => "expired",
        RefusalKind::Rollback => "rollback",
        RefusalKind::VersionJump => "version_jump",
        RefusalKind::InvalidTable => "invalid_table",
        RefusalKind::TooLarge => "too_large",
        RefusalKind::HttpStatus => "http_status",
        RefusalKind::Redirect => "redirect",
        RefusalKind::Timeout => "timeout",
        RefusalKind::Network => "network",
        RefusalKind::Io => "io",
        _ => "other",
    }
}

/// One outcome as JSON.
fn to_json(o: &Outcome, accepted: Option<u64>) -> serde_json::Value {
    match o {
        Outcome::NotModified => json!({ "outcome": "not_modified", "list_version": accepted }),
        Outcome::Current { list_version } => {
            json!({ "outcome": "current", "list_version": list_version })
        }
        Outcome::Updated(u) => json!({
            "outcome": "updated",
            "from": u.from,
            "to": u.to,
            "path": u.path.display().to_string(),
            "bytes": u.bytes,
        }),
        Outcome::Refused(r) => {
            let mut v = json!({
                "outcome": "refused",
                "kind": kind_name(r.kind()),
                "reason": r.message(),
            });
            if let Some((acc, off)) = r.versions() {
                v["accepted"] = json!(acc);
                v["offered"] = json!(off);
            }
            if let Some(s) = r.status() {
                v["status"] = json!(s);
            }
            v
        }
        _ => json!({ "outcome": "other" }),
    }
}

/// One outcome as a line of text.
fn to_text(o: &Outcome, accepted: Option<u64>) -> String {
    let ver = |v: Option<u64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
    match o {
        Outcome::NotModified => format!("not modified (list version {})", ver(accepted)),
        Outcome::Current { list_version } => format!("current (list version {list_version})"),
        Outcome::Updated(u) => format!(
            "updated list version {} -> {}: {} ({} bytes)",
            ver(u.from),
            u.to,
            u.path.display(),
            u.bytes
        ),
        Outcome::Refused(r) => format!("update refused ({}): {r}", kind_name(r.kind())),
        _ => "unknown outcome".to_owned(),
    }
}

fn report(o: &Outcome, updater: Option<&Updater>, json: bool) {
    let accepted = updater
        .and_then(|u| u.accepted().ok().flatten())
        .map(|a| a.list_version);
    if json {
        println!("{}", to_json(o, accepted));
    } else if matches!(o, Outcome::Refused(_)) {
        eprintln!("c2trie: {}", to_text(o, accepted));
    } else {
        println!("{}", to_text(o, accepted));
    }
}

pub(crate) fn run(args: UpdateArgs) -> Result<crate::Outcome> {
    let interval = interval(&args.interval)?;
    let timeout = duration(&args.timeout).map_err(|e| UsageError(format!("--timeout {}", e.0)))?;
    let mut keys = TrustedKeys::new();
    for p in &args.pubkey {
        keys.add(PublicKey::read_file(p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    keys.require_not_after(args.require_not_after);
    let mut updater = Updater::new(&args.url, keys, &args.dir).map_err(|e| {
        if e.is_invalid_input() {
            Box::new(UsageError(format!("--url: {e}"))) as Box<dyn std::error::Error>
        } else {
            Box::new(e)
        }
    })?;
    updater
        .max_bytes(args.max_bytes)
        .timeout(timeout)
        .max_jump(args.max_jump);
    if let Some(ca) = &args.ca_cert {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        updater
            .add_root_certificate(&pem)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let bar = crate::progress::wanted(args.json).then(progress_bar);
    if let Some(bar) = &bar {
        let b = bar.clone();
        updater.on_progress(move |n, total| {
            if let Some(t) = total {
                b.set_length(t);
            }
            b.set_position(n);
        });
    }
    if args.once {
        let outcome = updater.check_once();
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        report(&outcome, Some(&updater), args.json);
        return Ok(outcome.is_success().into());
    }
    let schedule = Schedule::every(interval);
    let stop = c2trie::update::StopHandle::new();
    let json = args.json;
    let accepted_dir = Arc::new(args.dir.clone());
    updater.run(&schedule, &stop, |e| {
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        match e {
            Event::Checked { outcome, next, .. } => {
                let accepted =
                    c2trie::swap::VersionState::open(accepted_dir.join(c2trie::update::STATE_FILE))
                        .ok()
                        .and_then(|s| s.accepted())
                        .map(|a| a.list_version);
                if json {
                    let mut v = to_json(outcome, accepted);
                    v["next_check_secs"] = json!(next.as_secs_f64().round());
                    println!("{v}");
                } else {
                    let line = to_text(outcome, accepted);
                    let next = format!("next check in {}s", next.as_secs());
                    if outcome.is_success() {
                        println!("{line}; {next}");
                    } else {
                        eprintln!("c2trie: {line}; {next}");
                    }
                }
            }
            Event::Stale { since_success } => {
                let secs = since_success.as_secs();
                if json {
                    println!("{}", json!({ "stale": true, "since_success_secs": secs }));
                } else {
                    eprintln!("c2trie: the list is stale: no successful check for {secs}s");
                }
            }
            _ => {}
        }
    });
    Ok(crate::Outcome::Success)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "downloading [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::{duration, interval};
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "h", "1w", "0", "-1s", "1.5h", "366d", "99999999999d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration("365d").unwrap(), c2trie::update::MAX_DURATION);
        assert!(interval("500ms").is_err());
        assert_eq!(interval("1s").unwrap(), Duration::from_secs(1));
    }
}
