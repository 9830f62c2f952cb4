/*
 * The exit snapshot. Python's atexit callback (pyexit.c) writes it before the interpreter tears
 * down its modules; the library destructor writes it when that callback never ran (embedded
 * interpreters, an early exit). os._exit() skips both, and multiprocessing's workers (fork and
 * forkserver start methods) always leave that way, so the library also interposes _exit and
 * _Exit.
 *
 * _exit is async-signal-safe by contract and may be called from a signal handler that
 * interrupted anything, the profiler included. Its snapshot therefore only tries the lock, for
 * a bounded time and never when this thread holds it, writes with system calls and the
 * profiler's own memory, and is given up (and counted) rather than waited for.
 */
#include "exit.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "profiler.h"

#include "mprofile/mprofile.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

static exit_fn real_exit;
static exit_fn real_Exit;
/* The process the profiler belongs to; a vfork child has another pid but no fork handlers. */
static pid_t owner_pid;
static atomic_int written;
/* Threads writing the exit snapshot, or about to (whichever exits first writes it). */
static atomic_int writing;
/* In a forked child: where the forking thread's Python code stood at the fork. */
static int forked;
static mp_pyapi_position_t fork_point;

void
mp_exit_init(void)
{
    real_exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
    real_Exit = (exit_fn)dlsym(RTLD_NEXT, "_Exit");
    owner_pid = getpid();
}

void
mp_exit_after_fork_child(void)
{
    owner_pid = getpid();
    atomic_store(&written, 0);
    forked = 1;
    fork_point = mp_pyapi_position(&mp_profiler.api);
}

void
mp_exit_snapshot(void)
{
    if (!mp_profiler.config.at_exit || !atomic_load(&mp_profiler.active)) {
        return;
    }
    /* Counted as writing before claiming the snapshot, so that an _exit on another thread in
     * between waits for it. */
    atomic_fetch_add(&writing, 1);
    if (!atomic_exchange(&written, 1)) {
        if (!mp_profiler_hooks_on_top() && atomic_load(&mp_profiler.samples) == 0) {
            mp_log(MP_LOG_WARN, "the allocator hooks were replaced (PYTHONMALLOC or another "
                                "tool) and nothing was sampled");
        }
        mp_output_write(NULL, MP_OUTPUT_TRIGGER(MP_TRIGGER_EXIT));
    }
    atomic_fetch_sub(&writing, 1);
}

/* _exit context: whether this process is a forked child whose Python code has not moved since
 * the fork: the forking frame still at the fork call (a child about to exec, whose exec
 * failed, or whose preexec_fn has returned), or no Python frame at all (a C thread forked).
 * Its heap is the parent's, and its snapshot would only repeat the parent's under a new pid. */
static int
idle_fork_child(void)
{
    if (!forked) {
        return 0;
    }
    mp_pyapi_position_t now = mp_pyapi_position(&mp_profiler.api);
    return now.frame == fork_point.frame && now.instr == fork_point.instr;
}

/* _exit or signal handler context. Another thread holding the lock lets it go within
 * microseconds (it never waits for anything this thread holds); this thread holding it (a
 * signal handler that interrupted the profiler) never will: MP_OUTPUT_LOCK_HELD at once. Up to
 * 100 ms, then the snapshot is given up (counted) and MP_OUTPUT_LOCK_BUSY returned. */
static int
write_or_give_up(mp_trigger_t trigger)
{
    int rc = MP_OUTPUT_LOCK_BUSY;
    for (int tries = 0; tries < 100; tries++) {
        rc = mp_output_write(NULL, MP_OUTPUT_NONBLOCKING | MP_OUTPUT_TRIGGER(trigger));
        if (rc != MP_OUTPUT_LOCK_BUSY) {
            return rc;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    atomic_fetch_add(&mp_profiler.dump_failures, 1);
    mp_log_line(MP_LOG_INFO, "the exit snapshot was given up: the profiler's lock was busy");
    return rc;
}

/* _exit context: another thread is writing the exit snapshot and this one ends the process.
 * Give it a moment to finish, then make sure its temporary file does not outlive us. */
static void
wait_for_other_writer(void)
{
    for (int tries = 0; tries < 100 && atomic_load(&writing); tries++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* _exit context. */
static void
snapshot_before_exit(void)
{
    if (!atomic_load(&mp_profiler.active) || owner_pid != getpid()) {
        return;
    }
    if (!mp_profiler.config.at_exit || idle_fork_child()) {
        mp_output_abandon(); /* snapshots other threads were writing end here */
        return;
    }
    atomic_fetch_add(&writing, 1);
    if (atomic_exchange(&written, 1)) {
        atomic_fetch_sub(&writing, 1);
        wait_for_other_writer();
    } else {
        if (write_or_give_up(MP_TRIGGER_EXIT) == MP_OUTPUT_LOCK_HELD) {
            atomic_fetch_add(&mp_profiler.dump_failures, 1);
            mp_log_line(MP_LOG_INFO, "the exit snapshot was given up: this thread holds the "
                                     "profiler's lock");
        }
        atomic_fetch_sub(&writing, 1);
    }
    mp_output_abandon();
}

int
mp_exit_started(void)
{
    return atomic_load(&written);
}

int
mp_exit_snapshot_terminating(void)
{
    if (!atomic_load(&mp_profiler.active) || owner_pid != getpid() ||
        !mp_profiler.config.at_exit || idle_fork_child()) {
        return 0;
    }
    atomic_fetch_add(&writing, 1);
    if (atomic_exchange(&written, 1)) {
        atomic_fetch_sub(&writing, 1);
        wait_for_other_writer();
        return 0;
    }
    int rc = write_or_give_up(MP_TRIGGER_TERMINATE);
    if (rc == MP_OUTPUT_LOCK_HELD) {
        atomic_store(&written, 0); /* the unlock writes it */
    }
    atomic_fetch_sub(&writing, 1);
    return rc == MP_OUTPUT_LOCK_HELD ? rc : 0;
}

__attribute__((noreturn)) static void
leave(exit_fn fn, int status)
{
    if (fn != NULL) {
        fn(status);
    }
    /* Not resolved (cannot happen with glibc): end the process the way _exit does. */
    for (;;) {
        syscall(SYS_exit_group, status);
    }
}

MPROFILE_API void
_exit(int status)
{
    snapshot_before_exit();
    leave(real_exit, status);
}

MPROFILE_API void
_Exit(int status)
{
    snapshot_before_exit();
    leave(real_Exit != NULL ? real_Exit : real_exit, status);
}
