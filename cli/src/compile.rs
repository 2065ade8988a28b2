//! `c2trie compile`: feeds in, a table file out.

use std::path::{Path, PathBuf};

use c2trie::feed::{FeedOptions, Format};
use c2trie::{Compiler, List};
use clap::Args;
use serde_json::{Value, json};

use crate::limits::LimitArgs;
use crate::{Result, progress};

pub(crate) const HELP: &str = concat!(
    "Examples:
  c2trie compile --global feodo.csv -o table.c2t
  c2trie compile --global vendor.txt.gz --blocked blocked.txt --approved approved.txt \\
      --list-version 42 --strict -o /var/lib/c2trie/table.c2t
  c2trie compile --global drop.txt --format drop --json -o table.c2t
  curl -s https://example.com/feed.txt.gz | c2trie compile --global - -o table.c2t

A feed named - is read from standard input (at most one per run; gzip is recognized there
too) and gets the name \"stdin\": its entries' source and the FILE in its messages. Name a
file called - as ./-.

Feeds are parsed line by line; a line that cannot be used is reported as FILE:LINE: REASON
on standard error and the rest of the feed is kept (unless --strict). A progress bar is
drawn for large feeds when standard error is a terminal, never with --json.

",
    crate::exit_codes!()
);

#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// A feed for the global C&C list (repeatable); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    global: Vec<PathBuf>,
    /// A feed for the user blocked list (repeatable); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    blocked: Vec<PathBuf>,
    /// A feed for the user approved list (repeatable); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    approved: Vec<PathBuf>,
    /// Feed format: auto, plain, feodo-csv, drop, ipsum, netset, asn-table, csv, json.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Fail when any line is rejected.
    #[arg(long)]
    strict: bool,
    /// The CSV column (header name or 1-based number) or JSON key that holds the address,
    /// when the feed's own names are missing or ambiguous.
    #[arg(long, value_name = "NAME")]
    field: Option<String>,
    /// The list version written to the header (anti-rollback serial number); 0, with a
    /// warning, when not given.
    #[arg(long)]
    list_version: Option<u64>,
    /// Creation time to record, seconds since the Unix epoch (default: SOURCE_DATE_EPOCH
    /// if set, else now).
    #[arg(long)]
    created: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// The table file to write. It is published crash-safely: written to a temporary file in
    /// the same directory, flushed to disk, validated, then renamed over OUT, so readers see
    /// the old table or the new one, never a torn file.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Publish under a versioned name instead: OUT's directory gets `STEM.<list-version>.c2t`
    /// (STEM = OUT's file stem) and the pointer file `STEM.current` names it. Use this where
    /// mapped files cannot be replaced (Windows).
    #[arg(long)]
    versioned: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

impl CompileArgs {
    /// Whether JSON output was asked for.
    pub(crate) fn json(&self) -> bool {
        self.json
    }
}

