/*
 * c2trie.h: the C ABI of c2trie.
 *
 * c2trie answers, per network connection, whether the remote address is on a
 * command-and-control (C&C) list (the vendor's global list, the user's blocked list, the
 * user's approved list) and what to do about it under a run-time policy. Tables are
 * compiled ahead of time (`c2trie compile`, or the Rust `Compiler`) and validated in full
 * when opened; after that, lookups never fail, never allocate and never block.
 *
 * Conventions
 * -----------
 * - Every function that can fail returns an `int` status: C2TRIE_OK (0) or a
 *   C2TRIE_ERR_* code. On failure, c2trie_last_error() describes it and out-parameters are
 *   left untouched.
 * - Every pointer argument is checked for NULL (C2TRIE_ERR_NULL), except where a NULL is
 *   documented to mean something (a NULL policy is the default policy; a NULL `out` of a
 *   reload means "no report wanted"). Pointers must otherwise be valid for what the
 *   function reads or writes.
 * - No panic or other Rust failure crosses this boundary: an internal error (a bug) is
 *   reported as C2TRIE_ERR_PANIC.
 * - Addresses are bytes in network order: 4 for IPv4 (as in `struct in_addr`), 16 for
 *   IPv6 (as in `struct in6_addr`). `(const uint8_t *)&sin.sin_addr` can be passed as is.
 * - Strings in results (an entry's source and tag) are UTF-8, NOT NUL-terminated, with an
 *   explicit length, and borrowed from the table handle the result came from: they stay
 *   valid until that handle is freed. Print them with printf("%.*s", (int)len, ptr).
 *   Decisions from a live handle carry no strings (NULL); take a snapshot
 *   (c2trie_live_snapshot) to get them.
 * - Structs that can grow start with `uint32_t size`, the caller's sizeof: c2trie_match,
 *   c2trie_decision (and its `entry`), and so c2trie_matches. Initialize every one the
 *   library is to write with its _INIT macro (C2TRIE_DECISION_INIT, C2TRIE_MATCHES_INIT)
 *   or function (c2trie_decision_init, c2trie_matches_init), every element of a batch too;
 *   the library writes only the fields that size covers and never past it. A size of 0, or
 *   one smaller than any layout the library knows, fails with C2TRIE_ERR_SIZE and nothing is
 *   written. A result is initialized and may be reused for any number of calls. The policy
 *   is an opaque handle (c2trie_policy_new) and grows by new functions. See capi/README.md,
 *   "ABI policy".
 *
 * Thread safety
 * -------------
 * Each function says which of these applies:
 * - [any thread]       may be called from any number of threads at once, on the same
 *                      handle too.
 * - [exclusive]        no other thread may use the handle during the call, nor, for the
 *                      _free functions, after it (a setter's handle stays usable).
 * A table handle is immutable; a live handle swaps tables atomically, so readers never
 * wait for a reload and never see a half-loaded table.
 *
 * Linking
 * -------
 * Installed (make -C capi install PREFIX=...):
 *          cc app.c $(pkg-config --cflags --libs c2trie)
 *          Static: with both libraries installed, `pkg-config --static` alone still links
 *          the shared one; capi/README.md gives the command (-Wl,-Bstatic -lc2trie).
 *          CMake: find_package(c2trie) and target_link_libraries(app c2trie::c2trie)
 * From the build tree:
 *          cc app.c -I capi/include target/release/libc2trie_capi.a \
 *              -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
 * See capi/README.md.
 */
#ifndef C2TRIE_H
#define C2TRIE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version -------------------------------------------------------------------------- */

/** The version of this header. c2trie_version() gives the library's at run time; while the
 *  major version is 0, libraries with the same major and minor version share an ABI (the
 *  SONAME libc2trie.so.0.MINOR). */
#define C2TRIE_VERSION_MAJOR 0
#define C2TRIE_VERSION_MINOR 1
#define C2TRIE_VERSION_PATCH 0

/* ---- Status codes --------------------------------------------------------------------- */

