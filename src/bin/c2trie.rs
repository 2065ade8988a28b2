//! `c2trie`: compile C&C IP feeds into a table, look addresses up, inspect and verify tables.
//!
//! Exit codes: 0 success; 1 failure (unreadable input, invalid table, rejected lines under
//! `--strict`, an address that does not parse); 2 usage error.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use c2trie::compile::{Limits, ListLimits, parse_share};
use c2trie::feed::{self, FeedOptions, Format};
use c2trie::{Compiler, EntryRef, List, Table};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Compile C&C IP feeds into a validated longest-prefix-match table and query it.
#[derive(Debug, Parser)]
#[command(name = "c2trie", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile feeds into a table file.
    ///
    /// Example: c2trie compile --global feodo.csv --blocked blocked.txt -o table.c2t
    Compile(CompileArgs),
    /// Look addresses up: one JSON object a line, in input order.
    ///
    /// Reads addresses from standard input, one a line, when none are given.
    /// Example: c2trie lookup table.c2t 192.0.2.1 2001:db8::1
    Lookup(LookupArgs),
    /// Print a table's header, counts and checksum as JSON.
    Inspect {
        /// The table file.
        table: PathBuf,
    },
    /// Validate a table: exit 0 when valid, 1 with the reason otherwise.
    Verify {
        /// The table file.
        table: PathBuf,
    },
}

#[derive(Debug, Args)]
struct CompileArgs {
    /// A feed for the global C&C list (repeatable).
    #[arg(long, value_name = "FILE")]
    global: Vec<PathBuf>,
    /// A feed for the user blocked list (repeatable).
    #[arg(long, value_name = "FILE")]
    blocked: Vec<PathBuf>,
    /// A feed for the user approved list (repeatable).
    #[arg(long, value_name = "FILE")]
    approved: Vec<PathBuf>,
    /// Feed format: auto, plain, feodo-csv, drop, ipsum, netset, asn-table, csv, json.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Fail when any line is rejected.
    #[arg(long)]
    strict: bool,
    /// The list version written to the header (anti-rollback serial number).
    #[arg(long, default_value_t = 0)]
    list_version: u64,
    /// Creation time to record, seconds since the Unix epoch (default: SOURCE_DATE_EPOCH
    /// if set, else now).
    #[arg(long)]
    created: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// The table file to write.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Poisoned-feed guards, per list, for this run (defaults: the global list refuses IPv4
/// prefixes shorter than /8 and IPv6 shorter than /16; the user lists are unlimited).
#[derive(Debug, Args)]
struct LimitArgs {
    /// Shortest IPv4 prefix accepted in a list, e.g. `global=3` (repeatable).
    #[arg(long, value_name = "LIST=LEN")]
    min_prefix_v4: Vec<String>,
    /// Shortest IPv6 prefix accepted in a list, e.g. `global=12` (repeatable).
    #[arg(long, value_name = "LIST=LEN")]
    min_prefix_v6: Vec<String>,
    /// Most entries a list may hold, e.g. `global=2000000` or `global=none` (repeatable).
    #[arg(long, value_name = "LIST=N")]
    max_entries: Vec<String>,
    /// Largest share of the IPv4 space a list may cover, e.g. `global=1%` (repeatable).
    #[arg(long, value_name = "LIST=SHARE")]
    max_coverage_v4: Vec<String>,
    /// Largest share of the IPv6 space a list may cover, e.g. `global=0.01%` (repeatable).
    #[arg(long, value_name = "LIST=SHARE")]
    max_coverage_v6: Vec<String>,
    /// Lift every limit on a list, e.g. `global` (repeatable); the flags above still apply.
    #[arg(long, value_name = "LIST")]
    allow_broad: Vec<List>,
}

impl LimitArgs {
    /// The limits for this run: the defaults, lifted by `--allow-broad`, then each flag.
    fn limits(&self) -> Result<Limits> {
        fn each<'a>(
            flag: &str,
            values: &'a [String],
        ) -> impl Iterator<Item = Result<(List, &'a str)>> {
            values.iter().map(move |v| {
                let (list, value) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--{flag} {v:?}: expected LIST=VALUE"))?;
                let list: List = list.trim().parse()?;
                Ok((list, value.trim()))
            })
        }
        let mut limits = Limits::default();
        for &list in &self.allow_broad {
            *limits.get_mut(list) = ListLimits::NONE;
        }
        for r in each("min-prefix-v4", &self.min_prefix_v4) {
            let (list, v) = r?;
            limits.get_mut(list).min_prefix_v4 = v.parse()?;
        }
        for r in each("min-prefix-v6", &self.min_prefix_v6) {
            let (list, v) = r?;
            limits.get_mut(list).min_prefix_v6 = v.parse()?;
        }
        for r in each("max-entries", &self.max_entries) {
            let (list, v) = r?;
            limits.get_mut(list).max_entries = match v {
                "none" => None,
                n => Some(n.parse()?),
            };
        }
        for r in each("max-coverage-v4", &self.max_coverage_v4) {
            let (list, v) = r?;
            limits.get_mut(list).max_coverage_v4 = parse_share(v)?;
        }
        for r in each("max-coverage-v6", &self.max_coverage_v6) {
            let (list, v) = r?;
            limits.get_mut(list).max_coverage_v6 = parse_share(v)?;
        }
        Ok(limits)
    }
}