pub(crate) fn run(args: CompileArgs) -> Result<bool> {
    let show_progress = progress::wanted(args.json);
    let format: Format = args
        .format
        .parse()
        .map_err(|e| crate::UsageError(format!("--format: {e}")))?;
    let mut opts = FeedOptions::new().with_format(format);
    if let Some(f) = &args.field {
        opts = opts.with_field(f.clone());
    }
    let mut compiler = Compiler::new();
    let limits = args
        .limits
        .limits()
        .map_err(|e| crate::UsageError(e.to_string()))?;
    let list_version = args.list_version.unwrap_or_else(|| {
        eprintln!(
            "warning: no --list-version: the table gets list version 0, which a running \
             agent refuses as a rollback (or as no news) once it serves any table"
        );
        0
    });
    compiler.list_version(list_version).limits(limits);
    let created = args.created.or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    });
    if let Some(t) = created {
        compiler.created_unix(t);
    }
    let stdin_feeds = [&args.approved, &args.blocked, &args.global]
        .into_iter()
        .flatten()
        .filter(|p| progress::is_stdin(p))
        .count();
    if stdin_feeds > 1 {
        return Err(crate::UsageError(format!(
            "standard input (-) is given as a feed {stdin_feeds} times; it can be read only \
             once"
        ))
        .into());
    }
    let mut feeds = Vec::new();
    let mut rejected = 0u64;
    let mut truncated = 0u64;
    let inputs = [
        (List::Approved, &args.approved),
        (List::Blocked, &args.blocked),
        (List::Global, &args.global),
    ];
    for (list, paths) in inputs {
        // A feed stops at the first distinct entry over its list's limit, naming its line:
        // memory follows what is kept, never the input. The compiler's check still counts
        // the list's feeds together.
        let opts = match limits.get(list).max_entries {
            Some(n) => opts.clone().with_max_entries(n),
            None => opts.clone(),
        };
        for path in paths {
            let feed = progress::read_feed(path, &opts, show_progress).map_err(|e| {
                let name = progress::feed_name(path);
                match (e.kind(), limits.get(list).max_entries) {
                    // The parser was given the list's limit: the line is the first over it.
                    (c2trie::feed::FeedErrorKind::TooManyEntries { line, .. }, Some(n)) => format!(
                        "{name}:{line}: more than {n} distinct entries (the {list} list's \
                         --max-entries)"
                    ),
                    _ => format!("{name}: {e}").replace(": line ", ":"),
                }
            })?;
            for err in &feed.errors {
                eprintln!("{err}");
            }
            let unshown = feed.stats.rejected.saturating_sub(feed.errors.len() as u64);
            if unshown > 0 {
                eprintln!("{}: {unshown} more rejected lines not shown", feed.name);
            }
            rejected += feed.stats.rejected;
            truncated += feed.stats.truncated;
            let expired_before = compiler.report().list(list).expired;
            let added = compiler.add_feed(list, &feed)?;
            let expired = compiler
                .report()
                .list(list)
                .expired
                .saturating_sub(expired_before);
            feeds.push(json!({
                "list": list.as_str(),
                "file": feed.name,
                "format": feed.format.as_str(),
                "lines": feed.stats.lines,
                "accepted": feed.stats.accepted,
                "new": added,
                "duplicates": feed
                    .stats
                    .duplicates
                    .saturating_add(feed.stats.accepted.saturating_sub(added).saturating_sub(expired)),
                "expired": expired,
                "truncated": feed.stats.truncated,
                "rejected": feed.stats.rejected,
                "skipped": feed.stats.skipped,
            }));
        }
    }
    if args.strict && rejected > 0 {
        eprintln!("c2trie: {rejected} line(s) rejected; --strict refuses to compile");
        return Ok(false);
    }
    if args.strict && truncated > 0 {
        eprintln!(
            "c2trie: {truncated} entr{} had host bits set (such as 192.0.2.77/24 for \
             192.0.2.0/24); --strict refuses to compile",
            if truncated == 1 { "y" } else { "ies" }
        );
        return Ok(false);
    }
    let spinner = progress::building(compiler.len(), show_progress);
    let bytes = compiler.to_vec()?;
    drop(spinner);
    let written = if args.versioned {
        let dir = args
            .output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = args
            .output
            .file_stem()
            .ok_or("output path has no file name")?
            .to_string_lossy();
        c2trie::publish_versioned(dir, &stem, &bytes)
            .map_err(|e| format!("{}: {e}", args.output.display()))?
            .0
    } else {
        c2trie::publish(&args.output, &bytes)
            .map_err(|e| format!("{}: {e}", args.output.display()))?;
        args.output.clone()
    };
    let report = compiler.report();
    let lists: serde_json::Map<String, Value> = List::ALL
        .iter()
        .map(|l| {
            (
                l.as_str().to_owned(),
                serde_json::to_value(report.list(*l)).unwrap_or(Value::Null),
            )
        })
        .collect();
    let summary = json!({
        "output": written.display().to_string(),
        "bytes": bytes.len(),
        "list_version": list_version,
        "feeds": feeds,
        "lists": lists,
        "rejected": rejected,
    });
    if args.json {
        println!("{summary}");
    } else {
        for f in &feeds {
            println!(
                "{:<8} {} ({}): {} lines, {} accepted, {} duplicate, {} expired, {} truncated, \
                 {} rejected",
                f["list"].as_str().unwrap_or(""),
                f["file"].as_str().unwrap_or(""),
                f["format"].as_str().unwrap_or(""),
                f["lines"],
                f["accepted"],
                f["duplicates"],
                f["expired"],
                f["truncated"],
                f["rejected"],
            );
        }
        for l in List::ALL {
            let r = report.list(l);
            println!(
                "{:<8} {} entries ({} IPv4, {} IPv6), {} duplicates dropped",
                l.as_str(),
                r.entries,
                r.ipv4,
                r.ipv6,
                r.duplicates
            );
        }
        println!(
            "wrote {} ({} bytes, list version {})",
            written.display(),
            bytes.len(),
            list_version
        );
    }
    Ok(true)
}
