"""Four threads allocating at once: small objects, lists and strings in each thread (the
countdowns are per thread; the GIL switches between them). BENCH_SCALE scales the work."""
import os
import threading


def work(n, seed, out):
    total = 0
    keep = []
    for i in range(n):
        row = [seed, i, "t%d-%d" % (seed, i), (i, i * 2)]
        keep.append(row)
        if len(keep) > 1000:
            keep = keep[500:]
        total += len(row[2])
    out[seed] = total


def main(n):
    out = {}
    threads = [threading.Thread(target=work, args=(n, s, out)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out.values())


main(int(600_000 * float(os.environ.get("BENCH_SCALE", "1"))))
