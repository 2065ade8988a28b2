//! Finding the built libraries and a C compiler.

#![allow(dead_code)] // Each test binary uses part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory holding this crate's freshly built libraries. The test executable lives
/// in `<target>/<profile>/deps/` (or `<target>/<triple>/<profile>/deps/`), and so do the
/// libraries cargo builds for a test run; `cargo build` copies them one level up. So this
/// works for any profile, target or `CARGO_TARGET_DIR`; of the two places, the newer wins.
pub(crate) fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("the test executable has a directory");
    let found = [Some(deps), deps.parent()]
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let m = std::fs::metadata(d.join(static_lib_name())).ok()?;
            Some((m.modified().ok()?, d.to_path_buf()))
        })
        .max();
    match found {
        Some((_, dir)) => dir,
        None => panic!(
            "{} not found next to {}: cargo builds it with this crate's tests",
            static_lib_name(),
            exe.display()
        ),
    }
}

pub(crate) fn static_lib_name() -> &'static str {
    if cfg!(windows) {
        "c2trie_capi.lib"
    } else {
        "libc2trie_capi.a"
    }
}

pub(crate) fn shared_lib_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "libc2trie_capi.dylib"
    } else if cfg!(windows) {
        "c2trie_capi.dll"
    } else {
        "libc2trie_capi.so"
    }
}

/// The system libraries a Rust static library needs on this target (what
/// `rustc --print native-static-libs` reports).
pub(crate) fn native_libs() -> &'static [&'static str] {
    if cfg!(target_os = "linux") {
        &[
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
    } else if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm", "-framework", "CoreFoundation"]
    } else {
        &["-lpthread", "-lm", "-ldl"]
    }
}

pub(crate) fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

/// The C compiler: `$CC`, else `cc`.
pub(crate) fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// The C++ compiler: `$CXX`, else `c++`.
pub(crate) fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned())
}

/// Runs a command, panicking with its output if it cannot start or fails.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether AddressSanitizer programs build and run here (it needs compiler support and
/// may be refused by a sandbox).
pub(crate) fn asan_works(dir: &Path) -> bool {
    let src = dir.join("asan_probe.c");
    let exe = dir.join("asan_probe");
    std::fs::write(
        &src,
        "#include <stdlib.h>\nint main(void){char*p=malloc(8);p[0]=1;free(p);return 0;}\n",
    )
    .unwrap();
    let built = Command::new(cc())
        .args(["-fsanitize=address", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success());
    built
        && Command::new(&exe)
            .output()
            .is_ok_and(|o| o.status.success())
}
