/*
 * The exit snapshot of processes that leave through _exit(). Python's os._exit() skips atexit
 * callbacks and library destructors, and multiprocessing's workers (fork and forkserver start
 * methods) always leave that way, so without this their snapshots would be lost. The library
 * interposes _exit and _Exit: in the Python process that loaded it, or a child it forked, they
 * write the exit snapshot first; everywhere else (a process that is not Python, a vfork child
 * that shares its parent's memory) they only call the real function.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump.h"
#include "hooks.h"
#include "profiler.h"

#include "mprofile/mprofile.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

static exit_fn real_exit;
static exit_fn real_Exit;
/* The process the profiler belongs to; a vfork child has another pid but no fork handlers. */
static pid_t owner_pid;

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
}

static void
snapshot_before_exit(void)
{
    if (atomic_load(&mp_profiler.active) && owner_pid == getpid()) {
        mp_thread.busy = 1;
        mp_dump_at_exit();
    }
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
