#include "biaslock.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The first wait after a revocation, and the most it doubles to. */
#define INITIAL_WAIT 64
#define MAX_WAIT     (1u << 20)
/* glibc keeps the values of the first 32 keys in the thread itself; pthread_setspecific of a
 * later key may allocate, which the lock's holder (inside an allocator hook) must not. */
#define KEYS_WITHOUT_ALLOCATION 32

static atomic_int biasing;       /* set by mp_biaslock_enable, cleared if membarrier is lost */
static pthread_key_t slot_key;   /* its destructor gives the exiting thread's slot back */
static _Atomic uint64_t slots_taken; /* bit i: slot i belongs to a live thread */

_Static_assert(MP_BIASLOCK_SLOTS == 64, "slots_taken has a bit per slot");

/* slot + 1 of the calling thread, 0 for none yet. */
static __thread uint32_t my_slot __attribute__((tls_model("initial-exec")));
/* The calling thread holds a biaslock through its bias (else through the mutex). */
static __thread int held_by_bias __attribute__((tls_model("initial-exec")));
/* The calling thread is exiting (its slot given back): it takes no slot again, since a
 * thread-specific value set now may outlive the destructors' last round. */
static __thread int exiting __attribute__((tls_model("initial-exec")));

static int
register_membarrier(void)
{
    int saved_errno = errno;
    int rc = (int)syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    errno = saved_errno;
    return rc;
}

/* Thread exit (key destructor): the slot may be taken by a new thread. */
static void
release_slot(void *unused)
{
    (void)unused;
    exiting = 1;
    uint32_t s = my_slot;
    if (s != 0) {
        my_slot = 0;
        atomic_fetch_and(&slots_taken, ~(UINT64_C(1) << (s - 1)));
    }
}

static void
enable_once(void)
{
    if (register_membarrier() != 0 || pthread_key_create(&slot_key, release_slot) != 0) {
        return;
    }
    if (slot_key >= KEYS_WITHOUT_ALLOCATION) {
        pthread_key_delete(slot_key);
        return;
    }
    atomic_store(&biasing, 1);
}

int
mp_biaslock_enable(void)
{
    /* Once per process: a second call (a late start) makes no second key, and does not bring
     * back a bias that a refused membarrier turned off. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, enable_once);
    return atomic_load(&biasing);
}

/* Under the mutex: gives the calling thread a slot. 0, or -1 when none is free. */
static int
take_slot(void)
{
    if (exiting) {
        return -1;
    }
    uint64_t taken = atomic_load(&slots_taken);
    for (;;) {
        if (taken == UINT64_MAX) {
            return -1;
        }
        int i = __builtin_ctzll(~taken);
        if (atomic_compare_exchange_weak(&slots_taken, &taken, taken | (UINT64_C(1) << i))) {
            if (pthread_setspecific(slot_key, (void *)1) != 0) {
                atomic_fetch_and(&slots_taken, ~(UINT64_C(1) << i));
                return -1;
            }
            my_slot = (uint32_t)i + 1;
            return 0;
        }
    }
}

/* Any context: enters through the calling thread's bias, if it has it. */
static inline int
enter_biased(mp_biaslock_t *l)
{
    uint32_t s = my_slot;
    if (s == 0 || atomic_load_explicit(&l->owner, memory_order_relaxed) != s) {
        return 0;
    }
    mp_biaslock_slot_t *slot = &l->slots[s - 1];
    atomic_store_explicit(&slot->inside, 1, memory_order_relaxed);
    /* The CPU's half of the fence is the revoker's membarrier (biaslock.h). */
    atomic_signal_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&l->owner, memory_order_acquire) != s) {
        atomic_store_explicit(&slot->inside, 0, memory_order_release);
        return 0;
    }
    slot->entries++;
    return 1;
}

/* Sleeps without being a cancellation point (nanosleep is one): the caller holds the mutex, and
 * a thread cancelled here would leave it held. */
static void
pause_us(long us)
{
    struct timespec pause = {0, us * 1000};
    syscall(SYS_nanosleep, &pause, NULL);
}

/*
 * The barrier of a revocation: membarrier, after which the biased thread either reads the new
 * owner or has made its flag visible. Once registered it fails only for a lack of kernel memory
 * (retried a while when the caller can wait), or if a seccomp filter installed since refuses it.
 * Then no bias is granted any more, and, when the caller can wait, a millisecond's sleep stands
 * in for the barrier: the biased thread's store to its flag and its read of the owner are
 * visible or done long before (a store leaves the store buffer within microseconds, and a
 * context switch is a full barrier). Returns 0 when the biased thread's flag can be trusted.
 */
