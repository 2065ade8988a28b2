//! Progress on long work: a byte bar while a large feed is read, a spinner while a large
//! table is built. Shown only on an interactive standard error, never with `--json`, so
//! pipes, logs and scripts get clean output.

use std::fs::File;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use c2trie::feed::{self, Feed, FeedError, FeedOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Feeds smaller than this are read too fast for a bar to be worth drawing.
const MIN_BYTES: u64 = 1 << 20;

/// Tables with fewer entries than this are built too fast for a spinner.
const MIN_ENTRIES: usize = 100_000;

/// Whether progress may be drawn: standard error is a terminal and JSON was not asked for.
pub(crate) fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// The name a feed read from standard input (`-`) gets: its entries' source, and the
/// `FILE` of its `FILE:LINE: REASON` messages.
pub(crate) const STDIN_NAME: &str = "stdin";

/// Whether a feed argument names standard input.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The feed's name: the path as given, or [`STDIN_NAME`] for `-`.
pub(crate) fn feed_name(path: &Path) -> String {
    if is_stdin(path) {
        STDIN_NAME.to_owned()
    } else {
        path.display().to_string()
    }
}

/// [`feed::read_file`], with a byte bar for a large file when `show`; `-` reads standard
/// input (gzip is recognized there as in a file; no bar, its length is unknown).
pub(crate) fn read_feed(path: &Path, opts: &FeedOptions, show: bool) -> Result<Feed, FeedError> {
    if is_stdin(path) {
        return feed::parse_reader(STDIN_NAME, std::io::stdin().lock(), opts);
    }
    let file = File::open(path)?;
    let len = file.metadata().map_or(0, |m| m.len());
    let name = path.display().to_string();
    if !show || len < MIN_BYTES {
        return feed::parse_reader(&name, file, opts);
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("reading {name}"));
    let feed = feed::parse_reader(&name, bar.wrap_read(file), opts);
    bar.finish_and_clear();
    feed
}

/// A spinner for building a table of `entries` entries, when `show` and the table is large;
/// it disappears when dropped.
pub(crate) fn building(entries: usize, show: bool) -> Option<Spinner> {
    if !show || entries < MIN_ENTRIES {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("building the table ({entries} entries)"));
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(Spinner(bar))
}

/// A running spinner; cleared on drop.
#[derive(Debug)]
pub(crate) struct Spinner(ProgressBar);

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