/** Status codes returned by every fallible function. */
enum c2trie_status {
    /** Success. */
    C2TRIE_OK = 0,
    /** A required pointer argument was NULL. */
    C2TRIE_ERR_NULL = 1,
    /** An argument is out of range: unknown mode, family or flag; an address that does
     *  not parse; a batch too large to address. */
    C2TRIE_ERR_ARGUMENT = 2,
    /** A file could not be opened, read or mapped. */
    C2TRIE_ERR_IO = 3,
    /** The bytes are not a valid c2trie table (wrong magic, unsupported format version,
     *  checksum mismatch, broken invariant). */
    C2TRIE_ERR_INVALID_TABLE = 4,
    /** A reload was refused: the table's list_version is not newer than the one in
     *  service (use C2TRIE_RELOAD_FORCE to roll back on purpose). */
    C2TRIE_ERR_ROLLBACK = 5,
    /** The live handle has no table in service. */
    C2TRIE_ERR_NO_TABLE = 6,
    /** The `size` field of a struct the library is to write is 0 or smaller than any
     *  layout it knows: the struct was not initialized with its _INIT macro or function.
     *  Nothing was written. */
    C2TRIE_ERR_SIZE = 7,
    /** Internal error (a bug in c2trie); the call had no effect. */
    C2TRIE_ERR_PANIC = 99
};

/* ---- Constants ------------------------------------------------------------------------ */

/** Address families (c2trie_addr.family, c2trie_match.family). */
#define C2TRIE_FAMILY_V4 4
#define C2TRIE_FAMILY_V6 6

/** Lists: indexes into c2trie_matches.lists and values of c2trie_decision.list and
 *  c2trie_match.list. */
enum c2trie_list {
    C2TRIE_LIST_NONE = -1,
    /** The user's approved list: an approved entry always allows. */
    C2TRIE_LIST_APPROVED = 0,
    /** The user's blocked list. */
    C2TRIE_LIST_BLOCKED = 1,
    /** The vendor's global C&C list. */
    C2TRIE_LIST_GLOBAL = 2
};
#define C2TRIE_LISTS 3

/** What a list does with the addresses it covers (c2trie_policy_set_mode). */
enum c2trie_mode {
    /** Ignored: addresses fall through to the next list. */
    C2TRIE_MODE_OFF = 0,
    /** Let through and reported (C2TRIE_VERDICT_LOG). */
    C2TRIE_MODE_LOG = 1,
    /** Refused (C2TRIE_VERDICT_BLOCK). */
    C2TRIE_MODE_BLOCK = 2
};

/** Verdicts, numbered by severity: BLOCK > LOG > ALLOW > PASS. */
enum c2trie_verdict {
    /** No list decides: let it through. */
    C2TRIE_VERDICT_PASS = 0,
    /** An approved entry covers the address: let it through. */
    C2TRIE_VERDICT_ALLOW = 1,
    /** A log-only list covers the address: let it through and report it. */
    C2TRIE_VERDICT_LOG = 2,
    /** A blocking list covers the address: refuse it. */
    C2TRIE_VERDICT_BLOCK = 3
};

/** Why a decision came out as it did (c2trie_decision.reason). */
enum c2trie_reason {
    /** An entry decided (c2trie_decision.entry). */
    C2TRIE_REASON_LISTED = 0,
    /** No list decided. */
    C2TRIE_REASON_UNLISTED = 1,
    /** A live handle had no table in service; its fail mode decided. */
    C2TRIE_REASON_NO_TABLE = 2
};

/** What a live handle answers while it has no table (c2trie_live_new). */
enum c2trie_fail_mode {
    /** Pass every address: availability first. */
    C2TRIE_FAIL_OPEN = 0,
    /** Block every address: containment first. */
    C2TRIE_FAIL_CLOSED = 1
};

/** c2trie_live_reload flags. */
/** Map the file instead of reading it. The file must then not be modified or truncated
 *  while its table is in service or held by a snapshot: publish new tables by writing a new
 *  file and renaming it into place (as `c2trie compile` does), never by rewriting. */
#define C2TRIE_RELOAD_MAP 1u
/** Accept a table whatever its list_version (an operator rolling back a bad list). */
#define C2TRIE_RELOAD_FORCE 2u

/** IPv4-in-IPv6 encodings decoded by a policy (c2trie_policy_set_embedded). An IPv6
 *  address that embeds an IPv4 address is decided for both, and the most severe verdict
 *  wins, so no IPv6 spelling of a listed IPv4 address slips through. The bit index is the
 *  value of c2trie_decision.via. */
