"""Real stacks for the report's views of a snapshot (--inclusive,
--hide-imports): recursion and allocations made while a module is imported.

usage: views_workload.py RECURSIVE_SNAPSHOT IMPORT_SNAPSHOT END_SNAPSHOT ZIP_SNAPSHOT
Dumps a snapshot of recursive allocations, one taken by a module while it
is being imported (views_imported.py: its stacks go through the import
machinery's frozen frames), one at the end, and one taken by a module
imported from a zip archive (zipimport's frames too)."""
import os
import sys
import tracemalloc
import zipfile

ZIPPED = """import os, tracemalloc
ROWS = [bytearray(100 + i) for i in range(50)]
tracemalloc.take_snapshot().dump(os.environ["VIEWS_ZIP_SNAPSHOT"])
"""


def walk(depth, keep):
    """Plain recursion: every allocation has depth + 1 frames of this line."""
    if depth == 0:
        keep.append([bytearray(4096) for _ in range(32)])
        return
    keep.append(bytearray(512 * depth))
    walk(depth - 1, keep)


def ping(n, keep):
    """Mutual recursion with pong: two frames repeated in turn."""
    keep.append(bytearray(300))
    if n:
        pong(n - 1, keep)


def pong(n, keep):
    keep.append([n] * 40)
    if n:
        ping(n - 1, keep)


def main():
    tracemalloc.start(64)
    keep = []
    for depth in (3, 9, 15):
        walk(depth, keep)
    ping(12, keep)
    tracemalloc.take_snapshot().dump(sys.argv[1])
    os.environ["VIEWS_IMPORT_SNAPSHOT"] = sys.argv[2]
    import views_imported  # dumps its snapshot while it is imported
    keep.append(views_imported.TABLE)
    keep.append([str(i) * 3 for i in range(500)])
    tracemalloc.take_snapshot().dump(sys.argv[3])
    archive = os.path.join(os.path.dirname(os.path.abspath(sys.argv[4])), "views_modules.zip")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("views_zipped.py", ZIPPED)
    sys.path.insert(0, archive)
    os.environ["VIEWS_ZIP_SNAPSHOT"] = sys.argv[4]
    import views_zipped  # noqa: F401  (dumps its snapshot while zipimport imports it)


if __name__ == "__main__":
    main()
