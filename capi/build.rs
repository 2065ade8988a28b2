//! Gives the shared library its SONAME on ELF targets: `libc2trie.so.0.MINOR` while the
//! major version is 0 (a minor release may change the ABI), `libc2trie.so.MAJOR` from 1.0
//! on. cargo names the file `libc2trie_capi.so`; `make install` (see `Makefile`) installs it
//! as `libc2trie.so.VERSION` with the SONAME link beside it. The ABI policy is in
//! `README.md`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF targets whose linker takes `-soname`; macOS (install_name) and Windows (DLL names)
    // have other conventions.
    if !matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos"
    ) {
        return;
    }
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let abi = if major == "0" {
        format!("0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        major.to_owned()
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libc2trie.so.{abi}");
}