#define C2TRIE_EMBED_MAPPED          (1u << 0) /* ::ffff:a.b.c.d          */
#define C2TRIE_EMBED_COMPATIBLE      (1u << 1) /* ::a.b.c.d (deprecated)  */
#define C2TRIE_EMBED_TRANSLATED      (1u << 2) /* ::ffff:0:a.b.c.d (SIIT) */
#define C2TRIE_EMBED_NAT64           (1u << 3) /* 64:ff9b::/96            */
#define C2TRIE_EMBED_NAT64_LOCAL     (1u << 4) /* 64:ff9b:1::/48          */
#define C2TRIE_EMBED_NAT64_OPERATOR  (1u << 5) /* c2trie_policy_add_nat64_prefix */
#define C2TRIE_EMBED_6TO4            (1u << 6) /* 2002::/16               */
#define C2TRIE_EMBED_TEREDO_SERVER   (1u << 7) /* 2001::/32, server       */
#define C2TRIE_EMBED_TEREDO_CLIENT   (1u << 8) /* 2001::/32, client       */
#define C2TRIE_EMBED_ISATAP          (1u << 9) /* ::0:5efe:a.b.c.d, any /64 */
#define C2TRIE_EMBED_ALL             ((1u << 10) - 1)

/* ---- Types ---------------------------------------------------------------------------- */

/** An open table. Immutable. */
typedef struct c2trie_table c2trie_table;

/** A live handle: the table in service, replaced atomically by reloads. */
typedef struct c2trie_live c2trie_live;

/** A run-time policy: the modes of the global and blocked lists, the IPv4-in-IPv6
 *  encodings decoded and the operator's NAT64 prefixes. Changing it needs no new table.
 *  Set it up, then decide with it from any number of threads; setters need it to
 *  themselves (to change a policy in use, change a clone and swap the pointer). */
typedef struct c2trie_policy c2trie_policy;

/** An IP address. */
typedef struct c2trie_addr {
    /** C2TRIE_FAMILY_V4 or C2TRIE_FAMILY_V6. */
    uint8_t family;
    /** Network byte order; IPv4 uses bytes[0..4] (the rest is zero on output, ignored on
     *  input). */
    uint8_t bytes[16];
} c2trie_addr;

/** One list's longest match, or one entry of a table (c2trie_table_for_each_entry). */
typedef struct c2trie_match {
    /** sizeof(c2trie_match) as the caller was compiled (C2TRIE_MATCH_INIT sets it); in a
     *  match the library hands out, the library's. */
    uint32_t size;
    /** The entry's list (c2trie_list); C2TRIE_LIST_NONE when found is 0. */
    int list;
    /** 1 when the list has an entry covering the address. When 0, every other field but
     *  size and list is zero or NULL. */
    uint8_t found;
    /** The prefix's family: C2TRIE_FAMILY_V4 or C2TRIE_FAMILY_V6. */
    uint8_t family;
    /** The prefix length (32 or 128 for a single host). */
    uint8_t prefix_len;
    /** Risk score 0-100; 255 when the entry has none. */
    uint8_t risk;
    /** The prefix's network address, network byte order (IPv4 in the first 4 bytes). */
    uint8_t prefix[16];
    /** Expiry time, seconds since the Unix epoch; 0 when the entry does not expire. */
    uint64_t expires;
    /** The entry's source (the feed's name): UTF-8, NOT NUL-terminated, source_len bytes,
     *  valid while the table handle lives. NULL in live-handle decisions. */
    const char *source;
    size_t source_len;
    /** The entry's tag (e.g. a malware family), as source; NULL when it has none. */
    const char *tag;
    size_t tag_len;
} c2trie_match;

/** Every list's longest match for one address. Initialize with C2TRIE_MATCHES_INIT or
 *  c2trie_matches_init: every list's size must be set, and the same. */
typedef struct c2trie_matches {
    /** Indexed by C2TRIE_LIST_APPROVED, C2TRIE_LIST_BLOCKED, C2TRIE_LIST_GLOBAL. */
    c2trie_match lists[C2TRIE_LISTS];
} c2trie_matches;

/**
 * A verdict and what decided it.
 *
 * Precedence, for one address: an approved entry allows; else a blocked entry decides if
 * the blocked list is not OFF; else a global entry decides if the global list is not OFF;
 * else PASS. For an IPv6 address the same is done for each IPv4 address it embeds (per
 * c2trie_policy.embedded) and the most severe verdict wins.
 */
