"""A program run under LD_PRELOAD=libmprofile.so by e2e_html.py: three phases, a
snapshot after each (mprofile.dump, each with its peak companion), and a short-lived
burst of buffers between the first two, which is the run's peak.

usage: html_program.py OUTDIR"""
import sys

import mprofile


class Cache:
    def __init__(self):
        self.items = {}

    def fill(self, start, n):
        for i in range(start, start + n):
            self.items[i] = ("value-%d " % i) * 6


def parse_records(n):
    return [{"id": i, "name": "record-%d" % i, "tags": [i, i + 1, i + 2]} for i in range(n)]


def build_buffers(n, size):
    return [bytearray(size) for _ in range(n)]


def transient_burst():
    """Held only while it runs: the peak snapshot shows it, the others do not."""
    burst = build_buffers(300, 40000)
    return sum(len(b) for b in burst)


def main(outdir):
    cache = Cache()
    keep = []
    cache.fill(0, 4000)
    keep.append(parse_records(2000))
    mprofile.dump(outdir + "/phase1.snap")
    transient_burst()
    cache.fill(4000, 12000)
    buffers = build_buffers(60, 20000)
    mprofile.dump(outdir + "/phase2.snap")
    del buffers
    keep.append(parse_records(8000))
    mprofile.dump(outdir + "/phase3.snap")


main(sys.argv[1])
