/*
 * A mutex biased towards the thread that takes it most: that thread takes and releases it with
 * plain loads and stores, no atomic read-modify-write and no fence, while the others go through a
 * pthread mutex. It is the profiler's lock (profiler.h): in exact mode every allocation and every
 * free takes it, and perf put a mutex's locked instructions at a fifth of the samples with threads
 * (waiting for the stores before them; taking them away saved 5%). With the GIL one thread
 * allocates at a time for milliseconds, so the bias holds for thousands of operations between two
 * revocations.
 *
 * The protocol (an asymmetric Dekker handshake):
 * - `owner` names the biased thread (its slot, below), or none. Only a thread holding the mutex
 *   changes it.
 * - The biased thread enters by storing 1 in its slot's `inside` flag, then reading `owner`
 *   again: if it still names it, it is in; else it clears its flag and takes the mutex. It
 *   leaves by storing 0 (release).
 * - Any other thread takes the mutex, and if a thread is biased, revokes it: stores "none" in
 *   `owner`, then calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full barrier
 *   on every CPU running a thread of the process, then waits for the old owner's `inside` to be
 *   0 (acquire). Either the biased thread's second read comes after the barrier and sees
 *   "none", or its store of 1 was made visible by the barrier and the revoker waits for it to
 *   leave: never both inside. The heavy barrier is paid once per revocation, by the revoker.
 * - A thread that holds the mutex grants the bias to itself as it unlocks, once the lock has
 *   been taken through the mutex `wait` times since the last revocation. When a revocation
 *   finds that the bias served few entries, the wait doubles (up to 2^20), so threads that
 *   take turns quickly (real contention) fall back to the plain mutex.
 * - A thread's slot (one of MP_BIASLOCK_SLOTS flags on their own cache lines) is its own while
 *   it lives: only it writes its flag, so a thread that lost the bias between its two reads
 *   never clears another thread's. A thread-specific key gives the slot back as the thread
 *   exits; a slot reused then may still be named by `owner`, which is safe (the thread that had
 *   it is gone, so it is not inside; the slot's release and reuse are ordered by atomics).
 *   Threads beyond the slots, or when the key cannot be made without allocating, use the mutex.
 *
 * Without membarrier (kernels before 4.14, seccomp filters that refuse it) the bias is never
 * granted and the lock is a plain mutex. The registration (MEMBARRIER_CMD_REGISTER_PRIVATE_
 * EXPEDITED) changes nothing else for the process.
 *
 * Only short sections take the bias (mp_biaslock_lock_biased): a revoker spins (yielding) until
 * the biased thread leaves, where a mutex would sleep, so long holds go through the mutex.
 *
 * Contexts: the locks may wait (normal contexts only); mp_biaslock_trylock never waits for
 * another thread (signal handlers, _exit: it may revoke, a system call, and fails when the
 * biased thread is inside); unlock in the context that locked. A thread holds at most one
 * biaslock at a time (the way it holds it is kept per thread).
 */
#ifndef MP_BIASLOCK_H
#define MP_BIASLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MP_BIASLOCK_SLOTS 64

typedef struct {
    _Alignas(64) atomic_int inside; /* written by the slot's thread only */
    uint64_t entries;               /* fast entries since the bias was granted (its thread) */
} mp_biaslock_slot_t;

typedef struct {
    pthread_mutex_t mutex;
    _Atomic uint32_t owner; /* slot + 1 of the biased thread, 0 for none */
    /* Under mutex: slot + 1 of a thread whose bias was taken away but which has not been seen
     * out yet (a trylock that could not wait), else 0. */
    uint32_t revoked;
    uint32_t wait;          /* under mutex: mutex acquisitions left before the next grant */
    uint32_t backoff;       /* under mutex: the wait set by the last revocation */
    uint64_t revocations;   /* under mutex */
    mp_biaslock_slot_t slots[MP_BIASLOCK_SLOTS];
} mp_biaslock_t;

#define MP_BIASLOCK_INITIALIZER {.mutex = PTHREAD_MUTEX_INITIALIZER}

/* Constructor: registers for membarrier and makes the slots' key. Returns 1 when biasing is
 * on, 0 when every biaslock stays a plain mutex. */
int mp_biaslock_enable(void);

/* Normal contexts: takes the lock through the mutex, revoking any bias (waiting for its thread
 * to leave). For every hold that may last (a snapshot's copy, API calls), so that a revoker
 * only ever waits for a short biased section, and for the fork prepare handler, so that the
 * child (whose other threads are gone) holds a plain mutex. */
void mp_biaslock_lock(mp_biaslock_t *l);

/* Normal contexts, for short sections (a sampled allocation, a free): through the calling
 * thread's bias if it has it, else as mp_biaslock_lock. */
void mp_biaslock_lock_biased(mp_biaslock_t *l);

/* Any context: takes the lock through the mutex if that needs no wait for another thread
 * (revoking the bias). 0, or -EBUSY. */
int mp_biaslock_trylock(mp_biaslock_t *l);

/* Releases the lock. Through the mutex this is a full barrier; through the bias, a release
 * store only. A trylock that failed because the biased thread was inside had called membarrier
 * after the caller's earlier stores, so the biased thread reads them once it has left: a
 * request made before trying the lock is seen either by the requester or by the holder. */
void mp_biaslock_unlock(mp_biaslock_t *l);

/* Fork child handler, after mp_biaslock_lock in the parent: releases it; the slots of the
 * parent's other threads are free again. */
void mp_biaslock_unlock_in_child(mp_biaslock_t *l);

#endif
