//! Replays every saved fuzz input under `tests/data/fuzz/<target>/` through the same checks
//! the fuzz target runs (`tests/fuzz_harness/mod.rs`), so a fixed crash stays fixed without
//! a fuzzer. New crashes go there after `cargo fuzz tmin` (see `fuzz/README.md`); a few
//! corpus entries that reach deep are kept there too (`corpus-*`), so each target is
//! exercised.

mod fuzz_harness;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        // Under Miri, which interprets every compile, the `corpus-*` coverage inputs (large,
        // deep, replayed natively) are left out; seeds and crash inputs always run.
        .filter(|p| {
            !cfg!(miri)
                || !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("corpus-"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no inputs", dir.display());
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    for path in inputs(target) {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
}

#[test]
fn load_bytes() {
    replay("load_bytes", fuzz_harness::load_bytes);
}

#[test]
fn load_deep() {
    replay("load_deep", fuzz_harness::load_deep);
}

#[test]
fn parse_feed() {
    replay("parse_feed", fuzz_harness::parse_feed);
}

#[test]
fn roundtrip() {
    replay("roundtrip", fuzz_harness::roundtrip);
}

#[test]
#[cfg_attr(miri, ignore = "each input makes an 18-bit direct table")]
fn roundtrip_wide() {
    replay("roundtrip_wide", fuzz_harness::roundtrip_wide);
}

/// The edit script format is what the saved `load_deep` inputs mean; pin it.
#[test]
fn edit_scripts_apply_as_documented() {
    let base = fuzz_harness::base_table().to_vec();
    let mut b = base.clone();
    fuzz_harness::apply_edits(&mut b, &[10, 0, 0, 0xff, 0, 0, 0]);
    assert_eq!(b[10], base[10] ^ 0xff);
    assert_eq!(b.len(), base.len());
    let mut b = base.clone();
    fuzz_harness::apply_edits(&mut b, &[100, 0, 4, 0, 0, 0, 0]);
    assert_eq!(b.len(), 100);
    // The unchanged base tables load.
    assert!(c2trie::Table::from_bytes(base).is_ok());
    assert!(c2trie::Table::from_bytes(fuzz_harness::lengths_base_table().to_vec()).is_ok());
}

#[test]
fn embedded_v4() {
    replay("embedded_v4", fuzz_harness::embedded_v4);
}