static int
revocation_barrier(int can_wait)
{
    for (int tries = 0; tries < 100; tries++) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
            return 0;
        }
        if (errno != ENOMEM || !can_wait) {
            break;
        }
        sched_yield();
    }
    if (errno != ENOMEM) {
        atomic_store(&biasing, 0);
    }
    if (!can_wait) {
        return -1;
    }
    pause_us(1000);
    return 0;
}

/*
 * Under the mutex: takes the bias away from its thread, waiting for it to leave when can_wait,
 * else failing with -EBUSY while it is inside or when the barrier failed (the bias is revoked
 * all the same, and the next holder of the mutex finishes the revocation).
 */
static int
revoke_bias(mp_biaslock_t *l, int can_wait)
{
    uint32_t o = atomic_load_explicit(&l->owner, memory_order_relaxed);
    if (o != 0) {
        atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
        l->revoked = o;
    }
    /* Also a revocation that a trylock began but could not see through: until its thread has
     * been seen out, nobody may enter through the mutex. */
    o = l->revoked;
    if (o == 0) {
        return 0;
    }
    int saved_errno = errno;
    if (revocation_barrier(can_wait) < 0) {
        errno = saved_errno;
        return -EBUSY;
    }
    mp_biaslock_slot_t *slot = &l->slots[o - 1];
    for (int spins = 0; atomic_load_explicit(&slot->inside, memory_order_acquire); spins++) {
        if (!can_wait) {
            errno = saved_errno;
            return -EBUSY;
        }
        if (spins >= 1100) {
            pause_us(100); /* a long section (a peak copy of a big table) */
        } else if (spins >= 100) {
            sched_yield(); /* its thread may be preempted inside */
        }
    }
    errno = saved_errno;
    l->revoked = 0;
    /* A bias that served fewer entries than twice the wait before it was not worth its
     * revocation: threads take turns quickly, so the next grant waits twice as long. */
    l->revocations++;
    if (l->backoff == 0 || slot->entries >= 2 * (uint64_t)l->backoff) {
        l->backoff = INITIAL_WAIT;
    } else if (l->backoff < MAX_WAIT) {
        l->backoff *= 2;
    }
    l->wait = l->backoff;
    return 0;
}

/* Under the mutex, as the calling thread unlocks: grants it the bias once the wait is over. */
static void
maybe_grant(mp_biaslock_t *l)
{
    if (!atomic_load_explicit(&biasing, memory_order_relaxed) ||
        atomic_load_explicit(&l->owner, memory_order_relaxed) != 0) {
        return;
    }
    if (l->wait > 0) {
        l->wait--;
        return;
    }
    if (my_slot == 0 && take_slot() < 0) {
        l->wait = INITIAL_WAIT; /* every slot is taken: not at every unlock */
        return;
    }
    l->slots[my_slot - 1].entries = 0;
    atomic_store_explicit(&l->owner, my_slot, memory_order_release);
}

void
mp_biaslock_lock_biased(mp_biaslock_t *l)
{
    if (enter_biased(l)) {
        held_by_bias = 1;
        return;
    }
    mp_biaslock_lock(l);
}

int
mp_biaslock_trylock(mp_biaslock_t *l)
{
    if (pthread_mutex_trylock(&l->mutex) != 0) {
        return -EBUSY;
    }
    if (revoke_bias(l, 0) < 0) {
        pthread_mutex_unlock(&l->mutex);
        return -EBUSY;
    }
    held_by_bias = 0;
    return 0;
}

void
mp_biaslock_lock(mp_biaslock_t *l)
{
    pthread_mutex_lock(&l->mutex);
    revoke_bias(l, 1);
    held_by_bias = 0;
}

void
mp_biaslock_unlock(mp_biaslock_t *l)
{
    if (held_by_bias) {
        held_by_bias = 0;
        atomic_store_explicit(&l->slots[my_slot - 1].inside, 0, memory_order_release);
        return;
    }
    maybe_grant(l);
    pthread_mutex_unlock(&l->mutex);
}

void
mp_biaslock_unlock_in_child(mp_biaslock_t *l)
{
    uint32_t s = my_slot;
    atomic_store(&slots_taken, s != 0 ? UINT64_C(1) << (s - 1) : 0);
    /* A thread of the parent may have raised its flag between its read of the owner and the
     * fork (it would have lowered it again after its second read, in the parent only): the
     * slots of threads that do not exist here start clean, or a revoker would wait for good. */
    for (uint32_t i = 0; i < MP_BIASLOCK_SLOTS; i++) {
        if (i + 1 != s) {
            atomic_store_explicit(&l->slots[i].inside, 0, memory_order_relaxed);
            l->slots[i].entries = 0;
        }
    }
    l->revoked = 0;
    /* Kept across fork on the kernels we know of; registering again costs nothing. */
    if (atomic_load(&biasing) && register_membarrier() != 0) {
        atomic_store(&biasing, 0);
    }
    held_by_bias = 0;
    pthread_mutex_unlock(&l->mutex);
}
