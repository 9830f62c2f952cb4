"""A steady working set under constant churn, and optionally a leak.

usage: churn_program.py SEED noleak|leak SECONDS

3000 blocks of 50 to 5000 bytes, 200 of them replaced by new ones every tick (the working set
keeps its size while its blocks come and go). With "leak", every tick also keeps one more
bytearray of 20000 bytes in a list that is never emptied (the LEAK line). Prints the bytes each
kept element costs, then one "time count" line per tick, for the true slope."""
import random
import sys
import time

rng = random.Random(int(sys.argv[1]))
leak = sys.argv[2] == "leak"
work = [bytearray(rng.randrange(50, 5000)) for _ in range(3000)]
kept = []
log = []
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    for _ in range(200):
        work[rng.randrange(len(work))] = bytearray(rng.randrange(50, 5000))
    if leak:
        kept.append(bytearray(20000))  # LEAK
        log.append((time.time(), len(kept)))
    time.sleep(0.002)
# The object and its buffer, and the list's pointer to it.
print(sys.getsizeof(bytearray(20000)) + 8)
for t, n in log:
    print(t, n)
