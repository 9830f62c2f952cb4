"""Many small short-lived objects: dicts, tuples and strings (allocation-bound)."""
import time

def churn(n):
    total = 0
    for i in range(n):
        d = {"id": i, "name": "item-%d" % i, "tags": (i, i + 1, str(i))}
        total += len(d["name"]) + len(d["tags"])
    return total

start = time.process_time()
churn(1_500_000)
