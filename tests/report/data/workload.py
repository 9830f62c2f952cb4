"""A small real program whose allocations the end-to-end tests profile.

usage: workload.py OLD_SNAPSHOT NEW_SNAPSHOT
Takes a tracemalloc snapshot mid-way and another at the end, both written
with Snapshot.dump() exactly as a user would."""
import json
import re
import sys
import tracemalloc

import workload_helper as helper


def parse_documents(n):
    docs = []
    for i in range(n):
        text = json.dumps({"k%d" % j: [j, str(j), {"x": j}] for j in range(i % 13)})
        docs.append(json.loads(text))
    return docs


def compile_patterns():
    return [re.compile(r"item-(\d+)-%d" % i) for i in range(40)]


def main():
    tracemalloc.start(25)
    keep = []
    keep.append(helper.make_records(400))
    keep.append(parse_documents(150))
    keep.append(helper.build_tree(4, 3))
    cache = {}
    helper.grow(cache, 500)
    tracemalloc.take_snapshot().dump(sys.argv[1])
    keep.append(compile_patterns())
    helper.grow(cache, 900)
    keep.append(helper.build_tree(5, 2))
    keep.append([bytearray(1000 + i) for i in range(50)])
    del keep[0]
    tracemalloc.take_snapshot().dump(sys.argv[2])


if __name__ == "__main__":
    main()
