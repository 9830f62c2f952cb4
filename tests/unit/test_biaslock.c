#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "biaslock.h"

static int biasing;

/* Each test starts from a lock nobody holds or is biased towards. */
static mp_biaslock_t lock;

static int
setup(void **state)
{
    (void)state;
    lock = (mp_biaslock_t)MP_BIASLOCK_INITIALIZER;
    return 0;
}

/* Takes and releases the lock n times on the calling thread. */
static void
churn(int n)
{
    for (int i = 0; i < n; i++) {
        mp_biaslock_lock_biased(&lock);
        mp_biaslock_unlock(&lock);
    }
}

static uint32_t
owner(void)
{
    return atomic_load(&lock.owner);
}

/* Skips the test without membarrier; else gives this thread the bias and returns its slot. */
static uint32_t
hold_the_bias(void)
{
    if (!biasing) {
        skip();
    }
    churn(100);
    uint32_t s = owner();
    assert_int_not_equal(s, 0);
    return s;
}

static void
test_a_thread_alone_gets_the_bias(void **state)
{
    (void)state;
    if (!biasing) {
        skip();
    }
    churn(64); /* the first grant waits for no revocation */
    uint32_t s = owner();
    assert_int_not_equal(s, 0);
    churn(1000);
    assert_int_equal(owner(), s);
    assert_true(lock.slots[s - 1].entries >= 1000);
    assert_int_equal(atomic_load(&lock.slots[s - 1].inside), 0);
}

static void *
lock_once(void *arg)
{
    (void)arg;
    mp_biaslock_lock(&lock);
    mp_biaslock_unlock(&lock);
    return NULL;
}

static void
test_another_thread_revokes_the_bias(void **state)
{
    (void)state;
    hold_the_bias();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lock_once, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(owner(), 0);
    assert_int_equal(lock.revocations, 1);
    assert_int_equal(lock.backoff, 64);
    assert_int_equal(lock.wait, 63); /* the other thread's unlock counted */
    /* The revoked thread takes the mutex until the wait is over, then has the bias again. */
    churn(63);
    assert_int_equal(owner(), 0);
    churn(1);
    assert_int_not_equal(owner(), 0);
}

static void
test_the_plain_lock_takes_no_bias(void **state)
{
    (void)state;
    uint32_t s = hold_the_bias();
    mp_biaslock_lock(&lock); /* a long hold: through the mutex, the bias revoked */
    assert_int_equal(owner(), 0);
    assert_int_equal(atomic_load(&lock.slots[s - 1].inside), 0);
    mp_biaslock_unlock(&lock);
}

static void *
try_once(void *arg)
{
    (void)arg;
    long rc = mp_biaslock_trylock(&lock);
    if (rc == 0) {
        mp_biaslock_unlock(&lock);
    }
    return (void *)rc;
}

static void
test_trylock_fails_while_the_biased_thread_is_inside(void **state)
{
    (void)state;
    hold_the_bias();
    mp_biaslock_lock_biased(&lock); /* through the bias */
    pthread_t t;
    void *rc;
    assert_int_equal(pthread_create(&t, NULL, try_once, NULL), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_int_equal((long)rc, -EBUSY);
    assert_int_equal(owner(), 0); /* revoked all the same */
    mp_biaslock_unlock(&lock);
    assert_int_equal(pthread_create(&t, NULL, try_once, NULL), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_int_equal((long)rc, 0);
}

/* Threads that take the lock at once: a counter and an "inside" mark changed with plain
 * accesses, which any overlap would corrupt (and which TSan checks). */
enum { THREADS = 4, ROUNDS = 200000 };
static long counter;
static int inside_now;
static int overlaps;

static void *
hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 1000 == 0) {
            if (mp_biaslock_trylock(&lock) != 0) {
                mp_biaslock_lock_biased(&lock);
            }
        } else if (i % 1000 == 500) {
            mp_biaslock_lock(&lock); /* a long hold's way in */
        } else {
            mp_biaslock_lock_biased(&lock);
        }
        overlaps += inside_now;
        inside_now = 1;
        counter++;
        inside_now = 0;
        mp_biaslock_unlock(&lock);
    }
    return NULL;
}

static void
test_threads_exclude_each_other(void **state)
{
    (void)state;
    counter = 0;
    overlaps = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_int_equal(counter, (long)THREADS * ROUNDS);
    assert_int_equal(overlaps, 0);
    if (biasing) {
        assert_true(lock.revocations > 0);
    }
}

static void *
take_bias_and_exit(void *arg)
{
    (void)arg;
    churn(200);
    return (void *)(uintptr_t)owner();
}

static void
test_exited_threads_give_their_slots_back(void **state)
{
    (void)state;
    if (!biasing) {
        skip();
    }
    /* More threads than slots, one after the other: each still gets the bias. */
    for (int i = 0; i < 3 * MP_BIASLOCK_SLOTS; i++) {
        pthread_t t;
        void *biased;
        assert_int_equal(pthread_create(&t, NULL, take_bias_and_exit, NULL), 0);
        assert_int_equal(pthread_join(t, &biased), 0);
        assert_int_not_equal((uintptr_t)biased, 0);
    }
}

static void
test_fork_child_releases_the_lock(void **state)
{
    (void)state;
    churn(100);
    mp_biaslock_lock(&lock);
    assert_int_equal(owner(), 0);
    /* As if a thread of the parent had raised its flag between its two reads of the owner when
     * the fork came: the child must not inherit it. */
    mp_biaslock_slot_t *other = &lock.slots[MP_BIASLOCK_SLOTS - 1];
    atomic_store(&other->inside, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mp_biaslock_unlock_in_child(&lock);
        if (atomic_load(&other->inside) != 0) {
            _exit(2);
        }
        churn(1000);
        int biased = !biasing || owner() != 0;
        int ok = mp_biaslock_trylock(&lock) == 0;
        mp_biaslock_unlock(&lock);
        _exit(ok && biased ? 0 : 1);
    }
    atomic_store(&other->inside, 0);
    mp_biaslock_unlock(&lock);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    churn(10);
}

int
main(void)
{
    biasing = mp_biaslock_enable();
    if (!biasing) {
        fprintf(stderr, "membarrier is not available: the lock is tested as a plain mutex\n");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_thread_alone_gets_the_bias, setup),
        cmocka_unit_test_setup(test_another_thread_revokes_the_bias, setup),
        cmocka_unit_test_setup(test_the_plain_lock_takes_no_bias, setup),
        cmocka_unit_test_setup(test_trylock_fails_while_the_biased_thread_is_inside, setup),
        cmocka_unit_test_setup(test_threads_exclude_each_other, setup),
        cmocka_unit_test_setup(test_exited_threads_give_their_slots_back, setup),
        cmocka_unit_test_setup(test_fork_child_releases_the_lock, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
