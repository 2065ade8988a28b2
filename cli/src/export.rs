//! `c2trie export`: a table's entries, one list at a time, as a feed that `c2trie compile`
//! reads back.

use std::io::Write;
use std::path::{Path, PathBuf};

use c2trie::{EntryRef, List, Table};
use clap::{ArgGroup, Args, ValueEnum};
use serde_json::json;

use crate::output::{self, Access, Existing};
use crate::{Result, UsageError};

pub(crate) const HELP: &str = concat!(
    "Examples:
  c2trie export table.c2t --list global                     # JSON on standard output
  c2trie export table.c2t --list blocked --format text -o blocked.txt
  c2trie export table.c2t --dir exported --json             # every list, one file each
  c2trie compile --approved exported/approved.json --blocked exported/blocked.json \\
      --global exported/global.json --list-version 8 -o table2.c2t

A compiled table holds three lists and compile takes one list per feed argument, so an
export holds one list: --list LIST writes that list to -o FILE (default: standard output),
--dir DIR writes each list to DIR/LIST.EXT (approved, blocked, global; EXT json, csv or
txt; a list without entries gets a file without entries). Entries are sorted by prefix,
IPv4 first.

Formats, and what compile reads back from them:
  json  a JSON array, one object a line: {\"prefix\", \"tag\", \"risk\", \"expires\", \"list\",
        \"source\"} (tag, risk and expires only when set). Compile reads prefix, tag, risk
        and expires: the list's entries and metadata come back whole.
  csv   a header row, then prefix,tag,risk,expires,list,source. Compile reads prefix and
        tag (trimmed; an empty tag is none).
  text  a # comment naming the table, then one prefix a line. Compile reads the prefixes.
A warning names how many entries carry metadata that the chosen format does not bring back;
a tag with a line break cannot be written as csv (an error: use json).

The source of an entry (the feed file it was compiled from) is written for reference but
is not read back: compile gives every entry of a feed that feed's file name, as always. So
exporting a table and compiling the export back (with the same --list-version and
--created) gives the same entries, lists, tags, risks and expiry times: `c2trie diff
--ignore-source` reports no differences. If each list came from one feed and the export
files are given to compile under those feeds' names, the sources match too, and the tables
are the same byte for byte.

Output files are written to a temporary file, flushed and renamed into place, never through
a symbolic link. With --json, a summary of the files written is printed as one JSON object
(only with -o or --dir, as the export itself would otherwise be on standard output).

",
    crate::exit_codes!()
);

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// One prefix a line, after a comment naming the table.
    Text,
    /// A header row, then prefix, tag, risk, expires, list and source.
    Csv,
    /// A JSON array of entry objects, one a line.
    Json,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Text => "text",
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    /// The file extension used with `--dir`.
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Text => "txt",
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["list", "dir"])))]
pub(crate) struct ExportArgs {
    /// The table file.
    table: PathBuf,
    /// The list to export: approved, blocked or global.
    #[arg(long, value_name = "LIST")]
    list: Option<List>,
    /// Export every list, to DIR/approved.EXT, DIR/blocked.EXT and DIR/global.EXT (DIR is
    /// created if missing).
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    dir: Option<PathBuf>,
    /// Output format (json carries all the metadata compile reads back).
    #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
    format: ExportFormat,
    /// The file to write with --list (default, or `-`: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print a summary of the files written as one JSON object (needs -o or --dir).
    #[arg(long)]
    pub(crate) json: bool,
}

/// One list's export, rendered.
struct Rendered {
    text: Vec<u8>,
    entries: usize,
    /// Entries with metadata the format does not bring back.
    lossy: usize,
}

