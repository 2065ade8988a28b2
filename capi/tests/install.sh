#!/usr/bin/env bash
# `make -C capi install` into a temporary prefix, then build the C example against what it
# installed, as a C or C++ team would: pkg-config (shared, then static), CMake
# (find_package), and check the SONAME, the symlinks, DESTDIR and uninstall.
#
#   capi/tests/install.sh          (from anywhere; CI runs it as root on Debian, where it
#                                   installs pkg-config and cmake if they are missing)
#
# Honours CARGO_TARGET_DIR, as capi/Makefile does.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "install.sh: $*" >&2; exit 1; }
need() {
    command -v "$1" >/dev/null && return
    [ "$(id -u)" = 0 ] || fail "$1 is missing (apt-get install $2)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" \
        >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" \
            >/dev/null
    }
}
need pkg-config pkg-config
need cmake cmake
need readelf binutils

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' capi/Cargo.toml | head -n 1)"
major="${version%%.*}"
minor="${version#*.}"
minor="${minor%%.*}"
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi

echo "--- make install PREFIX=$prefix (version $version, ABI $abi)"
make -s -C capi install PREFIX="$prefix"
lib="$prefix/lib"
for f in include/c2trie.h lib/libc2trie.a "lib/libc2trie.so.$version" \
    lib/pkgconfig/c2trie.pc lib/cmake/c2trie/c2trie-config.cmake \
    lib/cmake/c2trie/c2trie-config-version.cmake; do
    test -f "$prefix/$f" || fail "$f was not installed"
done
[ "$(readlink "$lib/libc2trie.so.$abi")" = "libc2trie.so.$version" ] || fail "soname link"
[ "$(readlink "$lib/libc2trie.so")" = "libc2trie.so.$abi" ] || fail "dev link"
readelf -d "$lib/libc2trie.so.$version" | grep -F "Library soname: [libc2trie.so.$abi]" \
    || fail "the shared library's SONAME is not libc2trie.so.$abi"
grep -qx "#define C2TRIE_VERSION_MAJOR $major" "$prefix/include/c2trie.h" \
    || fail "c2trie.h's C2TRIE_VERSION_MAJOR is not $major"

# Libs.private is what rustc says a static library of this crate needs.
native="$(cargo rustc -q -p c2trie-capi --release --lib --crate-type staticlib \
    -- --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -n 1)"
export PKG_CONFIG_PATH="$lib/pkgconfig"
private="$(sed -n 's/^Libs.private: //p' "$lib/pkgconfig/c2trie.pc")"
[ "$private" = "$native" ] || fail "c2trie.pc Libs.private '$private', rustc says '$native'"
[ "$(pkg-config --modversion c2trie)" = "$version" ] || fail "pkg-config version"

echo "--- the sample table"
cargo run -q --release -p c2trie-cli -- compile --approved examples/data/approved.txt \
    --blocked examples/data/blocked.txt --global examples/data/global.txt --list-version 1 \
    -o "$tmp/sample.c2t"
cat >"$tmp/expected" <<'OUT'
sample.c2t: list version 1, 13 entries
192.0.2.1              log    global 192.0.2.1/32 from examples/data/global.txt
198.51.100.77          allow  approved 198.51.100.77/32 from examples/data/approved.txt
203.0.113.200          block  blocked 203.0.113.200/32 from examples/data/blocked.txt
::ffff:203.0.113.200   block  blocked 203.0.113.200/32 from examples/data/blocked.txt (via the IPv4 address it embeds)
192.0.2.200            pass 
OUT
lookup() { (cd "$tmp" && "$@" sample.c2t 192.0.2.1 198.51.100.77 203.0.113.200 \
    ::ffff:203.0.113.200 192.0.2.200); }
src="$PWD/capi/examples/c/lookup.c"
cc="${CC:-cc}"

echo "--- pkg-config, shared: $(pkg-config --cflags --libs c2trie)"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
"$cc" -O2 -Wall -Wextra -Werror -o "$tmp/lookup-shared" "$src" \
    $(pkg-config --cflags --libs c2trie)
readelf -d "$tmp/lookup-shared" | grep -F "Shared library: [libc2trie.so.$abi]" \
    || fail "lookup-shared does not need libc2trie.so.$abi"
LD_LIBRARY_PATH="$lib" lookup "$tmp/lookup-shared" >"$tmp/out-shared"
diff -u "$tmp/expected" "$tmp/out-shared" || fail "lookup-shared printed something else"

echo "--- pkg-config, static: $(pkg-config --static --libs c2trie)"
# The linker prefers libc2trie.so when both are installed: ask for the archive.
static="$(pkg-config --static --libs c2trie)"
static="${static/-lc2trie/-Wl,-Bstatic -lc2trie -Wl,-Bdynamic}"
# shellcheck disable=SC2046,SC2086
"$cc" -O2 -Wall -Wextra -Werror -o "$tmp/lookup-static" "$src" \
    $(pkg-config --static --cflags c2trie) $static
if readelf -d "$tmp/lookup-static" | grep -F libc2trie; then
    fail "lookup-static needs a shared libc2trie"
fi
lookup "$tmp/lookup-static" >"$tmp/out-static"
diff -u "$tmp/expected" "$tmp/out-static" || fail "lookup-static printed something else"

echo "--- CMake: find_package(c2trie $major.$minor), shared and static"
mkdir -p "$tmp/cmake"
cat >"$tmp/cmake/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.13)
project(lookup C)
find_package(c2trie $major.$minor REQUIRED)
add_executable(lookup "$src")
target_link_libraries(lookup PRIVATE c2trie::c2trie)
add_executable(lookup-static "$src")
target_link_libraries(lookup-static PRIVATE c2trie::c2trie_static)
CMAKE
cmake -S "$tmp/cmake" -B "$tmp/cmake/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake/build" >/dev/null
readelf -d "$tmp/cmake/build/lookup" | grep -qF "[libc2trie.so.$abi]" || fail "cmake: shared"
LD_LIBRARY_PATH="$lib" lookup "$tmp/cmake/build/lookup" | diff -u "$tmp/expected" - \
    || fail "cmake: lookup"
lookup "$tmp/cmake/build/lookup-static" | diff -u "$tmp/expected" - \
    || fail "cmake: lookup-static"
# An incompatible version is refused: the next 0.x minor (or next major) is another ABI.
if [ "$major" = 0 ]; then newer="0.$((minor + 1))"; else newer="$((major + 1))"; fi
sed -i "s/find_package(c2trie $major.$minor REQUIRED)/find_package(c2trie $newer REQUIRED)/" \
    "$tmp/cmake/CMakeLists.txt"
if cmake -S "$tmp/cmake" -B "$tmp/cmake/build2" -DCMAKE_PREFIX_PATH="$prefix" \
    >/dev/null 2>&1; then
    fail "cmake accepted version $version for a request of $newer"
fi

echo "--- DESTDIR and uninstall"
make -s -C capi install PREFIX=/opt/c2trie DESTDIR="$tmp/stage"
test -f "$tmp/stage/opt/c2trie/lib/libc2trie.so.$version" || fail "DESTDIR install"
grep -qx "prefix=/opt/c2trie" "$tmp/stage/opt/c2trie/lib/pkgconfig/c2trie.pc" \
    || fail "the staged c2trie.pc must name the final prefix"
make -s -C capi uninstall PREFIX="$prefix"
left="$(find "$prefix" -type f -o -type l)"
[ -z "$left" ] || fail "uninstall left: $left"

echo "install.sh: installed, found by pkg-config and CMake, linked shared and static: ok"
