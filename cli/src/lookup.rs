//! `c2trie lookup`: addresses in, one JSON object a line out.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;

use c2trie::feed;
use c2trie::{EntryRef, List, Mode, Policy, Table};
use clap::Args;
use serde_json::{Value, json};

use crate::Result;

pub(crate) const HELP: &str = concat!(
    "Examples:
  c2trie lookup table.c2t 192.0.2.1 2001:db8::1
  c2trie lookup table.c2t --global-mode block ::ffff:192.0.2.1
  cut -d, -f2 connections.csv | c2trie lookup table.c2t > verdicts.jsonl

Each output line is one JSON object: the address, the verdict (allow, block, log, pass),
the list that decided it, each list's longest match (null when none) and the matching
entries' source and tag. An address that does not parse gets an \"error\" field and
makes the exit code 1; the other addresses are still answered.

",
    crate::exit_codes!()
);

#[derive(Debug, Args)]
pub(crate) struct LookupArgs {
    /// The table file.
    table: PathBuf,
    /// Addresses to look up (default: read standard input).
    addrs: Vec<String>,
    /// Mode of the global C&C list: off, log or block.
    #[arg(long, default_value = "log", value_name = "MODE")]
    global_mode: Mode,
    /// Mode of the user blocked list: off, log or block.
    #[arg(long, default_value = "block", value_name = "MODE")]
    blocked_mode: Mode,
    /// Do not decode IPv4 addresses embedded in IPv6 addresses (mapped, NAT64, 6to4,
    /// Teredo, ...). They are decoded by default, so that no IPv6 spelling of a listed IPv4
    /// address passes.
    #[arg(long)]
    no_embedded: bool,
    /// Accepted for uniformity with the other commands: the output is always JSON lines.
    #[arg(long)]
    json: bool,
}

impl LookupArgs {
    /// Whether `--json` was given (errors are then also reported as JSON).
    pub(crate) fn json(&self) -> bool {
        self.json
    }
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

pub(crate) fn run(args: LookupArgs) -> Result<bool> {
    let table =
        Table::read_file(&args.table).map_err(|e| format!("{}: {e}", args.table.display()))?;
    let mut policy = Policy::new(args.global_mode, args.blocked_mode);
    if args.no_embedded {
        policy.embedded = c2trie::policy::EmbeddedV4::none();
    }
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
                let decision = policy.decide(&table, addr);
                let hits = table.lookup(addr);
                let mut obj = serde_json::Map::new();
                obj.insert("addr".into(), Value::String(addr.to_string()));
                let mut details = serde_json::Map::new();
                for list in List::ALL {
                    // The literal address's match, else the one through the embedded IPv4
                    // address that decided the verdict.
                    let embedded = (decision.matched_addr() != addr)
                        .then(|| table.lookup(decision.matched_addr()).get(list))
                        .flatten();
                    let (prefix, detail) = entry_json(hits.get(list).or(embedded));
                    obj.insert(list.as_str().into(), prefix);
                    if !detail.is_null() {
                        details.insert(list.as_str().into(), detail);
                    }
                }
                obj.insert("verdict".into(), json!(decision.verdict().as_str()));
                obj.insert(
                    "decided_by".into(),
                    json!(decision.list().map(List::as_str)),
                );
                if let Some(via) = decision.via() {
                    obj.insert("via".into(), json!(via.as_str()));
                    obj.insert(
                        "matched_addr".into(),
                        json!(decision.matched_addr().to_string()),
                    );
                }
                obj.insert("matches".into(), Value::Object(details));
                obj.insert("list_version".into(), json!(table.list_version()));
                Value::Object(obj)
            }
        };
        writeln!(out, "{line}")
    };
    if args.addrs.is_empty() {
        // Lines are read as bytes, at most MAX_LINE of each kept: a line that is not UTF-8,
        // or too long, costs that line (an error object), never the run or the memory.
        const MAX_LINE: usize = 4096;
        let mut bad = false;
        let mut input = io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut input)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            let complete = buf.last() == Some(&b'\n') || buf.len() <= MAX_LINE;
            if !complete {
                // Skip the rest of the over-long line.
                loop {
                    let (done, used) = {
                        let avail = input.fill_buf()?;
                        match avail.iter().position(|&b| b == b'\n') {
                            Some(i) => (true, i + 1),
                            None => (avail.is_empty(), avail.len()),
                        }
                    };
                    input.consume(used);
                    if done {
                        break;
                    }
                }
                bad = true;
                writeln!(
                    out,
                    "{}",
                    json!({ "error": format!("line longer than {MAX_LINE} bytes") })
                )?;
                continue;
            }
            match std::str::from_utf8(&buf) {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => one(line, &mut out)?,
                Err(e) => {
                    bad = true;
                    let msg = format!("invalid utf-8 at byte {}", e.valid_up_to());
                    writeln!(out, "{}", json!({ "error": msg }))?;
                }
            }
        }
        if bad {
            out.flush()?;
            return Ok(false);
        }
    } else {
        for a in &args.addrs {
            one(a, &mut out)?;
        }
    }
    out.flush()?;
    Ok(ok)
}