typedef struct c2trie_decision {
    /** sizeof(c2trie_decision) as the caller was compiled (C2TRIE_DECISION_INIT sets it,
     *  and entry.size). */
    uint32_t size;
    /** c2trie_verdict. */
    int verdict;
    /** c2trie_reason. */
    int reason;
    /** The deciding list (c2trie_list), or C2TRIE_LIST_NONE. */
    int list;
    /** Bit index (0-9) of the C2TRIE_EMBED_* encoding through which an embedded IPv4
     *  address decided; -1 when the address itself decided. */
    int via;
    /** The address whose lookup decided: the address asked, or the IPv4 address it
     *  embeds when via >= 0. */
    c2trie_addr matched;
    /** The deciding entry; entry.found == 0 when none decided. */
    c2trie_match entry;
    /** list_version of the table decided against; 0 for C2TRIE_REASON_NO_TABLE. */
    uint64_t list_version;
    /** The live handle's generation that decided; 0 for decisions against a table
     *  handle. */
    uint64_t generation;
} c2trie_decision;

/** Initializers: `c2trie_decision d = C2TRIE_DECISION_INIT;`,
 *  `c2trie_matches m = C2TRIE_MATCHES_INIT;` (C and C++). */
#ifdef __cplusplus
#define C2TRIE_SIZEOF_(T) static_cast<uint32_t>(sizeof(T))
#else
#define C2TRIE_SIZEOF_(T) ((uint32_t)sizeof(T))
#endif
#define C2TRIE_MATCH_INIT                                                                   \
    { C2TRIE_SIZEOF_(c2trie_match), C2TRIE_LIST_NONE, 0, 0, 0, 0, {0}, 0, NULL, 0, NULL, 0 }
#define C2TRIE_MATCHES_INIT { { C2TRIE_MATCH_INIT, C2TRIE_MATCH_INIT, C2TRIE_MATCH_INIT } }
#define C2TRIE_DECISION_INIT                                                                \
    { C2TRIE_SIZEOF_(c2trie_decision), C2TRIE_VERDICT_PASS, C2TRIE_REASON_UNLISTED,       \
      C2TRIE_LIST_NONE, -1, {0, {0}}, C2TRIE_MATCH_INIT, 0, 0 }

/** A table's header and counts. */
typedef struct c2trie_table_info {
    uint32_t format_version;
    /** The feed serial number given at compile time (anti-rollback). */
    uint64_t list_version;
    /** Creation time, seconds since the Unix epoch. */
    uint64_t created_unix;
    /** XXH3-64 checksum of the file. */
    uint64_t checksum;
    /** Size in bytes. */
    uint64_t bytes;
    /** Entries in all lists. */
    uint64_t entries;
    /** Entries per list (c2trie_list) and family (0 IPv4, 1 IPv6). */
    uint64_t counts[C2TRIE_LISTS][2];
} c2trie_table_info;

/** What a successful reload put in service. */
typedef struct c2trie_swap {
    uint64_t generation;
    uint64_t list_version;
    /** The replaced table's list_version, when had_previous is 1. */
    uint64_t previous_version;
    uint8_t had_previous;
} c2trie_swap;

/** The state of a live handle. */
typedef struct c2trie_live_info {
    /** 0 before the first table; then one more per table put in service. */
    uint64_t generation;
    /** 0 when has_table is 0. */
    uint64_t list_version;
    /** 0 when has_table is 0. */
    uint64_t created_unix;
    uint8_t has_table;
    /** c2trie_fail_mode. */
    int fail_mode;
} c2trie_live_info;

/* ---- Errors and version --------------------------------------------------------------- */

/** The message of the last failing call on the calling thread; "" if none failed.
 *  Owned by the library: valid until the next failing call on the same thread, and
 *  never after that thread exits (the message is thread-local storage, freed with the
 *  thread): copy it before handing it to another thread. Never NULL. [any thread]
 *  (each thread has its own message) */
const char *c2trie_last_error(void);

/** A static description of a status code. Never NULL. [any thread] */
const char *c2trie_strerror(int code);

/** The library version, e.g. "0.1.0": the version of the library loaded at run time, which
 *  may be newer than C2TRIE_VERSION_* of the header compiled against. Static.
 *  [any thread] */
const char *c2trie_version(void);

/* ---- Tables --------------------------------------------------------------------------- */

/** Reads the table file at `path` into memory and validates it. Later changes to the file
 *  do not affect the handle. Free with c2trie_table_free. [any thread]
 *  Errors: NULL, IO, INVALID_TABLE. */
