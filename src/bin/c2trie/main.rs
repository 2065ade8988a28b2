//! `c2trie`: compile C&C IP feeds into a table, look addresses up, inspect and verify tables.
//!
//! Exit codes: 0 success; 1 failure (unreadable input, invalid table, rejected lines under
//! `--strict`, an address that does not parse); 2 usage error.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod compile;
mod inspect;
mod limits;
mod lookup;
mod sign;

use compile::CompileArgs;
use lookup::LookupArgs;

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
    ///
    /// With --pubkey, also require TABLE.sig to verify with one of the given public keys.
    Verify {
        /// The table file.
        table: PathBuf,
        /// A trusted public key file (repeatable); the table must carry a valid signature.
        #[arg(long, value_name = "KEYFILE")]
        pubkey: Vec<PathBuf>,
    },
    /// Sign a table with an Ed25519 secret key: writes TABLE.sig.
    ///
    /// Example: c2trie sign --key vendor.key table.c2t
    Sign {
        /// The secret key file (from `c2trie keygen`).
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// The table file.
        table: PathBuf,
    },
    /// Generate an Ed25519 key pair: KEYFILE (secret) and KEYFILE.pub.
    Keygen {
        /// The secret key file to create (never overwritten).
        #[arg(short, long, value_name = "KEYFILE")]
        out: PathBuf,
    },
}

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(args) => compile::run(args),
        Command::Lookup(args) => lookup::run(args),
        Command::Inspect { table } => inspect::inspect(&table),
        Command::Verify { table, pubkey } if pubkey.is_empty() => inspect::verify(&table),
        Command::Verify { table, pubkey } => sign::verify_signed(&pubkey, &table),
        Command::Sign { key, table } => sign::sign(&key, &table),
        Command::Keygen { out } => sign::keygen(&out),
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
