/*
 * The C ABI from C: verdicts, matches, errors, live reloads and concurrent readers.
 *
 * Run by capi/tests/c_api.rs, which compiles the tables and the expectations:
 *
 *   test_c2trie V1.c2t V2.c2t CORRUPT.c2t EXPECTED.txt
 *
 * V1 holds examples/data/{approved,blocked,global}.txt (list version 1) plus a Feodo
 * Tracker snapshot in the global list; V2 is V1 plus 203.0.113.99/32 (global, tag
 * "new-c2", list version 2). EXPECTED.txt has one line per address, computed by the Rust
 * library (see c_api.rs for the columns); every line must be answered identically through
 * the C ABI, singly and in batches.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2trie.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        checks++;                                                                           \
        if (!(cond)) {                                                                      \
            failures++;                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
        }                                                                                   \
    } while (0)

#define CHECK_OK(call)                                                                      \
    do {                                                                                    \
        int rc_ = (call);                                                                   \
        CHECK(rc_ == C2TRIE_OK, "%s returned %d (%s): %s", #call, rc_, c2trie_strerror(rc_), \
              c2trie_last_error());                                                         \
    } while (0)

static c2trie_addr addr(const char *text) {
    c2trie_addr a;
    memset(&a, 0, sizeof a);
    int rc = c2trie_parse_addr(text, &a);
    if (rc != C2TRIE_OK) {
        fprintf(stderr, "cannot parse %s: %s\n", text, c2trie_last_error());
        exit(2);
    }
    return a;
}

static int str_eq(const char *p, size_t len, const char *want) {
    return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}

/* "hex/len" of a match's prefix, or "-". */
static void prefix_text(const c2trie_match *m, char *buf, size_t cap) {
    if (!m->found) {
        snprintf(buf, cap, "-");
        return;
    }
    size_t n = m->family == C2TRIE_FAMILY_V4 ? 4 : 16;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)snprintf(buf + o, cap - o, "%02x", m->prefix[i]);
    snprintf(buf + o, cap - o, "/%u", m->prefix_len);
}

/* A policy handle with these settings; free it with c2trie_policy_free. */
static c2trie_policy *policy(int global, int blocked, uint32_t embedded) {
    c2trie_policy *p = NULL;
    if (c2trie_policy_new(&p) != C2TRIE_OK ||
        c2trie_policy_set_mode(p, C2TRIE_LIST_GLOBAL, global) != C2TRIE_OK ||
        c2trie_policy_set_mode(p, C2TRIE_LIST_BLOCKED, blocked) != C2TRIE_OK ||
        c2trie_policy_set_embedded(p, embedded) != C2TRIE_OK) {
        fprintf(stderr, "cannot make a policy: %s\n", c2trie_last_error());
        exit(2);
    }
    return p;
}

/* ---- Verdicts the sample lists specify ------------------------------------------------ */