int c2trie_table_open(const char *path, c2trie_table **out);

/** Memory-maps the table file at `path` and validates it (no copy; pages are shared with
 *  other processes mapping the same file). CONTRACT: the file must not be modified or
 *  truncated, by any process, until the handle and every snapshot of it are freed;
 *  otherwise lookups may read changed bytes or crash (SIGBUS). Files written by
 *  `c2trie compile` are renamed into place and meet this. [any thread]
 *  Errors: NULL, IO, INVALID_TABLE. */
int c2trie_table_map(const char *path, c2trie_table **out);

/** Copies `len` bytes from `bytes` and validates them as a table. An input longer than
 *  any table (4 GiB - 1 bytes), or whose header states another length, is refused before
 *  anything is copied (INVALID_TABLE); memory that cannot be allocated for the copy is
 *  IO, never an abort. [any thread]
 *  Errors: NULL, IO, INVALID_TABLE. */
int c2trie_table_from_bytes(const uint8_t *bytes, size_t len, c2trie_table **out);

/** Frees a table handle; NULL is ignored. Strings borrowed from it become invalid.
 *  [exclusive] */
void c2trie_table_free(c2trie_table *table);

/** The table's header fields and counts. [any thread] */
int c2trie_table_get_info(const c2trie_table *table, c2trie_table_info *out);

/** The callback of c2trie_table_for_each_entry: return 0 to go on, anything else to stop. */
typedef int (*c2trie_entry_fn)(void *user, const c2trie_match *entry);

/** Calls f(user, entry) for every entry of the table, in this order: IPv4 prefixes
 *  (sorted by address, length, list), IPv4 hosts, IPv6 prefixes, IPv6 hosts (hosts in
 *  hash-table order). `entry` is valid during the call only (copy it to keep it); its
 *  source and tag are borrowed from the table handle and stay valid until the handle is
 *  freed. entry->size is the library's sizeof(c2trie_match): fields past the caller's own
 *  sizeof are for newer callers. Returns C2TRIE_OK after the last entry, or the first
 *  non-zero value f returned, at once. f may call any [any thread] function, on this table
 *  too, but must not free the table, nor unwind out of the call (no C++ exception, no
 *  longjmp). [any thread] Errors: NULL. */
int c2trie_table_for_each_entry(const c2trie_table *table, c2trie_entry_fn f, void *user);

/* ---- Lookups: every list's longest match ---------------------------------------------- */

/* Each `out` (each element of a batch's `out`) must be initialized: C2TRIE_MATCHES_INIT
 * or c2trie_matches_init. Errors besides those listed: SIZE. */

/** Initializes `out` for the library to write (as C2TRIE_MATCHES_INIT). [any thread] */
int c2trie_matches_init(c2trie_matches *out);

/** Looks up one address. [any thread] Errors: NULL, ARGUMENT (family). */
int c2trie_lookup(const c2trie_table *table, const c2trie_addr *addr, c2trie_matches *out);

/** Looks up one IPv4 address (4 bytes, network order). [any thread] */
int c2trie_lookup_v4(const c2trie_table *table, const uint8_t addr[4], c2trie_matches *out);

/** Looks up one IPv6 address (16 bytes, network order). [any thread] */
int c2trie_lookup_v6(const c2trie_table *table, const uint8_t addr[16], c2trie_matches *out);

/** Looks up `n` IPv4 addresses packed back to back (4 * n bytes); out[i] answers address i.
 *  The lookups are interleaved so that their memory accesses overlap: on mixed traffic
 *  against a table larger than the CPU's caches, faster than n single calls; where a single
 *  lookup is already cheap (traffic on no list, small IPv6 prefix lists), about as fast.
 *  A batch call uses up to about 10 KiB of the calling thread's stack. `addrs` and `out`
 *  may be NULL when n is 0, and must not overlap. [any thread] */
int c2trie_lookup_v4_batch(const c2trie_table *table, const uint8_t *addrs, size_t n,
                           c2trie_matches *out);

/** As c2trie_lookup_v4_batch, for IPv6 (16 * n bytes). [any thread] */
int c2trie_lookup_v6_batch(const c2trie_table *table, const uint8_t *addrs, size_t n,
                           c2trie_matches *out);

/* ---- Verdicts under a policy ---------------------------------------------------------- */

