/*
 * Tracked blocks: the memory extensions report with PyTraceMalloc_Track(domain, ptr, size) and
 * PyTraceMalloc_Untrack(domain, ptr), numpy's arrays above all (domain 389047). Every loaded
 * object's calls to them reach the profiler first (relocs.h); the interpreter's own functions
 * are still called, so tracemalloc sees them too when it runs. Recorded as tracemalloc records
 * them: one trace per (domain, address), replaced by a second Track of the same address,
 * removed by Untrack and by nothing else, in the snapshot's trace domain of the caller's choice.
 * Sampled like every allocation: the thread's countdown, the same weights.
 */
#ifndef MP_TRACKED_H
#define MP_TRACKED_H

/* Installs the interposers on every loaded object and on those loaded later. Constructor or
 * API (GIL held), once the profiler's tables exist. Returns 0, or -1 when they could not be
 * installed (the interpreter has no PyTraceMalloc_Track). */
int mp_tracked_install(void);

#endif