#[derive(Debug, Args)]
struct LookupArgs {
    /// The table file.
    table: PathBuf,
    /// Addresses to look up (default: read standard input).
    addrs: Vec<String>,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(args) => compile(args),
        Command::Lookup(args) => lookup(args),
        Command::Inspect { table } => inspect(&table),
        Command::Verify { table } => verify(&table),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("c2trie: {e}");
            ExitCode::FAILURE
        }
    }
}

fn compile(args: CompileArgs) -> Result<bool> {
    let format: Format = args.format.parse()?;
    let opts = FeedOptions::new().with_format(format);
    let mut compiler = Compiler::new();
    compiler
        .list_version(args.list_version)
        .limits(args.limits.limits()?);
    let created = args.created.or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    });
    if let Some(t) = created {
        compiler.created_unix(t);
    }
    let mut feeds = Vec::new();
    let mut rejected = 0u64;
    let inputs = [
        (List::Approved, &args.approved),
        (List::Blocked, &args.blocked),
        (List::Global, &args.global),
    ];
    for (list, paths) in inputs {
        for path in paths {
            let feed =
                feed::read_file(path, &opts).map_err(|e| format!("{}: {e}", path.display()))?;
            for err in &feed.errors {
                eprintln!("{err}");
            }
            rejected += feed.stats.rejected;
            let added = compiler.add_feed(list, &feed)?;
            feeds.push(json!({
                "list": list.as_str(),
                "file": feed.name,
                "format": feed.format.as_str(),
                "lines": feed.stats.lines,
                "accepted": feed.stats.accepted,
                "new": added,
                "duplicates": feed.stats.accepted - added,
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
    let bytes = compiler.to_vec()?;
    write_file(&args.output, &bytes)?;
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
        "output": args.output.display().to_string(),
        "bytes": bytes.len(),
        "list_version": args.list_version,
        "feeds": feeds,
        "lists": lists,
        "rejected": rejected,
    });
    if args.json {
        println!("{summary}");
    } else {
        for f in &feeds {
            println!(
                "{:<8} {} ({}): {} lines, {} accepted, {} duplicate, {} truncated, {} rejected",
                f["list"].as_str().unwrap_or(""),
                f["file"].as_str().unwrap_or(""),
                f["format"].as_str().unwrap_or(""),
                f["lines"],
                f["accepted"],
                f["duplicates"],
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
            args.output.display(),
            bytes.len(),
            args.list_version
        );
    }
    Ok(true)
}

/// Writes `bytes` to a new file beside `path`, then renames it into place, so that a
/// reader never sees a half-written table and a mapped old table is never rewritten.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or("output path has no file name")?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", path.display()).into())
}

fn entry_json(e: Option<EntryRef<'_>>) -> (Value, Value) {
    match e {
        None => (Value::Null, Value::Null),
        Some(e) => (
            Value::String(e.prefix().to_string()),
            json!({
                "prefix": e.prefix().to_string(),
                "source": e.source(),
                "tag": e.tag(),
                "risk": e.risk(),
                "expires": e.expires(),
            }),
        ),
    }
}

fn lookup(args: LookupArgs) -> Result<bool> {
    let table =
        Table::read_file(&args.table).map_err(|e| format!("{}: {e}", args.table.display()))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut ok = true;
    let mut one = |raw: &str, out: &mut dyn Write| -> io::Result<()> {
        let raw = raw.trim();
        let line = match feed::parse_addr(raw) {
            Err(e) => {
                ok = false;
                json!({ "addr": raw, "error": e.to_string() })
            }
            Ok(addr) => {
                let hits = table.lookup(addr);
                let mut obj = serde_json::Map::new();
                obj.insert("addr".into(), Value::String(addr.to_string()));
                let mut details = serde_json::Map::new();
                for list in List::ALL {
                    let (prefix, detail) = entry_json(hits.get(list));
                    obj.insert(list.as_str().into(), prefix);
                    if !detail.is_null() {
                        details.insert(list.as_str().into(), detail);
                    }
                }
                obj.insert("matches".into(), Value::Object(details));
                obj.insert("list_version".into(), json!(table.list_version()));
                Value::Object(obj)
            }
        };
        writeln!(out, "{line}")
    };
    if args.addrs.is_empty() {
        for line in io::stdin().lock().lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            one(&line, &mut out)?;
        }
    } else {
        for a in &args.addrs {
            one(a, &mut out)?;
        }
    }
    out.flush()?;
    Ok(ok)
}

fn inspect(path: &Path) -> Result<bool> {
    let table = Table::read_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut counts = serde_json::Map::new();
    for list in List::ALL {
        counts.insert(
            list.as_str().into(),
            json!({ "ipv4": table.count(list, false), "ipv6": table.count(list, true) }),
        );
    }
    let info = json!({
        "file": path.display().to_string(),
        "bytes": table.as_bytes().len(),
        "format_version": table.format_version(),
        "list_version": table.list_version(),
        "created_unix": table.created_unix(),
        "checksum": format!("xxh3:{:016x}", table.checksum()),
        "entries": table.len(),
        "counts": counts,
    });
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(true)
}

fn verify(path: &Path) -> Result<bool> {
    match Table::read_file(path) {
        Ok(t) => {
            println!(
                "{}: ok (format {}, list version {}, {} entries)",
                path.display(),
                t.format_version(),
                t.list_version(),
                t.len()
            );
            Ok(true)
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            Ok(false)
        }
    }
}
