//! `include/c2trie.h` is written by hand, so these tests hold it to the code: the functions
//! it declares are exactly the `c2trie_*` symbols the shared library exports; every struct
//! size, field offset and constant a C compiler sees equals the Rust value; and the header
//! compiles on its own as strict C99 and as C++.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::process::Command;

use c2trie_capi::*;
use common::*;

fn header() -> String {
    std::fs::read_to_string(include_dir().join("c2trie.h")).unwrap()
}

/// The header without its comments.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out
}

/// Names of the functions the header declares: `c2trie_` identifiers followed by `(`.
fn declared_functions(text: &str) -> BTreeSet<String> {
    let code = code(text);
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("c2trie_") {
        let after = &rest[i..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let boundary =
            i == 0 || !rest[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if boundary && after[end..].trim_start().starts_with('(') {
            names.insert(after[..end].to_owned());
        }
        rest = &after[end..];
    }
    names
}

#[test]
#[cfg(target_os = "linux")]
fn header_declares_exactly_the_exported_symbols() {
    let so = lib_dir().join(shared_lib_name());
    let out = run_ok(Command::new("nm").args(["-D", "--defined-only"]).arg(&so));
    let exported: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("c2trie_"))
        .map(str::to_owned)
        .collect();
    let declared = declared_functions(&header());
    assert!(exported.len() >= 30, "exported: {exported:?}");
    let missing: Vec<_> = exported.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&exported).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "exported but not declared in c2trie.h: {missing:?}\n\
         declared in c2trie.h but not exported: {extra:?}"
    );
    // Nothing else leaks out unprefixed from this crate (std's own symbols aside, which a
    // cdylib does not export).
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    for line in all.lines() {
        let (kind, name) = match line.split_whitespace().collect::<Vec<_>>()[..] {
            [_, k, n] | [k, n] => (k, n),
            _ => continue,
        };
        if kind == "T" && !name.starts_with("c2trie_") && !name.starts_with('_') {
            panic!("unexpected exported function {name}");
        }
    }
}

#[test]
fn declared_functions_are_parsed() {
    let names = declared_functions(
        "/* c2trie_comment(x) */ int c2trie_a(void);\nconst char *c2trie_b (int);\n\
         typedef struct c2trie_t c2trie_t; int notc2trie_c(void);",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["c2trie_a", "c2trie_b"]
    );
}

