"""Times the Python masking (ferry_masking) on items written by ``bench/src/bin/masking.rs``.

Usage: bench_masking.py ITEMS.jsonl [--runs N] [--page N] [--out MASKED.jsonl] [--check N]

ITEMS.jsonl: the first line is ``{"key": "<utf-8 key>", "rules": <MaskingSpec>}``, every other line
one item as DynamoDB JSON. Two measurements, each the best of ``--runs`` (default 5), on one thread:

* ``all_at_once``: parse every item (not timed), then mask them all (timed);
* ``paged``: per page of ``--page`` items (default 256, about one Scan page), parse the page (not
  timed), then mask it (timed): items are fresh in the CPU caches, as when a job masks what it just
  read.

Prints one JSON object: implementation, items, runs, page, all_at_once and paged (each
best_seconds, items_per_s, ns_per_item), values_changed, hmacs. ``--out`` writes the first
``--check`` (default 100) masked items as DynamoDB JSON lines, for the caller to compare.
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ferry_masking  # noqa: E402


def rates(seconds, n):
    return {"best_seconds": seconds, "items_per_s": n / seconds if seconds else None, "ns_per_item": seconds * 1e9 / n if n else None}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page", type=int, default=256)
    parser.add_argument("--out")
    parser.add_argument("--check", type=int, default=100)
    opts = parser.parse_args(argv)
    runs = max(1, opts.runs)
    page = max(1, opts.page)

    with open(opts.items, encoding="utf-8") as f:
        header = json.loads(f.readline())
        lines = f.readlines()
    key = header["key"].encode("utf-8")
    rules = header["rules"]
    loads = json.loads

    best_all = None
    changed = hmacs = 0
    first = None
    for _ in range(runs):
        items = [loads(line) for line in lines]
        masker = ferry_masking.Masker(key, rules)
        mask = masker.mask_item
        changed = 0
        start = time.perf_counter()
        for item in items:
            changed += mask(item)[1]
        elapsed = time.perf_counter() - start
        hmacs = masker.addresses
        best_all = elapsed if best_all is None else min(best_all, elapsed)
        if first is None:
            first = items[: opts.check]
        del items

    best_paged = None
    for _ in range(runs):
        masker = ferry_masking.Masker(key, rules)
        mask = masker.mask_item
        total = 0.0
        for offset in range(0, len(lines), page):
            items = [loads(line) for line in lines[offset : offset + page]]
            start = time.perf_counter()
            for item in items:
                mask(item)
            total += time.perf_counter() - start
        best_paged = total if best_paged is None else min(best_paged, total)

    if opts.out:
        with open(opts.out, "w", encoding="utf-8") as f:
            for item in first:
                f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")

    n = len(lines)
    print(
        json.dumps(
            {
                "implementation": f"python {platform.python_version()}",
                "items": n,
                "runs": runs,
                "page": page,
                "all_at_once": rates(best_all, n),
                "paged": rates(best_paged, n),
                "values_changed": changed,
                "hmacs": hmacs,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
