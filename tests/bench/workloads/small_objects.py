"""Many small short-lived objects: dicts, tuples and strings (allocation-bound).
BENCH_SCALE scales the work (1.0 runs about a second; callgrind runs use less)."""
import os


def churn(n):
    total = 0
    for i in range(n):
        d = {"id": i, "name": "item-%d" % i, "tags": (i, i + 1, str(i))}
        total += len(d["name"]) + len(d["tags"])
    return total


churn(int(1_500_000 * float(os.environ.get("BENCH_SCALE", "1"))))