/// What the C side must agree on: `name -> value`.
fn rust_layout() -> BTreeMap<String, i128> {
    let mut m = BTreeMap::new();
    macro_rules! structs {
        ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
            m.insert(format!("sizeof {}", stringify!($ty)), size_of::<$ty>() as i128);
            $(
                m.insert(
                    format!("offsetof {}.{}", stringify!($ty), stringify!($field)),
                    offset_of!($ty, $field) as i128,
                );
                m.insert(
                    format!("fieldsize {}.{}", stringify!($ty), stringify!($field)),
                    std::mem::size_of_val(&<$ty>::default().$field) as i128,
                );
            )*
        )*};
    }
    structs! {
        c2trie_addr { family, bytes }
        c2trie_match { size, list, found, family, prefix_len, risk, prefix, expires, source, source_len, tag, tag_len }
        c2trie_matches { lists }
        c2trie_decision { size, verdict, reason, list, via, matched, entry, list_version, generation }
        c2trie_table_info { format_version, list_version, created_unix, checksum, bytes, entries, counts }
        c2trie_swap { generation, list_version, previous_version, had_previous }
        c2trie_live_info { generation, list_version, created_unix, has_table, fail_mode }
    }
    macro_rules! constants {
        ($($name:ident)*) => {$( m.insert(stringify!($name).to_owned(), $name as i128); )*};
    }
    constants! {
        C2TRIE_OK C2TRIE_ERR_NULL C2TRIE_ERR_ARGUMENT C2TRIE_ERR_IO C2TRIE_ERR_INVALID_TABLE
        C2TRIE_ERR_ROLLBACK C2TRIE_ERR_NO_TABLE C2TRIE_ERR_SIZE C2TRIE_ERR_PANIC
        C2TRIE_FAMILY_V4 C2TRIE_FAMILY_V6
        C2TRIE_LIST_NONE C2TRIE_LIST_APPROVED C2TRIE_LIST_BLOCKED C2TRIE_LIST_GLOBAL C2TRIE_LISTS
        C2TRIE_MODE_OFF C2TRIE_MODE_LOG C2TRIE_MODE_BLOCK
        C2TRIE_VERDICT_PASS C2TRIE_VERDICT_ALLOW C2TRIE_VERDICT_LOG C2TRIE_VERDICT_BLOCK
        C2TRIE_REASON_LISTED C2TRIE_REASON_UNLISTED C2TRIE_REASON_NO_TABLE
        C2TRIE_FAIL_OPEN C2TRIE_FAIL_CLOSED
        C2TRIE_RELOAD_MAP C2TRIE_RELOAD_FORCE
        C2TRIE_EMBED_MAPPED C2TRIE_EMBED_COMPATIBLE C2TRIE_EMBED_TRANSLATED C2TRIE_EMBED_NAT64
        C2TRIE_EMBED_NAT64_LOCAL C2TRIE_EMBED_NAT64_OPERATOR C2TRIE_EMBED_6TO4
        C2TRIE_EMBED_TEREDO_SERVER C2TRIE_EMBED_TEREDO_CLIENT C2TRIE_EMBED_ISATAP C2TRIE_EMBED_ALL
    }
    // The header's version macros are the crate's version (`capi/Cargo.toml`).
    for (name, value) in [
        ("C2TRIE_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("C2TRIE_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("C2TRIE_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        m.insert(name.to_owned(), value.parse().unwrap());
    }
    // What the initializer macros set equals what the init functions write.
    let d = c2trie_decision::default();
    let ms = c2trie_matches::default();
    for (key, value) in [
        ("init decision.size", d.size.into()),
        ("init decision.entry.size", d.entry.size.into()),
        ("init decision.list", d.list.into()),
        ("init decision.via", d.via.into()),
        ("init decision.verdict", d.verdict.into()),
        ("init decision.reason", d.reason.into()),
        ("init decision.entry.list", d.entry.list.into()),
        ("init matches.lists[2].size", ms.lists[2].size.into()),
        ("init matches.lists[1].list", ms.lists[1].list.into()),
    ] {
        m.insert(key.to_owned(), value);
    }
    m
}

#[test]
fn version_macros_are_the_crate_version() {
    let h = header();
    for (name, value) in [
        ("C2TRIE_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("C2TRIE_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("C2TRIE_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define {name} {value}\n");
        assert!(h.contains(&line), "c2trie.h lacks {line:?}");
    }
    // SAFETY: `c2trie_version` returns a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(c2trie_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn c_compiler_sees_the_rust_layouts_and_constants() {
    let rust = rust_layout();
    let mut src = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"c2trie.h\"\nint main(void) {\n\
         c2trie_decision decision = C2TRIE_DECISION_INIT;\n\
         c2trie_matches matches = C2TRIE_MATCHES_INIT;\n",
    );
    for key in rust.keys() {
        let expr = if let Some(field) = key.strip_prefix("init ") {
            field.to_owned()
        } else if let Some(ty) = key.strip_prefix("sizeof ") {
            format!("sizeof({ty})")
        } else if let Some(f) = key.strip_prefix("offsetof ") {
            let (ty, field) = f.split_once('.').unwrap();
            format!("offsetof({ty}, {field})")
        } else if let Some(f) = key.strip_prefix("fieldsize ") {
            let (ty, field) = f.split_once('.').unwrap();
            format!("sizeof((({ty} *)0)->{field})")
        } else {
            key.clone()
        };
        writeln!(
            src,
            "    printf(\"%s=%lld\\n\", \"{key}\", (long long)({expr}));"
        )
        .unwrap();
    }
    src.push_str("    return 0;\n}\n");

    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("layout.c");
    let exe = tmp.path().join("layout");
    std::fs::write(&c, src).unwrap();
    run_ok(
        Command::new(cc())
            .args(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(include_dir())
            .arg(&c)
            .arg("-o")
            .arg(&exe),
    );
    let out = run_ok(&mut Command::new(&exe));
    let seen: BTreeMap<String, i128> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect();
    let wrong: Vec<String> = rust
        .iter()
        .filter(|(k, v)| seen.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: Rust {v}, C {:?}", seen.get(k)))
        .collect();
    assert!(
        wrong.is_empty(),
        "C and Rust disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn header_compiles_alone_as_c99_and_cpp() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("only.c");
    std::fs::write(&c, "#include \"c2trie.h\"\n#include \"c2trie.h\"\n").unwrap();
    run_ok(
        Command::new(cc())
            .args([
                "-std=c99",
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
            ])
            .arg("-I")
            .arg(include_dir())
            .arg(&c),
    );
    let cpp = tmp.path().join("only.cpp");
    std::fs::write(
        &cpp,
        "#include \"c2trie.h\"\nint main() {\n\
         c2trie_decision d = C2TRIE_DECISION_INIT;\n\
         c2trie_matches m = C2TRIE_MATCHES_INIT;\n\
         c2trie_policy *p = nullptr;\n\
         if (c2trie_policy_new(&p) != C2TRIE_OK) return 1;\n\
         c2trie_policy_free(p);\n\
         return static_cast<int>(d.size + m.lists[0].size) > 0 ? 0 : 1;\n\
         }\n",
    )
    .unwrap();
    run_ok(
        Command::new(cxx())
            .args([
                "-std=c++11",
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Wold-style-cast",
                "-Werror",
                "-fsyntax-only",
            ])
            .arg("-I")
            .arg(include_dir())
            .arg(&cpp),
    );
}
