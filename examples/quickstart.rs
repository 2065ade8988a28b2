//! The whole job on the sample lists this project ships (`examples/data/`, documentation
//! address ranges only): parse three feeds, compile them, load the table through full
//! validation, and look up a mix of addresses, printing what matched.
//!
//! Run: `cargo run --release --example quickstart`

use std::error::Error;
use std::net::IpAddr;
use std::path::Path;

use c2trie::feed::{self, FeedOptions};
use c2trie::{Compiler, List, Table};

fn main() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let mut compiler = Compiler::new();
    compiler.list_version(1);
    for (list, file) in [
        (List::Approved, "approved.txt"),
        (List::Blocked, "blocked.txt"),
        (List::Global, "global.txt"),
    ] {
        let feed = feed::parse_bytes(file, &std::fs::read(data.join(file))?, &FeedOptions::new())?;
        for err in &feed.errors {
            eprintln!("{err}");
        }
        let added = compiler.add_feed(list, &feed)?;
        println!(
            "{list:<8} {file:<13} format {:<6} {} lines, {added} entries",
            feed.format.as_str(),
            feed.stats.lines
        );
    }
    let bytes = compiler.to_vec()?;
    let table = Table::from_bytes(bytes)?;
    println!(
        "compiled {} entries into {} bytes\n",
        table.len(),
        table.as_bytes().len()
    );

    let queries = [
        "192.0.2.1",        // a global C&C host
        "192.0.2.70",       // inside a global /26
        "192.0.2.65",       // inside the same /26, but approved
        "198.51.100.77",    // approved host inside a global /24
        "203.0.113.15",     // inside a global range
        "203.0.113.200",    // user blocked
        "2001:db8:bad::1",  // inside a global IPv6 /48
        "2001:db8:ffff::9", // user blocked IPv6 /64
        "192.0.2.200",      // on no list
    ];
    for q in queries {
        let addr: IpAddr = q.parse()?;
        let hits = table.lookup(addr);
        let mut found = Vec::new();
        for list in List::ALL {
            if let Some(e) = hits.get(list) {
                found.push(format!(
                    "{list} {} ({}:{})",
                    e.prefix(),
                    e.source(),
                    e.tag().unwrap_or("-")
                ));
            }
        }
        let found = if found.is_empty() {
            "no match".to_owned()
        } else {
            found.join(", ")
        };
        println!("{q:<18} {found}");
    }
    Ok(())
}
