//! `c2trie`: compile C&C IP feeds into a table, look addresses up, inspect, verify, sign,
//! compare and export tables, and show the whole product in one run (`demo`); shell
//! completions (`completions`) and man pages (`man`).
//!
//! Exit codes: 0 success; 1 failure (unreadable input, invalid table, rejected lines under
//! `--strict`, an address that does not parse); 2 usage error; 3 `diff` found differences.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

mod bench;
mod compile;
mod demo;
mod diff;
mod export;
mod inspect;
mod limits;
mod lookup;
mod output;
mod progress;
mod sign;
mod update;

use compile::CompileArgs;
use demo::DemoArgs;
use diff::DiffArgs;
use lookup::LookupArgs;

/// The exit-code table, shown by `--help` (a macro so that `concat!` can use it).
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success (diff: no differences)
  1  failure: unreadable input, invalid table, rejected lines under --strict, an address
     that does not parse
  2  usage error
  3  diff: the tables differ"
    };
}
pub(crate) use exit_codes;

const MAIN_HELP: &str = concat!(
    "Examples:
  c2trie demo
  c2trie compile --global feodo.csv --blocked blocked.txt --approved approved.txt \\
      --list-version 7 -o table.c2t
  c2trie lookup table.c2t 192.0.2.1 2001:db8::1
  c2trie verify table.c2t
  c2trie diff yesterday.c2t table.c2t
  c2trie export table.c2t --dir exported
  c2trie completions bash > /etc/bash_completion.d/c2trie
  c2trie man --out /usr/local/share/man/man1

Every command but keygen, sign, completions and man takes --json for machine-readable
output on standard output.

",
    exit_codes!()
);