/** Parses an address: dotted-quad IPv4 (strict: no leading zeros, no shortened forms) or
 *  IPv6 (no zone id). [any thread] Errors: NULL, ARGUMENT. */
int c2trie_parse_addr(const char *text, c2trie_addr *out);

/** A new policy with the defaults: global list LOG, blocked list BLOCK, every encoding
 *  decoded (C2TRIE_EMBED_ALL), no operator NAT64 prefix. Free with c2trie_policy_free.
 *  [any thread] Errors: NULL. */
int c2trie_policy_new(c2trie_policy **out);

/** A new policy with the settings of `policy`. [any thread] Errors: NULL. */
int c2trie_policy_clone(const c2trie_policy *policy, c2trie_policy **out);

/** Frees a policy; NULL is ignored. [exclusive] */
void c2trie_policy_free(c2trie_policy *policy);

/** Sets the c2trie_mode of `list`: C2TRIE_LIST_GLOBAL or C2TRIE_LIST_BLOCKED (the approved
 *  list has no mode: it always allows). [exclusive] Errors: NULL, ARGUMENT. */
int c2trie_policy_set_mode(c2trie_policy *policy, int list, int mode);

/** The c2trie_mode of `list` (global or blocked). [any thread] Errors: NULL, ARGUMENT. */
int c2trie_policy_get_mode(const c2trie_policy *policy, int list, int *out);

/** Sets the IPv4-in-IPv6 encodings decoded: C2TRIE_EMBED_* bits. Operator NAT64 prefixes
 *  are kept; they are decoded while C2TRIE_EMBED_NAT64_OPERATOR is set. [exclusive]
 *  Errors: NULL, ARGUMENT (bits outside C2TRIE_EMBED_ALL). */
int c2trie_policy_set_embedded(c2trie_policy *policy, uint32_t bits);

/** The C2TRIE_EMBED_* bits of the encodings decoded. [any thread] Errors: NULL. */
int c2trie_policy_get_embedded(const c2trie_policy *policy, uint32_t *out);

/** Adds an operator NAT64 prefix (RFC 6052), 16 bytes in network order and a length of
 *  32, 40, 48, 56, 64 or 96: an IPv6 address under it embeds an IPv4 address in the RFC
 *  6052 position for that length, decided as C2TRIE_EMBED_NAT64_OPERATOR (via 5). Host
 *  bits are cleared; a prefix already present is not added again. [exclusive]
 *  Errors: NULL, ARGUMENT (length). */
int c2trie_policy_add_nat64_prefix(c2trie_policy *policy, const uint8_t prefix[16],
                                   uint8_t len);

/** Removes every operator NAT64 prefix. [exclusive] Errors: NULL. */
int c2trie_policy_clear_nat64_prefixes(c2trie_policy *policy);

/** The number of operator NAT64 prefixes. [any thread] Errors: NULL. */
int c2trie_policy_nat64_count(const c2trie_policy *policy, size_t *out);

/** Operator NAT64 prefix `index` (0-based, in the order added): network address and
 *  length. [any thread] Errors: NULL, ARGUMENT (index past the last). */
int c2trie_policy_get_nat64_prefix(const c2trie_policy *policy, size_t index,
                                   uint8_t prefix[16], uint8_t *len);

/* Each decision `out` (each element of a batch's `out`) must be initialized:
 * C2TRIE_DECISION_INIT or c2trie_decision_init. Errors besides those listed: SIZE. A
 * policy must not be changed while a decision reads it. */

/** Initializes `out` for the library to write (as C2TRIE_DECISION_INIT). [any thread] */
int c2trie_decision_init(c2trie_decision *out);

/** Decides one address under `policy` (NULL: the default policy). [any thread]
 *  Errors: NULL, ARGUMENT (family). */
int c2trie_decide(const c2trie_table *table, const c2trie_policy *policy,
                  const c2trie_addr *addr, c2trie_decision *out);

/** Decides one IPv4 address (4 bytes, network order). [any thread] */
int c2trie_decide_v4(const c2trie_table *table, const c2trie_policy *policy,
                     const uint8_t addr[4], c2trie_decision *out);

/** Decides one IPv6 address (16 bytes, network order). [any thread] */
int c2trie_decide_v6(const c2trie_table *table, const c2trie_policy *policy,
                     const uint8_t addr[16], c2trie_decision *out);

