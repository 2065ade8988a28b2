//! Hostile feed text through every format: ambiguous address spellings are line errors with
//! `file:line`, never entries; a line of gigabytes and a binary file cost bounded memory;
//! the input cap holds. Memory is measured with a counting allocator (this test binary
//! only), not guessed.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use c2trie::feed::{self, Feed, FeedErrorKind, FeedOptions, Format};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts sizes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The memory tests run one at a time so that each one's peak is its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak heap growth while `f` runs, in bytes.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// `len` bytes from a generator, then `tail`: input of any size without holding it.
struct Generated<F> {
    left: u64,
    next: F,
    tail: io::Cursor<Vec<u8>>,
}

impl<F: FnMut() -> u8> Read for Generated<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return self.tail.read(buf);
        }
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for b in &mut buf[..n] {
            *b = (self.next)();
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn generated<F: FnMut() -> u8>(len: u64, next: F, tail: &str) -> Generated<F> {
    Generated {
        left: len,
        next,
        tail: io::Cursor::new(tail.as_bytes().to_vec()),
    }
}

const GIB: u64 = 1 << 30;

/// Every format this build reads (JSON needs the `serde` feature).
fn formats() -> impl Iterator<Item = Format> {
    Format::ALL
        .into_iter()
        .filter(|f| cfg!(feature = "serde") || *f != Format::Json)
}

#[test]
fn a_line_of_three_gigabytes_costs_no_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let opts = FeedOptions::new()
        .with_format(Format::Plain)
        .with_max_input_bytes(u64::MAX);
    let reader = generated(3 * GIB, || b'7', "\n192.0.2.1\n");
    let (feed, peak) = peak_during(|| feed::parse_reader("huge.txt", reader, &opts).unwrap());
    assert_eq!(feed.errors.len(), 1);
    assert_eq!(feed.errors[0].line, 1);
    assert!(
        feed.errors[0].reason.contains("longer than"),
        "{:?}",
        feed.errors[0]
    );
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(feed.entries[0].line, 2);
    assert!(peak > 0, "the allocator counts");
    assert!(
        peak < 8 << 20,
        "peak heap growth {peak} bytes for a 3 GiB line"
    );
}

#[test]
fn the_default_input_cap_stops_an_endless_feed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Valid lines forever: only the 1 GiB default cap ends it, and the entries read until
    // then are the only memory it takes. Lower the cap so the test stays quick.
    let line = b"192.0.2.1\n";
    let mut i = 0;
    let endless = generated(
        u64::MAX,
        move || {
            i += 1;
            line[(i - 1) % line.len()]
        },
        "",
    );
    let opts = FeedOptions::new().with_max_input_bytes(1 << 20);
    let err = feed::parse_reader("endless.txt", endless, &opts).unwrap_err();
    assert!(
        matches!(err.kind(), FeedErrorKind::TooLarge { limit } if limit == 1 << 20),
        "{err}"
    );
}

#[test]
fn a_binary_file_is_refused_or_costs_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    };
    // Random bytes hold a NUL within the first 8 KiB: refused outright as binary.
    let reader = generated(64 << 20, &mut rand, "");
    let err = feed::parse_reader("blob.bin", reader, &FeedOptions::new()).unwrap_err();
    assert!(matches!(err.kind(), FeedErrorKind::Binary { .. }), "{err}");
    // Binary without NULs (every format): read through as bad lines in bounded memory.
    for format in formats() {
        let reader = generated(32 << 20, || rand().max(1), "");
        let opts = FeedOptions::new().with_format(format);
        let (feed, peak) = peak_during(|| feed::parse_reader("blob.bin", reader, &opts).unwrap());
        assert!(
            feed.entries.len() < 16,
            "{format}: {} entries",
            feed.entries.len()
        );
        assert!(peak < 32 << 20, "{format}: peak heap growth {peak} bytes");
    }
}

/// One feed line for `format` with `addr` where the address goes, plus any header.
fn line_for(format: Format, addr: &str) -> (String, u64) {
    match format {
        Format::Plain | Format::Netset | Format::Auto => (format!("# feed\n{addr}\n"), 2),
        Format::Drop => (format!("; drop\n{addr} ; SBL1\n"), 2),
        Format::Ipsum => (format!("# ipsum\n{addr}\t5\n"), 2),
        Format::AsnTable => (format!("; asn\n{addr}\t13335\n"), 2),
        Format::FeodoCsv => (
            format!(
                "\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
                 \"2024-01-01 00:00:00\",\"{addr}\",\"443\",\"online\",\"2024-01-01\",\"Pikabot\"\n"
            ),
            2,
        ),
        Format::Csv => (format!("ip,description\n{addr},c2\n"), 2),
        Format::Json => (
            format!("[\n{{\"ip\": \"{addr}\", \"tag\": \"c2\"}}\n]\n"),
            2,
        ),
        _ => unreachable!("a format without a template: {format}"),
    }
}

fn parse(format: Format, text: &str) -> Feed {
    let opts = FeedOptions::new().with_format(format);
    feed::parse_bytes("feed.txt", text.as_bytes(), &opts).unwrap()
}

#[test]
fn ambiguous_spellings_are_line_errors_in_every_format() {
    let ambiguous = [
        ("010.1.1.1", "zero-padded"),
        ("192.168.001.1", "zero-padded"),
        ("0x7f.0.0.1", "hex"),
        ("1.2.3", "shortened"),
        ("127.1", "shortened"),
        ("2130706433", "shortened"),
        ("fe80::1%eth0", "zone"),
        ("::ffff:010.1.1.1", ""),
    ];
    for format in formats() {
        // The template is right: the plain address is accepted.
        let (good, line) = line_for(format, "192.0.2.1");
        let f = parse(format, &good);
        assert_eq!(f.entries.len(), 1, "{format}: {good:?} {:?}", f.errors);
        assert_eq!(f.entries[0].line, line);
        for (addr, why) in ambiguous {
            let (text, line) = line_for(format, addr);
            let f = parse(format, &text);
            assert!(
                f.entries.is_empty(),
                "{format}: {addr} became {:?}",
                f.entries
            );
            assert_eq!(f.errors.len(), 1, "{format}: {addr}: {:?}", f.errors);
            let e = &f.errors[0];
            assert_eq!(
                (e.source.as_str(), e.line),
                ("feed.txt", line),
                "{format}: {e}"
            );
            assert!(e.reason.contains(why), "{format}: {addr}: {e}");
            assert!(
                e.to_string().starts_with(&format!("feed.txt:{line}: ")),
                "{e}"
            );
        }
    }
}

#[test]
fn a_long_line_in_every_format_is_one_line_error() {
    let long = "9".repeat(100_000);
    for format in formats() {
        let (text, line) = line_for(format, &long);
        let f = parse(format, &text);
        assert!(f.entries.is_empty(), "{format}");
        assert_eq!(f.errors.len(), 1, "{format}: {:?}", f.errors);
        assert_eq!(f.errors[0].line, line, "{format}");
    }
}
