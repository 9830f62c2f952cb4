"""A small program with a slow leak in one function and a short-lived peak in another.

Profile it:
    mprofile run -r 64k python3.11 examples/leak_and_peak.py
    mprofile-report mprofile.<pid>.1.snap         # at exit: the leak in remember()
    mprofile-report mprofile.<pid>.1.peak.snap    # at the peak: the rows of build_report()
The snapshot written at exit shows what the program still held: the leak in remember(), not
the peak in build_report(), which was freed long before. Its peak companion shows what was in
memory when the program used the most.
"""
import json

_cache = {}


def remember(key):
    # The leak: every request adds 20 KB that is never dropped.
    _cache[key] = bytearray(20_000)


def build_report(n):
    # The peak: 40 MB of rows that live only while the report is built.
    rows = [{"id": i, "payload": "x" * 400 + str(i)} for i in range(n)]
    return len(json.dumps(rows[:10]))


def serve(requests):
    for i in range(requests):
        remember("request-%d" % i)
        if i % 500 == 0:
            build_report(60_000)


if __name__ == "__main__":
    serve(2000)
    print("served 2000 requests; cache holds %d entries" % len(_cache))
