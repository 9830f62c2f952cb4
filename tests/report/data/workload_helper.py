"""Allocation helpers in a second module, so that grouping by filename and
filters see more than one file."""


class Node:
    def __init__(self, value, children=()):
        self.value = value
        self.children = list(children)


def build_tree(depth, fanout):
    # Recursive: the same frame appears several times in one traceback,
    # which is what cumulative statistics count repeatedly.
    if depth == 0:
        return Node(bytearray(64))
    return Node(str(depth) * 10, [build_tree(depth - 1, fanout) for _ in range(fanout)])


def make_records(n):
    return [{"id": i, "name": "record-%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5)}
            for i in range(n)]


def grow(cache, n):
    for i in range(n):
        cache.setdefault(i % 97, []).append(bytes(i % 300))
