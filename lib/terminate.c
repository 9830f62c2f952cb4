#include "terminate.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exit.h"
#include "log.h"
#include "output.h"
#include "profiler.h"

static const int terminating_signals[] = {SIGTERM, SIGHUP};

/* 0: not yet; 1: pending call queued; 2: done (installed or not due). */
static atomic_int installation;
/* The signal being handled, 0 when none: a second one ends the process at once. */
static atomic_int terminating;
/* A signal whose snapshot waits for this thread's unlock. */
static atomic_int pending;

/* Signal handler or deferred work: ends the process with sig, as its default action would. */
static void
die(int sig)
{
    mp_output_abandon(); /* a snapshot still being written leaves no temporary file */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* Still here: PID 1, whose default is to ignore it. */
}

/* Signal handler or deferred work: writes the snapshot; MP_OUTPUT_LOCK_HELD when this thread
 * holds the lock. */
static int
write_snapshot(void)
{
    if (getpid() != 1) {
        return mp_exit_snapshot_terminating();
    }
    /* PID 1 runs on: a snapshot like a signal's, and the exit snapshot still to come. Another
     * thread's hold of the lock ends within microseconds: tried for up to 100 ms. */
    for (int tries = 0; tries < 100; tries++) {
        int rc = mp_output_write(NULL,
                                 MP_OUTPUT_NONBLOCKING | MP_OUTPUT_TRIGGER(MP_TRIGGER_TERMINATE));
        if (rc != MP_OUTPUT_LOCK_BUSY) {
            return rc == MP_OUTPUT_LOCK_HELD ? rc : 0;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    atomic_fetch_add(&mp_profiler.dump_failures, 1);
    return 0;
}

/* Signal handler or deferred work. */
static void
finish(int sig)
{
    if (getpid() == 1) {
        atomic_store(&terminating, 0); /* ignored, as without the profiler */
        return;
    }
    die(sig);
}

static void
on_terminate(int sig, siginfo_t *info, void *uctx)
{
    (void)info;
    (void)uctx;
    int saved_errno = errno;
    int first = 0;
    if (!atomic_compare_exchange_strong(&terminating, &first, sig)) {
        if (getpid() != 1) {
            die(sig); /* the second: never delayed */
        }
        /* PID 1 ignores it, as it would without the profiler; the first one's snapshot goes on. */
        errno = saved_errno;
        return;
    }
    if (write_snapshot() == MP_OUTPUT_LOCK_HELD) {
        atomic_store(&pending, sig);
        mp_profiler_defer();
        errno = saved_errno;
        return;
    }
    finish(sig);
    errno = saved_errno;
}

void
mp_terminate_after_fork_child(void)
{
    atomic_store(&pending, 0);
    atomic_store(&terminating, 0);
}

void
mp_terminate_serve(int nonblocking)
{
    /* Also when nonblocking (the unlock of a signal snapshot's capture): the writer only tries
     * the lock and die() is async-signal-safe, and the termination must not wait for another
     * unlock that an idle program may never make. */
    (void)nonblocking;
    int sig = atomic_exchange(&pending, 0);
    if (sig == 0) {
        return;
    }
    if (write_snapshot() == MP_OUTPUT_LOCK_HELD) {
        atomic_store(&pending, sig); /* cannot happen at an unlock; kept for safety */
        mp_profiler_defer();
        return;
    }
    finish(sig);
}

/* Pending call: main thread, GIL held, the interpreter initialised. */
static int
install(void *arg)
{
    (void)arg;
    const mp_pyapi_t *api = &mp_profiler.api;
    atomic_store(&installation, 2);
    void *modules = api->PyImport_GetModuleDict();
    if (modules == NULL || api->PyDict_GetItemString(modules, "_signal") == NULL) {
        mp_log(MP_LOG_DEBUG, "the interpreter has no signal handling: SIGTERM and SIGHUP "
                             "write no snapshot");
        return 0;
    }
    for (size_t i = 0; i < sizeof(terminating_signals) / sizeof(terminating_signals[0]); i++) {
        int sig = terminating_signals[i];
        struct sigaction current;
        if (sigaction(sig, NULL, &current) < 0 || (current.sa_flags & SA_SIGINFO) ||
            current.sa_handler != SIG_DFL) {
            continue; /* the program's, or ignored: not ours to change */
        }
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = on_terminate;
        /* SA_NODEFER: a second signal on this thread comes in at once (and ends the process);
         * SA_RESTART: the program never expected EINTR from a signal that killed it. */
        action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
        sigemptyset(&action.sa_mask);
        sigaction(sig, &action, NULL);
    }
    return 0;
}

void
mp_terminate_on_sample(void)
{
    if (atomic_load_explicit(&installation, memory_order_relaxed) != 0 ||
        !mp_profiler.config.at_exit) {
        return;
    }
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->Py_AddPendingCall == NULL || api->PyImport_GetModuleDict == NULL ||
        api->PyDict_GetItemString == NULL || !api->Py_IsInitialized()) {
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&installation, &expected, 1) &&
        api->Py_AddPendingCall(install, NULL) != 0) {
        atomic_store(&installation, 0);
    }
}
