"""Imported by views_workload.py: allocates at import time and dumps a
snapshot before its import has finished, so the stacks of its blocks go
through the frozen frames of importlib."""
import os
import tracemalloc

TABLE = {i: "value-%d" % i for i in range(800)}
ROWS = [bytearray(64 + i % 7) for i in range(300)]

tracemalloc.take_snapshot().dump(os.environ["VIEWS_IMPORT_SNAPSHOT"])