static void test_sample_verdicts(const c2trie_table *t) {
    c2trie_policy *def = NULL;
    CHECK_OK(c2trie_policy_new(&def));
    int global = -1, blocked = -1;
    uint32_t embedded = 0;
    size_t nat64 = 99;
    CHECK_OK(c2trie_policy_get_mode(def, C2TRIE_LIST_GLOBAL, &global));
    CHECK_OK(c2trie_policy_get_mode(def, C2TRIE_LIST_BLOCKED, &blocked));
    CHECK_OK(c2trie_policy_get_embedded(def, &embedded));
    CHECK_OK(c2trie_policy_nat64_count(def, &nat64));
    CHECK(global == C2TRIE_MODE_LOG && blocked == C2TRIE_MODE_BLOCK &&
              embedded == C2TRIE_EMBED_ALL && nat64 == 0,
          "default policy");
    c2trie_policy *block_all = policy(C2TRIE_MODE_BLOCK, C2TRIE_MODE_BLOCK, C2TRIE_EMBED_ALL);
    c2trie_policy *off_all = policy(C2TRIE_MODE_OFF, C2TRIE_MODE_OFF, C2TRIE_EMBED_ALL);
    c2trie_policy *no_embed = policy(C2TRIE_MODE_LOG, C2TRIE_MODE_BLOCK, 0);
    c2trie_decision d = C2TRIE_DECISION_INIT;
    c2trie_addr a;

    /* A global C&C host: logged by default, blocked under block, passed when off. */
    a = addr("192.0.2.1");
    CHECK_OK(c2trie_decide(t, def, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG, "192.0.2.1 default: %d", d.verdict);
    CHECK(d.list == C2TRIE_LIST_GLOBAL && d.reason == C2TRIE_REASON_LISTED, "list %d", d.list);
    CHECK(d.entry.found && d.entry.prefix_len == 32, "prefix len %u", d.entry.prefix_len);
    CHECK(str_eq(d.entry.source, d.entry.source_len, "global.txt"), "source %.*s",
          (int)d.entry.source_len, d.entry.source ? d.entry.source : "");
    CHECK(d.list_version == 1 && d.generation == 0 && d.via == -1, "version/generation/via");
    CHECK_OK(c2trie_decide(t, NULL, &a, &d)); /* NULL policy = default */
    CHECK(d.verdict == C2TRIE_VERDICT_LOG, "NULL policy: %d", d.verdict);
    CHECK_OK(c2trie_decide(t, block_all, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_BLOCK, "192.0.2.1 block: %d", d.verdict);
    CHECK_OK(c2trie_decide(t, off_all, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS && d.reason == C2TRIE_REASON_UNLISTED &&
              d.list == C2TRIE_LIST_NONE && !d.entry.found,
          "192.0.2.1 off: %d", d.verdict);

    /* Approved inside a global /24: allowed under every policy. */
    a = addr("198.51.100.77");
    CHECK_OK(c2trie_decide(t, block_all, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_ALLOW && d.list == C2TRIE_LIST_APPROVED, "approved: %d",
          d.verdict);

    /* User blocked. */
    const uint8_t blocked4[4] = {203, 0, 113, 200};
    CHECK_OK(c2trie_decide_v4(t, def, blocked4, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_BLOCK && d.list == C2TRIE_LIST_BLOCKED, "blocked: %d",
          d.verdict);
    CHECK_OK(c2trie_decide_v4(t, off_all, blocked4, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "blocked, off: %d", d.verdict);

    /* On no list. */
    a = addr("192.0.2.200");
    CHECK_OK(c2trie_decide(t, block_all, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS && d.reason == C2TRIE_REASON_UNLISTED, "unlisted: %d",
          d.verdict);

    /* IPv4-mapped spelling of a blocked address: blocked through the embedded address,
       unless decoding is turned off. */
    a = addr("::ffff:203.0.113.200");
    CHECK_OK(c2trie_decide(t, def, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_BLOCK && d.via == 0, "mapped: %d via %d", d.verdict, d.via);
    CHECK(d.matched.family == C2TRIE_FAMILY_V4 && memcmp(d.matched.bytes, blocked4, 4) == 0,
          "matched address");
    CHECK_OK(c2trie_decide(t, no_embed, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "mapped, no decoding: %d", d.verdict);

    /* NAT64 well-known prefix reaching a global host. */
    a = addr("64:ff9b::192.0.2.1");
    CHECK_OK(c2trie_decide(t, def, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG && d.via == 3, "nat64: %d via %d", d.verdict, d.via);

    /* IPv6 user-blocked /64, through the byte interface. */
    struct in6_addr in6;
    CHECK(inet_pton(AF_INET6, "2001:db8:ffff::9", &in6) == 1, "inet_pton");
    c2trie_matches m = C2TRIE_MATCHES_INIT;
    CHECK_OK(c2trie_lookup_v6(t, in6.s6_addr, &m));
    CHECK(m.lists[C2TRIE_LIST_BLOCKED].found && m.lists[C2TRIE_LIST_BLOCKED].prefix_len == 64,
          "v6 blocked /64");
    CHECK(!m.lists[C2TRIE_LIST_APPROVED].found && !m.lists[C2TRIE_LIST_GLOBAL].found,
          "v6 other lists");
    CHECK(m.lists[C2TRIE_LIST_APPROVED].source == NULL, "no match has NULL strings");

    /* IPv4 through struct in_addr, as a product would pass it. */
    struct in_addr in4;
    CHECK(inet_pton(AF_INET, "192.0.2.70", &in4) == 1, "inet_pton");
    CHECK_OK(c2trie_lookup_v4(t, (const uint8_t *)&in4, &m));
    CHECK(m.lists[C2TRIE_LIST_GLOBAL].found && m.lists[C2TRIE_LIST_GLOBAL].prefix_len == 26,
          "192.0.2.70 in global /26");
    CHECK(m.lists[C2TRIE_LIST_GLOBAL].list == C2TRIE_LIST_GLOBAL &&
              m.lists[C2TRIE_LIST_APPROVED].list == C2TRIE_LIST_NONE &&
              m.lists[C2TRIE_LIST_GLOBAL].size == sizeof(c2trie_match),
          "match list and size");
    c2trie_policy_free(def);
    c2trie_policy_free(block_all);
    c2trie_policy_free(off_all);
    c2trie_policy_free(no_embed);
}

/* ---- Operator NAT64 prefixes ---------------------------------------------------------- */

static void test_nat64(const c2trie_table *t) {
    c2trie_policy *p = NULL, *copy = NULL;
    CHECK_OK(c2trie_policy_new(&p));
    c2trie_decision d = C2TRIE_DECISION_INIT;
    /* 192.0.2.1 (global) behind the operator's NAT64 prefix 2001:db8:64::/96. */
    c2trie_addr a = addr("2001:db8:64::192.0.2.1");
    CHECK_OK(c2trie_decide(t, p, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "no operator prefix yet: %d", d.verdict);

    c2trie_addr prefix = addr("2001:db8:64::ffff"); /* host bits are cleared */
    CHECK(c2trie_policy_add_nat64_prefix(p, prefix.bytes, 33) == C2TRIE_ERR_ARGUMENT,
          "length 33");
    CHECK(strstr(c2trie_last_error(), "RFC 6052") != NULL, "message: %s", c2trie_last_error());
    CHECK(c2trie_policy_add_nat64_prefix(p, prefix.bytes, 200) == C2TRIE_ERR_ARGUMENT,
          "length 200");
    CHECK(c2trie_policy_add_nat64_prefix(NULL, prefix.bytes, 96) == C2TRIE_ERR_NULL, "NULL");
    CHECK(c2trie_policy_add_nat64_prefix(p, NULL, 96) == C2TRIE_ERR_NULL, "NULL prefix");
    CHECK_OK(c2trie_policy_add_nat64_prefix(p, prefix.bytes, 96));
    CHECK_OK(c2trie_policy_add_nat64_prefix(p, prefix.bytes, 96)); /* not added twice */
    c2trie_addr p48 = addr("2001:db8:4848::");
    CHECK_OK(c2trie_policy_add_nat64_prefix(p, p48.bytes, 48));
    size_t n = 0;
    CHECK_OK(c2trie_policy_nat64_count(p, &n));
    CHECK(n == 2, "two prefixes: %zu", n);
    uint8_t got[16];
    uint8_t len = 0;
    CHECK_OK(c2trie_policy_get_nat64_prefix(p, 0, got, &len));
    c2trie_addr want = addr("2001:db8:64::");
    CHECK(len == 96 && memcmp(got, want.bytes, 16) == 0, "prefix 0 is 2001:db8:64::/96");
    CHECK(c2trie_policy_get_nat64_prefix(p, 2, got, &len) == C2TRIE_ERR_ARGUMENT, "index 2");

    CHECK_OK(c2trie_decide(t, p, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG && d.via == 5 && d.list == C2TRIE_LIST_GLOBAL,
          "operator NAT64: %d via %d", d.verdict, d.via);
    CHECK(d.matched.family == C2TRIE_FAMILY_V4 && d.matched.bytes[0] == 192 &&
              d.matched.bytes[3] == 1,
          "decided by the embedded 192.0.2.1");
    /* A /48 prefix puts the IPv4 address in bits 48-63 and 72-87 (RFC 6052). */
    c2trie_addr b = addr("2001:db8:4848:c000:2:100::");
    CHECK_OK(c2trie_decide(t, p, &b, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG && d.via == 5, "/48: %d via %d", d.verdict, d.via);

    /* The encoding bit switches the prefixes off and on again; they are kept. */
    CHECK_OK(c2trie_policy_set_embedded(p, C2TRIE_EMBED_ALL & ~C2TRIE_EMBED_NAT64_OPERATOR));
    CHECK_OK(c2trie_decide(t, p, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "operator bit off: %d", d.verdict);
    CHECK_OK(c2trie_policy_set_embedded(p, C2TRIE_EMBED_ALL));

    CHECK_OK(c2trie_policy_clone(p, &copy));
    CHECK_OK(c2trie_policy_clear_nat64_prefixes(p));
    CHECK_OK(c2trie_policy_nat64_count(p, &n));
    CHECK(n == 0, "cleared: %zu", n);
    uint32_t bits = 0;
    CHECK_OK(c2trie_policy_get_embedded(p, &bits));
    CHECK(bits == C2TRIE_EMBED_ALL, "clearing keeps the encodings: %x", bits);
    CHECK_OK(c2trie_decide(t, p, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "cleared: %d", d.verdict);
    CHECK_OK(c2trie_decide(t, copy, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG && d.via == 5, "the clone kept its prefixes");
    c2trie_policy_free(p);
    c2trie_policy_free(copy);
}

/* ---- Iterating a table's entries ------------------------------------------------------ */

struct walk {
    size_t n;
    size_t per_list[C2TRIE_LISTS];
    int bad;
    /* Borrowed from the table: valid after the walk, until the table is freed. */
    const char *source;
    size_t source_len;
    int stop_after;
};

static int visit(void *user, const c2trie_match *e) {
    struct walk *w = user;
    w->n++;
    if (e->size < sizeof(c2trie_match) || !e->found || e->list < 0 || e->list >= C2TRIE_LISTS ||
        (e->family != C2TRIE_FAMILY_V4 && e->family != C2TRIE_FAMILY_V6) || e->source == NULL)
        w->bad++;
    else
        w->per_list[e->list]++;
    if (e->family == C2TRIE_FAMILY_V4 && e->prefix_len == 32 && e->prefix[0] == 192 &&
        e->prefix[1] == 0 && e->prefix[2] == 2 && e->prefix[3] == 1) {
        w->source = e->source;
        w->source_len = e->source_len;
    }
    return w->stop_after != 0 && (int)w->n == w->stop_after ? 42 : 0;
}

static void test_entries(const c2trie_table *t) {
    c2trie_table_info info;
    CHECK_OK(c2trie_table_get_info(t, &info));
    struct walk w;
    memset(&w, 0, sizeof w);
    CHECK_OK(c2trie_table_for_each_entry(t, visit, &w));
    CHECK(w.n == info.entries && w.bad == 0, "visited %zu of %llu entries, %d bad", w.n,
          (unsigned long long)info.entries, w.bad);
    for (int l = 0; l < C2TRIE_LISTS; l++)
        CHECK(w.per_list[l] == info.counts[l][0] + info.counts[l][1], "list %d: %zu", l,
              w.per_list[l]);
    CHECK(str_eq(w.source, w.source_len, "global.txt"), "192.0.2.1/32 from global.txt");
    memset(&w, 0, sizeof w);
    w.stop_after = 3;
    CHECK(c2trie_table_for_each_entry(t, visit, &w) == 42 && w.n == 3, "stopped: %zu", w.n);
    CHECK(c2trie_table_for_each_entry(NULL, visit, &w) == C2TRIE_ERR_NULL, "NULL table");
    CHECK(c2trie_table_for_each_entry(t, NULL, &w) == C2TRIE_ERR_NULL, "NULL callback");
}

/* ---- Struct sizes --------------------------------------------------------------------- */

static void test_sizes(const c2trie_table *t) {
    c2trie_addr a = addr("192.0.2.1");
    c2trie_decision d = C2TRIE_DECISION_INIT;
    CHECK(d.size == sizeof d && d.entry.size == sizeof d.entry, "C2TRIE_DECISION_INIT");

    /* Size 0 (not initialized): an error, and nothing written. */
    memset(&d, 0x5a, sizeof d);
    d.size = 0;
    CHECK(c2trie_decide(t, NULL, &a, &d) == C2TRIE_ERR_SIZE, "decision size 0");
    CHECK(strstr(c2trie_last_error(), "C2TRIE_DECISION_INIT") != NULL, "message: %s",
          c2trie_last_error());
    CHECK(d.size == 0 && d.verdict == 0x5a5a5a5a, "nothing written");
    CHECK_OK(c2trie_decision_init(&d));
    d.entry.size = 8;
    CHECK(c2trie_decide(t, NULL, &a, &d) == C2TRIE_ERR_SIZE, "entry size 8");
    d.size = (uint32_t)sizeof d - 8;
    d.entry.size = (uint32_t)sizeof d.entry;
    CHECK(c2trie_decide(t, NULL, &a, &d) == C2TRIE_ERR_SIZE, "decision too small");
    d.size = (uint32_t)sizeof d + 3;
    CHECK(c2trie_decide(t, NULL, &a, &d) == C2TRIE_ERR_SIZE, "size not a multiple");

    /* A newer caller's larger struct: the library writes its fields, not past them. */
    struct {
        c2trie_decision d;
        uint64_t newer;
    } big;
    memset(&big, 0, sizeof big);
    CHECK_OK(c2trie_decision_init(&big.d));
    big.d.size = (uint32_t)sizeof big;
    big.newer = 0x1122334455667788u;
    CHECK_OK(c2trie_decide(t, NULL, &a, &big.d));
    CHECK(big.d.verdict == C2TRIE_VERDICT_LOG && big.d.size == sizeof big &&
              big.newer == 0x1122334455667788u,
          "larger struct: verdict %d, trailing field kept", big.d.verdict);

    c2trie_matches m = C2TRIE_MATCHES_INIT;
    m.lists[1].size = 0;
    CHECK(c2trie_lookup(t, &a, &m) == C2TRIE_ERR_SIZE, "matches list 1 size 0");
    CHECK_OK(c2trie_matches_init(&m));
    m.lists[2].size += 8;
    CHECK(c2trie_lookup(t, &a, &m) == C2TRIE_ERR_SIZE, "lists of different sizes");

    /* Batches: every element is checked before any is written. */
    c2trie_decision ds[3];
    for (int i = 0; i < 3; i++) CHECK_OK(c2trie_decision_init(&ds[i]));
    ds[2].size = 0;
    ds[0].verdict = 77;
    const uint8_t v4[12] = {192, 0, 2, 1, 192, 0, 2, 1, 192, 0, 2, 1};
    CHECK(c2trie_decide_v4_batch(t, NULL, v4, 3, ds) == C2TRIE_ERR_SIZE, "batch element 2");
    CHECK(strstr(c2trie_last_error(), "out[2].size") != NULL, "message: %s", c2trie_last_error());
    CHECK(ds[0].verdict == 77, "nothing written");
    CHECK_OK(c2trie_decision_init(&ds[2]));
    CHECK_OK(c2trie_decide_v4_batch(t, NULL, v4, 3, ds));
    CHECK(ds[2].verdict == C2TRIE_VERDICT_LOG, "batch after init");
}

/* ---- Every expectation, singly and in batches ----------------------------------------- */

struct expected {
    c2trie_addr addr;
    int verdict[3]; /* default, all block, all off */
    int list, via;
    char decided[64];
    char lists[3][64];
    char tag[128];
};

static size_t read_expected(const char *path, struct expected **out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1024, n = 0;
    struct expected *v = malloc(cap * sizeof *v);
    char text[128];
    struct expected e;
    while (fscanf(f, "%127s %d %d %d %d %d %63s %63s %63s %63s %127s", text, &e.verdict[0],
                  &e.verdict[1], &e.verdict[2], &e.list, &e.via, e.decided, e.lists[0],
                  e.lists[1], e.lists[2], e.tag) == 11) {
        e.addr = addr(text);
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
        }
        v[n++] = e;
    }
    fclose(f);
    *out = v;
    return n;
}

static void check_decision(const struct expected *e, const c2trie_decision *d, int which,
                           int with_strings) {
    char got[64];
    CHECK(d->verdict == e->verdict[which], "verdict %d, expected %d (line %d)", d->verdict,
          e->verdict[which], which);
    if (which != 0) return;
    CHECK(d->list == e->list && d->via == e->via, "list %d via %d, expected %d %d", d->list,
          d->via, e->list, e->via);
    prefix_text(&d->entry, got, sizeof got);
    CHECK(strcmp(got, e->decided) == 0, "decided by %s, expected %s", got, e->decided);
    if (with_strings) {
        if (strcmp(e->tag, "-") == 0)
            CHECK(d->entry.tag == NULL, "unexpected tag %.*s", (int)d->entry.tag_len,
                  d->entry.tag);
        else
            CHECK(str_eq(d->entry.tag, d->entry.tag_len, e->tag), "tag, expected %s", e->tag);
    } else {
        CHECK(d->entry.source == NULL && d->entry.tag == NULL, "live decisions carry no strings");
    }
}

static void test_expectations(const c2trie_table *t, const struct expected *ex, size_t n) {
    c2trie_policy *pols[3] = {
        policy(C2TRIE_MODE_LOG, C2TRIE_MODE_BLOCK, C2TRIE_EMBED_ALL),
        policy(C2TRIE_MODE_BLOCK, C2TRIE_MODE_BLOCK, C2TRIE_EMBED_ALL),
        policy(C2TRIE_MODE_OFF, C2TRIE_MODE_OFF, C2TRIE_EMBED_ALL),
    };
    uint8_t *v4 = malloc(n * 4), *v6 = malloc(n * 16);
    size_t n4 = 0, n6 = 0;
    const struct expected **e4 = malloc(n * sizeof *e4), **e6 = malloc(n * sizeof *e6);
    char got[64];
    for (size_t i = 0; i < n; i++) {
        const struct expected *e = &ex[i];
        c2trie_matches m = C2TRIE_MATCHES_INIT;
        CHECK_OK(c2trie_lookup(t, &e->addr, &m));
        for (int l = 0; l < C2TRIE_LISTS; l++) {
            prefix_text(&m.lists[l], got, sizeof got);
            CHECK(strcmp(got, e->lists[l]) == 0, "list %d: %s, expected %s", l, got, e->lists[l]);
        }
        for (int p = 0; p < 3; p++) {
            c2trie_decision d = C2TRIE_DECISION_INIT;
            CHECK_OK(c2trie_decide(t, pols[p], &e->addr, &d));
            check_decision(e, &d, p, 1);
        }
        if (e->addr.family == C2TRIE_FAMILY_V4) {
            memcpy(v4 + 4 * n4, e->addr.bytes, 4);
            e4[n4++] = e;
        } else {
            memcpy(v6 + 16 * n6, e->addr.bytes, 16);
            e6[n6++] = e;
        }
    }
    /* Batches answer exactly as single calls. */
    c2trie_matches *m4 = malloc((n4 + 1) * sizeof *m4), *m6 = malloc((n6 + 1) * sizeof *m6);
    c2trie_decision *d4 = malloc((n4 + 1) * sizeof *d4), *d6 = malloc((n6 + 1) * sizeof *d6);
    for (size_t i = 0; i < n4; i++) {
        CHECK_OK(c2trie_matches_init(&m4[i]));
        CHECK_OK(c2trie_decision_init(&d4[i]));
    }
    for (size_t i = 0; i < n6; i++) {
        CHECK_OK(c2trie_matches_init(&m6[i]));
        CHECK_OK(c2trie_decision_init(&d6[i]));
    }
    CHECK_OK(c2trie_lookup_v4_batch(t, v4, n4, m4));
    CHECK_OK(c2trie_lookup_v6_batch(t, v6, n6, m6));
    CHECK_OK(c2trie_decide_v4_batch(t, pols[0], v4, n4, d4));
    CHECK_OK(c2trie_decide_v6_batch(t, pols[0], v6, n6, d6));
    for (size_t i = 0; i < n4; i++) {
        for (int l = 0; l < C2TRIE_LISTS; l++) {
            prefix_text(&m4[i].lists[l], got, sizeof got);
            CHECK(strcmp(got, e4[i]->lists[l]) == 0, "v4 batch %zu list %d", i, l);
        }
        check_decision(e4[i], &d4[i], 0, 1);
    }
    for (size_t i = 0; i < n6; i++) {
        for (int l = 0; l < C2TRIE_LISTS; l++) {
            prefix_text(&m6[i].lists[l], got, sizeof got);
            CHECK(strcmp(got, e6[i]->lists[l]) == 0, "v6 batch %zu list %d", i, l);
        }
        check_decision(e6[i], &d6[i], 0, 1);
    }
    /* Empty batches need no buffers. */
    CHECK_OK(c2trie_lookup_v4_batch(t, NULL, 0, NULL));
    CHECK_OK(c2trie_decide_v6_batch(t, NULL, NULL, 0, NULL));
    printf("checked %zu addresses (%zu IPv4, %zu IPv6), singly and in batches\n", n, n4, n6);
    free(v4);
    free(v6);
    free(e4);
    free(e6);
    free(m4);
    free(m6);
    free(d4);
    free(d6);
    for (int p = 0; p < 3; p++) c2trie_policy_free(pols[p]);
}

/* ---- Errors --------------------------------------------------------------------------- */

static void test_errors(const c2trie_table *t, const char *v1_path, const char *corrupt) {
    c2trie_table *u = (c2trie_table *)0x1; /* must stay untouched on failure */
    c2trie_matches m = C2TRIE_MATCHES_INIT;
    c2trie_addr a = addr("192.0.2.1");

    CHECK(c2trie_last_error() != NULL, "last_error is never NULL");
    CHECK(c2trie_table_open(NULL, &u) == C2TRIE_ERR_NULL, "NULL path");
    CHECK(strstr(c2trie_last_error(), "path") != NULL, "message names the argument: %s",
          c2trie_last_error());
    CHECK(c2trie_table_open(v1_path, NULL) == C2TRIE_ERR_NULL, "NULL out");
    CHECK(c2trie_table_open("/nonexistent/c2trie/table.c2t", &u) == C2TRIE_ERR_IO, "missing");
    CHECK(strstr(c2trie_last_error(), "/nonexistent/c2trie/table.c2t") != NULL,
          "message names the file: %s", c2trie_last_error());
    CHECK(c2trie_table_open(corrupt, &u) == C2TRIE_ERR_INVALID_TABLE, "corrupt: %s",
          c2trie_last_error());
    CHECK(c2trie_table_map(corrupt, &u) == C2TRIE_ERR_INVALID_TABLE, "corrupt mapped");
    CHECK(u == (c2trie_table *)0x1, "out untouched on failure");
    const uint8_t junk[3] = {1, 2, 3};
    CHECK(c2trie_table_from_bytes(junk, sizeof junk, &u) == C2TRIE_ERR_INVALID_TABLE, "junk");
    CHECK(c2trie_table_from_bytes(NULL, 10, &u) == C2TRIE_ERR_NULL, "NULL bytes");

    CHECK(c2trie_lookup(NULL, &a, &m) == C2TRIE_ERR_NULL, "NULL table");
    CHECK(c2trie_lookup(t, NULL, &m) == C2TRIE_ERR_NULL, "NULL addr");
    CHECK(c2trie_lookup(t, &a, NULL) == C2TRIE_ERR_NULL, "NULL out");
    CHECK(c2trie_lookup_v4(t, NULL, &m) == C2TRIE_ERR_NULL, "NULL v4 bytes");
    CHECK(c2trie_lookup_v4_batch(t, NULL, 3, &m) == C2TRIE_ERR_NULL, "NULL batch");
    CHECK(c2trie_decide_v6_batch(t, NULL, junk, 1, NULL) == C2TRIE_ERR_NULL, "NULL batch out");
    CHECK(c2trie_lookup_v4_batch(t, junk, SIZE_MAX / 2, &m) == C2TRIE_ERR_ARGUMENT,
          "batch size overflow");
    c2trie_addr bad = a;
    bad.family = 5;
    CHECK(c2trie_lookup(t, &bad, &m) == C2TRIE_ERR_ARGUMENT, "family 5");
    c2trie_policy *p = policy(C2TRIE_MODE_LOG, C2TRIE_MODE_BLOCK, C2TRIE_EMBED_ALL);
    CHECK(c2trie_policy_set_mode(p, C2TRIE_LIST_GLOBAL, 7) == C2TRIE_ERR_ARGUMENT, "mode 7");
    CHECK(strstr(c2trie_last_error(), "global") != NULL, "names the list: %s",
          c2trie_last_error());
    CHECK(c2trie_policy_set_mode(p, C2TRIE_LIST_APPROVED, C2TRIE_MODE_OFF) ==
              C2TRIE_ERR_ARGUMENT,
          "the approved list has no mode");
    CHECK(c2trie_policy_set_mode(NULL, C2TRIE_LIST_GLOBAL, C2TRIE_MODE_OFF) == C2TRIE_ERR_NULL,
          "NULL policy");
    CHECK(c2trie_policy_set_embedded(p, 1u << 20) == C2TRIE_ERR_ARGUMENT, "embedded bit 20");
    int mode = -1;
    CHECK_OK(c2trie_policy_get_mode(p, C2TRIE_LIST_GLOBAL, &mode));
    CHECK(mode == C2TRIE_MODE_LOG, "a refused setting changes nothing: %d", mode);
    CHECK(c2trie_policy_new(NULL) == C2TRIE_ERR_NULL, "policy_new NULL");
    c2trie_policy_free(p);
    c2trie_policy_free(NULL);
    c2trie_addr out;
    CHECK(c2trie_parse_addr("1.2.3", &out) == C2TRIE_ERR_ARGUMENT, "shortened IPv4");
    CHECK(c2trie_parse_addr("010.0.0.1", &out) == C2TRIE_ERR_ARGUMENT, "octal-looking IPv4");
    CHECK(c2trie_parse_addr("fe80::1%eth0", &out) == C2TRIE_ERR_ARGUMENT, "zone id");
    c2trie_table_info info;
    CHECK(c2trie_table_get_info(NULL, &info) == C2TRIE_ERR_NULL, "info NULL");
    c2trie_table_free(NULL); /* ignored */
    c2trie_live_free(NULL);
    CHECK(strcmp(c2trie_strerror(C2TRIE_ERR_ROLLBACK), "rollback refused") == 0, "strerror");
    CHECK(strcmp(c2trie_strerror(12345), "unknown status code") == 0, "strerror unknown");
}

/* ---- Opening the same table three ways ------------------------------------------------ */

/* Field by field: padding bytes are unspecified. */
static int same_info(const c2trie_table_info *a, const c2trie_table_info *b) {
    return a->format_version == b->format_version && a->list_version == b->list_version &&
           a->created_unix == b->created_unix && a->checksum == b->checksum &&
           a->bytes == b->bytes && a->entries == b->entries &&
           memcmp(a->counts, b->counts, sizeof a->counts) == 0;
}

static void test_open_ways(const c2trie_table *t, const char *path) {
    c2trie_table_info a, b, c;
    CHECK_OK(c2trie_table_get_info(t, &a));
    CHECK(a.list_version == 1 && a.format_version == 2, "header");
    CHECK(a.counts[C2TRIE_LIST_APPROVED][0] == 2, "approved IPv4: %llu",
          (unsigned long long)a.counts[C2TRIE_LIST_APPROVED][0]);
    CHECK(a.counts[C2TRIE_LIST_BLOCKED][0] == 1 && a.counts[C2TRIE_LIST_BLOCKED][1] == 1,
          "blocked counts");
    uint64_t sum = 0;
    for (int l = 0; l < C2TRIE_LISTS; l++) sum += a.counts[l][0] + a.counts[l][1];
    CHECK(sum == a.entries, "counts add up: %llu vs %llu", (unsigned long long)sum,
          (unsigned long long)a.entries);

    c2trie_table *mapped = NULL, *copied = NULL;
    CHECK_OK(c2trie_table_map(path, &mapped));
    CHECK_OK(c2trie_table_get_info(mapped, &b));
    CHECK(same_info(&a, &b), "mapped table has the same header");

    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "read");
    fclose(f);
    CHECK_OK(c2trie_table_from_bytes(buf, (size_t)len, &copied));
    free(buf); /* the table holds its own copy */
    CHECK_OK(c2trie_table_get_info(copied, &c));
    CHECK(same_info(&a, &c) && c.bytes == (uint64_t)len, "copied table");

    c2trie_addr x = addr("2001:db8:bad::1");
    c2trie_decision d1 = C2TRIE_DECISION_INIT, d2 = C2TRIE_DECISION_INIT;
    CHECK_OK(c2trie_decide(mapped, NULL, &x, &d1));
    CHECK_OK(c2trie_decide(copied, NULL, &x, &d2));
    CHECK(d1.verdict == C2TRIE_VERDICT_LOG && d2.verdict == d1.verdict, "same answers");
    c2trie_table_free(mapped);
    c2trie_table_free(copied);
}

/* ---- Live handle ---------------------------------------------------------------------- */

static const uint8_t updated[4] = {203, 0, 113, 99}; /* only in V2 */

static void test_live(const char *v1, const char *v2, const char *corrupt) {
    c2trie_live *live = NULL;
    c2trie_live_info info;
    c2trie_swap s;
    c2trie_decision d = C2TRIE_DECISION_INIT;
    c2trie_table *snap = NULL;

    CHECK(c2trie_live_new(42, &live) == C2TRIE_ERR_ARGUMENT, "bad fail mode");
    CHECK_OK(c2trie_live_new(C2TRIE_FAIL_CLOSED, &live));
    CHECK_OK(c2trie_live_decide_v4(live, NULL, updated, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_BLOCK && d.reason == C2TRIE_REASON_NO_TABLE &&
              d.generation == 0 && d.list_version == 0,
          "fail closed before the first table");
    CHECK(c2trie_live_snapshot(live, &snap) == C2TRIE_ERR_NO_TABLE, "no snapshot yet");
    CHECK(c2trie_live_reload(live, corrupt, 0, &s) == C2TRIE_ERR_INVALID_TABLE, "corrupt");

    CHECK_OK(c2trie_live_reload(live, v1, 0, &s));
    CHECK(s.generation == 1 && s.list_version == 1 && !s.had_previous, "first reload");
    CHECK_OK(c2trie_live_decide_v4(live, NULL, updated, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS && d.generation == 1, "v1 passes 203.0.113.99");
    CHECK_OK(c2trie_live_snapshot(live, &snap));

    CHECK_OK(c2trie_live_reload(live, v2, C2TRIE_RELOAD_MAP, &s));
    CHECK(s.generation == 2 && s.list_version == 2 && s.had_previous && s.previous_version == 1,
          "swap to v2");
    CHECK_OK(c2trie_live_decide_v4(live, NULL, updated, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG && d.generation == 2 && d.list_version == 2 &&
              d.list == C2TRIE_LIST_GLOBAL && d.entry.found && d.entry.tag == NULL,
          "v2 logs 203.0.113.99");

    /* A stale table is refused and the one in service stays. */
    CHECK(c2trie_live_reload(live, v1, 0, NULL) == C2TRIE_ERR_ROLLBACK, "rollback refused");
    CHECK(strstr(c2trie_last_error(), v1) != NULL, "message names the file: %s",
          c2trie_last_error());
    CHECK(c2trie_live_reload(live, corrupt, 0, NULL) == C2TRIE_ERR_INVALID_TABLE, "corrupt");
    CHECK_OK(c2trie_live_get_info(live, &info));
    CHECK(info.generation == 2 && info.list_version == 2 && info.has_table &&
              info.fail_mode == C2TRIE_FAIL_CLOSED,
          "still v2");

    /* The snapshot still answers from v1, strings included. */
    c2trie_addr a = addr("192.0.2.1");
    CHECK_OK(c2trie_decide_v4(snap, NULL, updated, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_PASS, "snapshot is v1");
    CHECK_OK(c2trie_decide(snap, NULL, &a, &d));
    CHECK(str_eq(d.entry.source, d.entry.source_len, "global.txt"), "snapshot strings");

    /* An operator rollback. */
    CHECK_OK(c2trie_live_reload(live, v1, C2TRIE_RELOAD_FORCE, &s));
    CHECK(s.generation == 3 && s.list_version == 1 && s.previous_version == 2, "forced");

    c2trie_live_free(live);
    /* The snapshot outlives the handle. */
    CHECK_OK(c2trie_decide(snap, NULL, &a, &d));
    CHECK(d.verdict == C2TRIE_VERDICT_LOG &&
              str_eq(d.entry.source, d.entry.source_len, "global.txt"),
          "snapshot after free");
    c2trie_table_free(snap);
}

/* ---- Readers on several threads while the table is swapped ---------------------------- */

struct reader {
    c2trie_live *live;
    volatile int *stop;
    long decided;
    long wrong;
};

static void *reader_main(void *arg) {
    struct reader *r = arg;
    uint8_t batch[4 * 8];
    for (int i = 0; i < 8; i++) memcpy(batch + 4 * i, updated, 4);
    c2trie_decision ds[8];
    for (int i = 0; i < 8; i++) c2trie_decision_init(&ds[i]);
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        c2trie_decision d = C2TRIE_DECISION_INIT;
        if (c2trie_live_decide_v4(r->live, NULL, updated, &d) != C2TRIE_OK) {
            r->wrong++;
            continue;
        }
        /* Each answer is consistent with the one generation that gave it. */
        int want = d.list_version == 2 ? C2TRIE_VERDICT_LOG : C2TRIE_VERDICT_PASS;
        if (d.verdict != want || d.generation == 0) r->wrong++;
        if (c2trie_live_decide_v4_batch(r->live, NULL, batch, 8, ds) != C2TRIE_OK) r->wrong++;
        for (int i = 1; i < 8; i++)
            if (ds[i].generation != ds[0].generation || ds[i].verdict != ds[0].verdict)
                r->wrong++;
        r->decided += 9;
    }
    return NULL;
}

static void test_concurrent(const char *v1, const char *v2) {
    enum { READERS = 4, SWAPS = 200 };
    c2trie_live *live = NULL;
    CHECK_OK(c2trie_live_new(C2TRIE_FAIL_OPEN, &live));
    CHECK_OK(c2trie_live_reload(live, v1, 0, NULL));
    volatile int stop = 0;
    pthread_t th[READERS];
    struct reader rs[READERS];
    for (int i = 0; i < READERS; i++) {
        rs[i] = (struct reader){live, &stop, 0, 0};
        pthread_create(&th[i], NULL, reader_main, &rs[i]);
    }
    for (int i = 0; i < SWAPS; i++)
        CHECK_OK(c2trie_live_reload(live, i % 2 ? v1 : v2, C2TRIE_RELOAD_FORCE, NULL));
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    long decided = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        CHECK(rs[i].wrong == 0, "reader %d saw %ld inconsistent answers", i, rs[i].wrong);
        decided += rs[i].decided;
    }
    c2trie_live_info info;
    CHECK_OK(c2trie_live_get_info(live, &info));
    CHECK(info.generation == 1 + SWAPS, "generation %llu", (unsigned long long)info.generation);
    printf("%d readers decided %ld times across %d swaps\n", READERS, decided, SWAPS);
    c2trie_live_free(live);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s V1.c2t V2.c2t CORRUPT.c2t EXPECTED.txt\n", argv[0]);
        return 2;
    }
    printf("c2trie %s\n", c2trie_version());
    c2trie_table *t = NULL;
    CHECK_OK(c2trie_table_open(argv[1], &t));
    if (!t) return 1;
    test_sample_verdicts(t);
    test_nat64(t);
    test_entries(t);
    test_sizes(t);
    struct expected *ex = NULL;
    size_t n = read_expected(argv[4], &ex);
    CHECK(n > 1000, "expectations: %zu", n);
    test_expectations(t, ex, n);
    free(ex);
    test_errors(t, argv[1], argv[3]);
    test_open_ways(t, argv[1]);
    c2trie_table_free(t);
    test_live(argv[1], argv[2], argv[3]);
    test_concurrent(argv[1], argv[2]);
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
