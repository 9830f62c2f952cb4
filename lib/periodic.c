#include "periodic.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "exit.h"
#include "log.h"
#include "output.h"
#include "profiler.h"

/* 0: no thread; 1: start scheduled; 2: running (or could not start: not tried again). */
static atomic_int timer_state;
/* Set while this thread writes a growth snapshot: the writer's own unlocks do not start
 * another. */
static __thread int writing_growth __attribute__((tls_model("initial-exec")));

static void
add_seconds(struct timespec *t, double seconds)
{
    long long ns = (long long)(seconds * 1e9);
    t->tv_sec += (time_t)(ns / 1000000000);
    t->tv_nsec += (long)(ns % 1000000000);
    if (t->tv_nsec >= 1000000000) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000;
    }
}

/* The interval thread. */
static void *
tick(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "mprofile-timer"); /* itself: no descriptor, unlike pthread_setname_np */
    double interval = mp_profiler.config.interval;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        add_seconds(&next, interval);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1) {
            next = now; /* suspended or starved: no burst of snapshots to catch up */
            add_seconds(&next, interval);
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        if (mp_exit_started()) {
            return NULL; /* the process is ending: nothing after its exit snapshot */
        }
        if (!atomic_load(&mp_profiler.active) || !atomic_load(&mp_profiler.enabled)) {
            continue;
        }
        mp_profiler_timeline_point(1);
        mp_output_write(NULL, MP_OUTPUT_TRIGGER(MP_TRIGGER_INTERVAL));
    }
    return NULL;
}

/* Pending call: main thread, GIL held. */
static int
start_timer(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* The new thread inherits this mask: every signal blocked from its first instruction. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, tick, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    atomic_store(&timer_state, 2);
    if (rc != 0) {
        mp_log(MP_LOG_WARN, "MPROFILE_INTERVAL: cannot start the timer thread (%s); no interval "
                            "snapshots",
               strerror(rc));
    }
    return 0;
}

void
mp_periodic_on_sample(void)
{
    if (mp_profiler.config.interval <= 0 ||
        atomic_load_explicit(&timer_state, memory_order_relaxed) != 0) {
        return;
    }
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->Py_AddPendingCall == NULL || !api->Py_IsInitialized()) {
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&timer_state, &expected, 1) &&
        api->Py_AddPendingCall(start_timer, NULL) != 0) {
        atomic_store(&timer_state, 0);
    }
}

void
mp_periodic_serve(int nonblocking)
{
    if (!atomic_load_explicit(&mp_profiler.growth_requested, memory_order_relaxed)) {
        return;
    }
    if (nonblocking || writing_growth) {
        mp_profiler_defer(); /* a normal unlock writes it */
        return;
    }
    if (!atomic_exchange(&mp_profiler.growth_requested, 0)) {
        return;
    }
    writing_growth = 1;
    mp_output_write(NULL, MP_OUTPUT_TRIGGER(MP_TRIGGER_GROWTH));
    writing_growth = 0;
}

void
mp_periodic_after_fork_child(void)
{
    atomic_store(&timer_state, 0);
}
