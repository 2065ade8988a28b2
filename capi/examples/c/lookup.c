/*
 * c2trie from C: open a compiled table and decide addresses given on the command line
 * under a policy, printing the verdict and every list's match.
 *
 *   ./lookup TABLE [--block] ADDR...
 *
 * --block blocks the global list too (the default policy only logs it).
 * Build: make (see Makefile and capi/README.md).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "c2trie.h"

static const char *verdict_name(int v) {
    switch (v) {
    case C2TRIE_VERDICT_ALLOW: return "allow";
    case C2TRIE_VERDICT_BLOCK: return "block";
    case C2TRIE_VERDICT_LOG: return "log";
    default: return "pass";
    }
}

static const char *list_name(int l) {
    switch (l) {
    case C2TRIE_LIST_APPROVED: return "approved";
    case C2TRIE_LIST_BLOCKED: return "blocked";
    case C2TRIE_LIST_GLOBAL: return "global";
    default: return "-";
    }
}

static void print_prefix(const c2trie_match *m) {
    char text[INET6_ADDRSTRLEN];
    int af = m->family == C2TRIE_FAMILY_V4 ? AF_INET : AF_INET6;
    printf("%s/%u", inet_ntop(af, m->prefix, text, sizeof text), m->prefix_len);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TABLE [--block] ADDR...\n", argv[0]);
        return 2;
    }
    c2trie_table *table = NULL;
    if (c2trie_table_open(argv[1], &table) != C2TRIE_OK) {
        fprintf(stderr, "%s\n", c2trie_last_error());
        return 1;
    }
    c2trie_table_info info;
    c2trie_table_get_info(table, &info);
    printf("%s: list version %llu, %llu entries\n", argv[1],
           (unsigned long long)info.list_version, (unsigned long long)info.entries);

    c2trie_policy *policy = NULL; /* global: log, blocked: block, IPv4-in-IPv6 decoded */
    if (c2trie_policy_new(&policy) != C2TRIE_OK) {
        fprintf(stderr, "%s\n", c2trie_last_error());
        c2trie_table_free(table);
        return 1;
    }
    int status = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--block") == 0) {
            c2trie_policy_set_mode(policy, C2TRIE_LIST_GLOBAL, C2TRIE_MODE_BLOCK);
            continue;
        }
        c2trie_addr addr;
        /* Structs the library writes carry their size: initialize them. */
        c2trie_decision d = C2TRIE_DECISION_INIT;
        if (c2trie_parse_addr(argv[i], &addr) != C2TRIE_OK ||
            c2trie_decide(table, policy, &addr, &d) != C2TRIE_OK) {
            fprintf(stderr, "%s\n", c2trie_last_error());
            status = 1;
            continue;
        }
        printf("%-22s %-5s", argv[i], verdict_name(d.verdict));
        if (d.entry.found) {
            printf("  %s ", list_name(d.list));
            print_prefix(&d.entry);
            /* Strings are borrowed from the table, with a length, not NUL-terminated. */
            printf(" from %.*s", (int)d.entry.source_len, d.entry.source);
            if (d.entry.tag) printf(" [%.*s]", (int)d.entry.tag_len, d.entry.tag);
            if (d.via >= 0) printf(" (via the IPv4 address it embeds)");
        }
        printf("\n");
    }
    c2trie_policy_free(policy);
    c2trie_table_free(table);
    return status;
}
