#!/usr/bin/env python3
"""Prints one ratio line per (ours, peer) pair from Google Benchmark JSON output files.

Usage: bench_ratios.py <benchmark_out.json> [...]

ratio = peer time / our time, on CPU time (the machine is shared: wall time is also shown).
A ratio above 1 means ours is faster; "0.9x" means ours runs at 90% of the peer's speed.
A pair whose peer is a list compares against the sum of those runs (e.g. sha256 then sha512
in two passes vs one pass computing both).
"""
import json
import sys

PAIRS = [
    # json_bench: our parser/writer vs nlohmann/json on the same document.
    ("BM_Parse/{n}", ["BM_NlohmannParse/{n}"]),
    ("BM_ParseAndFree/{n}", ["BM_NlohmannParseAndFree/{n}"]),
    ("BM_ParseIndent1/{n}", ["BM_NlohmannParseIndent1/{n}"]),
    ("BM_Canonical/{n}", ["BM_NlohmannDump/{n}"]),
    ("BM_Serialize/{n}", ["BM_NlohmannDump/{n}"]),
    # crypto_bench: one pass computing both digests vs two passes.
    ("BM_MultiHashSha256Sha512", ["BM_Hash/sha256", "BM_Hash/sha512"]),
    # crypto_bench: libsodium vs OpenSSL ed25519 (the backend crossover).
    ("BM_Ed25519Verify/libsodium/{s}", ["BM_Ed25519Verify/openssl/{s}"]),
]
SIZES = {"n": ["10000", "100000"],
         "s": ["256", "4096", "65536", "131072", "262144", "1048576", "16777216"]}
TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load(paths):
    runs = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                    continue
                scale = TO_MS[b.get("time_unit", "ns")]
                runs[b["name"]] = (b["cpu_time"] * scale, b["real_time"] * scale)
    return runs


def expand(template):
    for key, values in SIZES.items():
        if "{" + key + "}" in template:
            return [(v, template.replace("{" + key + "}", v)) for v in values]
    return [(None, template)]


def main():
    runs = load(sys.argv[1:])
    for ours_t, peers_t in PAIRS:
        for value, ours in expand(ours_t):
            peers = [p.format(**{k: value for k in SIZES}) if value else p for p in peers_t]
            if ours not in runs or not all(p in runs for p in peers):
                continue
            cpu = sum(runs[p][0] for p in peers)
            real = sum(runs[p][1] for p in peers)
            print(f"RATIO {ours} vs {' + '.join(peers)}: ours {runs[ours][0]:.3f} ms cpu "
                  f"({runs[ours][1]:.3f} wall), peer {cpu:.3f} ms cpu ({real:.3f} wall): "
                  f"{cpu / runs[ours][0]:.2f}x")


if __name__ == "__main__":
    main()