/// Compile C&C IP feeds into a validated longest-prefix-match table and query it.
#[derive(Debug, Parser)]
#[command(name = "c2trie", version, long_about = None, after_help = MAIN_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile feeds into a table file.
    #[command(after_help = compile::HELP)]
    Compile(Box<CompileArgs>),
    /// Look addresses up: one JSON object a line, in input order.
    ///
    /// Reads addresses from standard input, one a line, when none are given.
    #[command(after_help = lookup::HELP)]
    Lookup(LookupArgs),
    /// Print a table's header, counts and checksum as JSON.
    #[command(after_help = inspect::INSPECT_HELP)]
    Inspect(TableArgs),
    /// Validate a table: exit 0 when valid, 1 with the reason otherwise.
    ///
    /// With --pubkey, TABLE.sig must also verify with one of the given public keys.
    #[command(after_help = inspect::VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Sign a table with an Ed25519 secret key: writes TABLE.sig beside it.
    ///
    /// Example: c2trie sign --key vendor.key table.c2t
    Sign {
        /// The secret key file (from `c2trie keygen`).
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// The table file.
        table: PathBuf,
    },
    /// Generate an Ed25519 key pair: KEYFILE (secret, never overwritten) and KEYFILE.pub.
    Keygen {
        /// The secret key file to create.
        #[arg(short, long, value_name = "KEYFILE")]
        out: PathBuf,
    },
    /// Compare two tables: entries added and removed per list, and changed metadata.
    ///
    /// Exits 0 when the tables hold the same entries with the same metadata, 3 when they
    /// differ (header fields such as the list version and creation time are shown but do
    /// not count as differences), 1 when a table cannot be read.
    #[command(after_help = diff::HELP)]
    Diff(DiffArgs),
    /// The whole product in one run, on built-in sample lists: compile, decide under
    /// log-only and block, hot-swap to an updated list, print match events.
    #[command(after_help = demo::HELP)]
    Demo(DemoArgs),
    /// Measure lookup speed on a table: single and batch, uniform, hit-heavy and mixed
    /// queries, in million lookups per second.
    #[command(after_help = bench::HELP)]
    Bench(bench::BenchArgs),
    /// Write a table's entries, one list at a time, as a feed that compile reads back.
    #[command(after_help = export::HELP)]
    Export(export::ExportArgs),
    /// Fetch a signed table over HTTP(S) into a directory, once or periodically: verified,
    /// rollback-protected, published crash-safely.
    #[command(after_help = update::HELP)]
    Update(update::UpdateArgs),
    /// Print a shell completion script for c2trie.
    ///
    /// Example: c2trie completions bash > ~/.local/share/bash-completion/completions/c2trie
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the c2trie(1) man page in roff, or write every command's page to a directory.
    ///
    /// Examples: c2trie man | man -l -; c2trie man --out /usr/local/share/man/man1 writes
    /// c2trie.1 and c2trie-COMMAND.1 for each command.
    Man {
        /// Write c2trie.1 and one c2trie-COMMAND.1 page per command into DIR (created if
        /// missing) instead of printing c2trie.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// A command that reads one table.
#[derive(Debug, Args)]
struct TableArgs {
    /// The table file.
    table: PathBuf,
    /// Machine-readable output: one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

/// `verify`: one table, optionally with the public keys its signature must verify with.
#[derive(Debug, Args)]
struct VerifyArgs {
    /// The table file.
    table: PathBuf,
    /// Machine-readable output: one JSON object on standard output.
    #[arg(long)]
    json: bool,
    /// A trusted public key file (repeatable); TABLE.sig must verify with one of them.
    #[arg(long, value_name = "KEYFILE")]
    pubkey: Vec<PathBuf>,
}

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A bad option value found after parsing (a format name, a limit): exit 2, as for any
/// other usage error, not 1.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran and reported why it failed.
    Failure,
    /// Exit 3: `diff` found differences.
    Differ,
}

impl From<bool> for Outcome {
    fn from(ok: bool) -> Outcome {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// `c2trie completions SHELL`: the completion script on standard output.
fn completions(shell: clap_complete::Shell) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "c2trie", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(true)
}

/// `c2trie man`: c2trie(1) on standard output, or every page into a directory.
fn man(out: Option<&std::path::Path>) -> Result<bool> {
    let cmd = Cli::command();
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut stdout)?;
            std::io::Write::flush(&mut stdout)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            println!("wrote the man pages to {}", dir.display());
        }
    }
    Ok(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Compile(a) => a.json(),
        Command::Lookup(a) => a.json(),
        Command::Inspect(a) => a.json,
        Command::Verify(a) => a.json,
        Command::Sign { .. } | Command::Keygen { .. } => false,
        Command::Diff(a) => a.json,
        Command::Demo(a) => a.json,
        Command::Bench(a) => a.json,
        Command::Export(a) => a.json,
        Command::Update(a) => a.json,
        Command::Completions { .. } | Command::Man { .. } => false,
    };
    let result = match cli.command {
        Command::Compile(args) => compile::run(*args).map(Outcome::from),
        Command::Lookup(args) => lookup::run(args).map(Outcome::from),
        Command::Inspect(a) => inspect::inspect(&a.table).map(Outcome::from),
        Command::Verify(a) if a.pubkey.is_empty() => {
            inspect::verify(&a.table, a.json).map(Outcome::from)
        }
        Command::Verify(a) => sign::verify_signed(&a.pubkey, &a.table, a.json).map(Outcome::from),
        Command::Sign { key, table } => sign::sign(&key, &table).map(Outcome::from),
        Command::Keygen { out } => sign::keygen(&out).map(Outcome::from),
        Command::Diff(args) => diff::run(args),
        Command::Demo(args) => demo::run(args).map(Outcome::from),
        Command::Bench(args) => bench::run(args).map(Outcome::from),
        Command::Export(args) => export::run(args).map(Outcome::from),
        Command::Update(args) => update::run(args),
        Command::Completions { shell } => completions(shell).map(Outcome::from),
        Command::Man { out } => man(out.as_deref()).map(Outcome::from),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::FAILURE,
        Ok(Outcome::Differ) => ExitCode::from(3),
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
            }
            eprintln!("c2trie: {e}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
