#!/usr/bin/env python3
"""Summarizes criterion's results (target/criterion) as the Markdown tables of BENCHMARKS.md.

Usage: python3 benches/report.py [TARGET_DIR]

Lookup figures are million lookups per second from the median time per iteration; ratios
compare c2trie's best single-lookup variant with the best LPM peer (the host-only hash set
is not an LPM structure and is compared separately).
"""

import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
root = os.path.join(target, "criterion")

results = {}  # group -> function -> (median ns, throughput dict)
for group_dir in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    gpath = os.path.join(root, group_dir)
    for fn in sorted(os.listdir(gpath)):
        new = os.path.join(gpath, fn, "new")
        try:
            with open(os.path.join(new, "benchmark.json")) as f:
                meta = json.load(f)
            with open(os.path.join(new, "estimates.json")) as f:
                est = json.load(f)
        except OSError:
            continue
        results.setdefault(meta["group_id"], {})[meta["function_id"]] = (
            est["median"]["point_estimate"],
            meta.get("throughput") or {},
        )


def rate(ns, tp):
    if "Elements" in tp:
        return tp["Elements"] / ns * 1e3  # million elements per second
    if "Bytes" in tp:
        return tp["Bytes"] / ns  # GB/s
    return None


SETS = ["v4-10k", "v4-100k", "v4-1000k", "v6-100k", "ipsum", "dropv6", "bgp4", "bgp6", "country4", "country6"]
ROWS = [
    ("c2trie", "c2trie (verdict)"),
    ("c2trie-prefix", "c2trie (matched prefix)"),
    ("c2trie-batch", "c2trie batch (verdict)"),
    ("prefix-trie", "prefix-trie 0.10"),
    ("poptrie", "poptrie 0.2"),
    ("iptrie-lc", "iptrie 0.11 LCTrieMap"),
    ("ip_network_table", "ip_network_table 0.2"),
    ("hashset-hosts-only", "FxHashSet, hosts only (no prefixes)"),
]
PEERS = ["prefix-trie", "poptrie", "iptrie-lc", "ip_network_table"]
C2 = ["c2trie", "c2trie-prefix"]



def table(sets):
    cols = [f"{s}/{q}" for s in sets for q in ["uniform", "mixed"] if f"{s}/{q}" in results]
    if not cols:
        return
    print("| structure | " + " | ".join(c.replace("/uniform", " u").replace("/mixed", " mix") for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for key, label in ROWS:
        cells = []
        for c in cols:
            r = results[c].get(key)
            cells.append(f"{rate(*r):.0f}" if r else "–")
        if any(x != "–" for x in cells):
            print(f"| {label} | " + " | ".join(cells) + " |")

    def ratio_row(label, num_keys, den_keys):
        cells = []
        for c in cols:
            num = [rate(*results[c][k]) for k in num_keys if k in results[c]]
            den = [rate(*results[c][k]) for k in den_keys if k in results[c]]
            cells.append(f"{max(num) / max(den):.2f}×" if num and den else "–")
        if any(x != "–" for x in cells):
            print(f"| {label} | " + " | ".join(cells) + " |")

    ratio_row("**c2trie verdict / best LPM peer**", ["c2trie"], PEERS)
    ratio_row("**c2trie prefix / best LPM peer**", ["c2trie-prefix"], PEERS)
    ratio_row("**c2trie batch / best LPM peer**", ["c2trie-batch"], PEERS)
    ratio_row("**c2trie verdict / hash set**", ["c2trie"], ["hashset-hosts-only"])
    ratio_row("**c2trie batch / hash set**", ["c2trie-batch"], ["hashset-hosts-only"])
    ratio_row("**batch / single (verdict)**", ["c2trie-batch"], ["c2trie"])
    print()


table(SETS[:4])
table(SETS[4:])

for g in sorted(results):
    if "/" in g and g.split("/")[0] in ("build", "load"):
        print(f"\n{g}:")
        for fn, (ns, tp) in sorted(results[g].items(), key=lambda x: x[1][0]):
            r = rate(ns, tp)
            unit = "GB/s" if "Bytes" in tp else "M/s"
            print(f"  {fn:<24} {ns / 1e6:9.1f} ms  {r:8.2f} {unit}")