/** Decides `n` IPv4 addresses packed back to back; out[i] decides address i, as
 *  c2trie_decide_v4 would. The lookups are interleaved, as in c2trie_lookup_v4_batch (the
 *  IPv4 addresses an IPv6 address embeds are looked up one at a time). A batch call uses
 *  up to about 10 KiB of the calling thread's stack. `addrs` and `out` may be NULL when n
 *  is 0, and must not overlap. [any thread] */
int c2trie_decide_v4_batch(const c2trie_table *table, const c2trie_policy *policy,
                           const uint8_t *addrs, size_t n, c2trie_decision *out);

/** As c2trie_decide_v4_batch, for IPv6 (16 * n bytes). [any thread] */
int c2trie_decide_v6_batch(const c2trie_table *table, const c2trie_policy *policy,
                           const uint8_t *addrs, size_t n, c2trie_decision *out);

/* ---- Live handles: hot reload while other threads decide ------------------------------ */

/** A live handle with no table yet (generation 0); until the first successful reload,
 *  decisions are PASS (C2TRIE_FAIL_OPEN) or BLOCK (C2TRIE_FAIL_CLOSED) with reason
 *  C2TRIE_REASON_NO_TABLE. Free with c2trie_live_free. [any thread]
 *  Errors: NULL, ARGUMENT. */
int c2trie_live_new(int fail_mode, c2trie_live **out);

/** Frees a live handle; NULL is ignored. Snapshots taken from it stay valid until they
 *  are freed. [exclusive] */
void c2trie_live_free(c2trie_live *live);

/** Loads and validates the table at `path` (a file published by `c2trie compile -o`) and
 *  puts it in service if its list_version is newer than the one in service (any version
 *  when none is). `flags`: 0, C2TRIE_RELOAD_MAP (see its contract), C2TRIE_RELOAD_FORCE.
 *  `out` may be NULL. On any failure the table in service stays in service. Readers on
 *  other threads are never blocked; concurrent reloads are serialized.
 *  [any thread] Errors: NULL, ARGUMENT, IO, INVALID_TABLE, ROLLBACK. */
int c2trie_live_reload(const c2trie_live *live, const char *path, uint32_t flags,
                       c2trie_swap *out);

/** Reads the pointer file of a versioned publish (`c2trie compile --versioned`,
 *  STEM.current) and reloads the file it names, as c2trie_live_reload. [any thread] */
int c2trie_live_reload_pointer(const c2trie_live *live, const char *pointer, uint32_t flags,
                               c2trie_swap *out);

/** The handle's generation, list_version and fail mode. [any thread] */
int c2trie_live_get_info(const c2trie_live *live, c2trie_live_info *out);

/** A table handle sharing the table in service; it stays valid (strings included) until
 *  freed with c2trie_table_free, whatever reloads happen. Holding it keeps that table (and
 *  its mapping) in memory. [any thread] Errors: NULL, NO_TABLE. */
int c2trie_live_snapshot(const c2trie_live *live, c2trie_table **out);

/** Decides one address against the table in service (or the fail mode). The entry's
 *  source and tag are NULL: the table may be replaced as soon as the call returns.
 *  Lock-free. [any thread] */
int c2trie_live_decide(const c2trie_live *live, const c2trie_policy *policy,
                       const c2trie_addr *addr, c2trie_decision *out);

/** As c2trie_live_decide, for one IPv4 address (4 bytes, network order). [any thread] */
int c2trie_live_decide_v4(const c2trie_live *live, const c2trie_policy *policy,
                          const uint8_t addr[4], c2trie_decision *out);

/** As c2trie_live_decide, for one IPv6 address (16 bytes, network order). [any thread] */
int c2trie_live_decide_v6(const c2trie_live *live, const c2trie_policy *policy,
                          const uint8_t addr[16], c2trie_decision *out);

/** Decides `n` IPv4 addresses packed back to back, all against one generation, as
 *  c2trie_decide_v4_batch does against a table. [any thread] */
int c2trie_live_decide_v4_batch(const c2trie_live *live, const c2trie_policy *policy,
                                const uint8_t *addrs, size_t n, c2trie_decision *out);

/** As c2trie_live_decide_v4_batch, for IPv6. [any thread] */
int c2trie_live_decide_v6_batch(const c2trie_live *live, const c2trie_policy *policy,
                                const uint8_t *addrs, size_t n, c2trie_decision *out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* C2TRIE_H */
