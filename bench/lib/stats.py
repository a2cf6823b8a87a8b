#!/usr/bin/env python3
"""Reads numbers (one per line) and prints 'median M (min A .. max B), n=N'."""
import statistics, sys
xs = [float(l) for l in sys.stdin if l.strip() and l.strip() != "timeout"]
if not xs:
    print("no samples")
else:
    print(f"median {statistics.median(xs):.1f} ms (range {min(xs):.1f} .. {max(xs):.1f}), n={len(xs)}")
