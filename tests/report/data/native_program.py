"""A program run under LD_PRELOAD=libmprofile.so with MPROFILE_NATIVE=1 by
e2e_libmprofile.py: besides Python objects it makes C libraries allocate
on the native heap (SQLite's pages and statements, OpenSSL's hash
contexts), which libmprofile records in its native domain."""
import hashlib
import sqlite3

import workload_helper as helper

KEEP = [helper.make_records(500), [bytearray(3000 + i) for i in range(100)]]
db = sqlite3.connect(":memory:")
db.execute("create table t (a text, b integer)")
db.executemany("insert into t values (?, ?)", [("x" * (100 + i % 300), i) for i in range(3000)])
KEEP.append(db)
KEEP.append([hashlib.sha256(b"%d" % i) for i in range(200)])