/// Writes a CSV field, quoted when it holds a delimiter, a quote or surrounding spaces.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\t', ';', '|']) || s.trim() != s || s.starts_with('#') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn render(table: &Table, table_path: &Path, list: List, format: ExportFormat) -> Result<Rendered> {
    let mut entries: Vec<EntryRef<'_>> = table.entries().filter(|e| e.list() == list).collect();
    entries.sort_by_key(EntryRef::prefix);
    let mut out = Vec::new();
    let mut lossy = 0;
    match format {
        ExportFormat::Text => {
            writeln!(
                out,
                "# c2trie export: the {list} list of {} (list version {}, {} entries)",
                table_path.display().to_string().replace(['\n', '\r'], " "),
                table.list_version(),
                entries.len()
            )?;
            for e in &entries {
                if e.tag().is_some() || e.risk().is_some() || e.expires().is_some() {
                    lossy += 1;
                }
                writeln!(out, "{}", e.prefix())?;
            }
        }
        ExportFormat::Csv => {
            writeln!(out, "prefix,tag,risk,expires,list,source")?;
            for e in &entries {
                let tag = e.tag().unwrap_or("");
                if tag.contains(['\n', '\r']) {
                    return Err(format!(
                        "{list} {}: the tag has a line break, which csv cannot carry; use \
                         --format json",
                        e.prefix()
                    )
                    .into());
                }
                let source = e.source().replace(['\n', '\r'], " ");
                if e.risk().is_some()
                    || e.expires().is_some()
                    || e.tag().is_some_and(|t| t.is_empty() || t.trim() != t)
                {
                    lossy += 1;
                }
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    e.prefix(),
                    csv_field(tag),
                    e.risk().map(|r| r.to_string()).unwrap_or_default(),
                    e.expires().map(|x| x.to_string()).unwrap_or_default(),
                    list,
                    csv_field(&source)
                )?;
            }
        }
        ExportFormat::Json => {
            writeln!(out, "[")?;
            for (i, e) in entries.iter().enumerate() {
                let mut obj = serde_json::Map::new();
                obj.insert("prefix".into(), json!(e.prefix().to_string()));
                if let Some(t) = e.tag() {
                    obj.insert("tag".into(), json!(t));
                }
                if let Some(r) = e.risk() {
                    obj.insert("risk".into(), json!(r));
                }
                if let Some(x) = e.expires() {
                    obj.insert("expires".into(), json!(x));
                }
                obj.insert("list".into(), json!(list.as_str()));
                obj.insert("source".into(), json!(e.source()));
                let comma = if i + 1 < entries.len() { "," } else { "" };
                writeln!(out, "{}{comma}", ordered(&obj))?;
            }
            writeln!(out, "]")?;
        }
    }
    Ok(Rendered {
        text: out,
        entries: entries.len(),
        lossy,
    })
}

/// `obj` as JSON with its keys in the order a reader expects (prefix first), not sorted.
fn ordered(obj: &serde_json::Map<String, serde_json::Value>) -> String {
    let fields: Vec<String> = ["prefix", "tag", "risk", "expires", "list", "source"]
        .iter()
        .filter_map(|k| obj.get(*k).map(|v| format!("{}:{v}", json!(k))))
        .collect();
    format!("{{{}}}", fields.join(","))
}

pub(crate) fn run(args: ExportArgs) -> Result<bool> {
    // `-o -` is standard output, as no -o is.
    let output = args.output.clone().filter(|p| p.as_os_str() != "-");
    if args.json && output.is_none() && args.dir.is_none() {
        return Err(UsageError(
            "--json prints a summary of the files written: it needs -o FILE or --dir DIR".into(),
        )
        .into());
    }
    let table =
        Table::read_file(&args.table).map_err(|e| format!("{}: {e}", args.table.display()))?;
    let jobs: Vec<(List, Option<PathBuf>)> = match (&args.dir, args.list) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            List::ALL
                .iter()
                .map(|&l| {
                    let name = format!("{}.{}", l.as_str(), args.format.extension());
                    (l, Some(dir.join(name)))
                })
                .collect()
        }
        (None, Some(list)) => vec![(list, output)],
        (None, None) => return Err(UsageError("give --list LIST or --dir DIR".into()).into()),
    };
    let mut files = Vec::new();
    let mut lossy_total = 0;
    for (list, path) in jobs {
        let r = render(&table, &args.table, list, args.format)?;
        lossy_total += r.lossy;
        match &path {
            Some(p) => output::write(p, &r.text, Existing::Replace, Access::Default)?,
            None => {
                let mut stdout = std::io::stdout().lock();
                match stdout.write_all(&r.text).and_then(|()| stdout.flush()) {
                    // A reader that stopped early (`| head`) is not a failure.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(true),
                    r => r?,
                }
            }
        }
        if r.lossy > 0 {
            eprintln!(
                "warning: {} {list} entr{} carry metadata that compile does not read back from \
                 {} (see c2trie export --help); use --format json to keep it",
                r.lossy,
                if r.lossy == 1 { "y" } else { "ies" },
                args.format.as_str()
            );
        }
        if let Some(p) = path {
            if !args.json {
                println!(
                    "wrote {} ({} list, {} entries, {})",
                    p.display(),
                    list,
                    r.entries,
                    args.format.as_str()
                );
            }
            files.push(json!({
                "list": list.as_str(),
                "file": p.display().to_string(),
                "entries": r.entries,
                "lossy": r.lossy,
            }));
        }
    }
    if args.json {
        let summary = json!({
            "table": args.table.display().to_string(),
            "list_version": table.list_version(),
            "format": args.format.as_str(),
            "files": files,
            "lossy": lossy_total,
        });
        println!("{summary}");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("Dridex"), "Dridex");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(" x"), "\" x\"");
        assert_eq!(csv_field(""), "");
    }
}
