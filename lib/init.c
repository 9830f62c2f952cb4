/*
 * Load and unload of libmprofile.so: find the interpreter, read the configuration, install the
 * hooks, the signal handler and the fork handlers. In a process without Python, and in a setuid
 * or setgid program, nothing happens and nothing is printed; with bad configuration one
 * "mprofile:" line goes to stderr and the profiler stays off. The program itself always runs on
 * unchanged.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "exit.h"
#include "hooks.h"
#include "init.h"
#include "log.h"
#include "native.h"
#include "output.h"
#include "outpath.h"
#include "periodic.h"
#include "profiler.h"
#include "relocs.h"
#include "sigdump.h"
#include "terminate.h"
#include "tracked.h"
#include "unwind.h"

/* secure_getenv: the constructor reads nothing at all under AT_SECURE (mp_config_load), and
 * this keeps it so should that check ever move. */
static const char *
environment(const char *name)
{
    return secure_getenv(name);
}

/* Fork prepare handler: no table is half-changed when the process is copied. */
static void
before_fork(void)
{
    mp_profiler_lock();
}

/* Fork parent handler (a normal context: it may write a deferred signal snapshot). */
static void
after_fork_parent(void)
{
    mp_profiler_unlock();
}

/* Fork child handler: only this thread survives, and it took the lock in before_fork, so it
 * releases it (re-initialising a held mutex is undefined). The sampled blocks stay, since the
 * child inherits the parent's memory. A snapshot requested from the parent is not the child's
 * to write. */
static void
after_fork_child(void)
{
    /* Requests made to the parent (a signal that came during the fork) are not the child's. */
    atomic_store(&mp_profiler.deferred, 0);
    atomic_store(&mp_profiler.dump_requested, 0);
    atomic_store(&mp_profiler.growth_requested, 0);
    mp_terminate_after_fork_child();
    mp_profiler_unlock_in_child();
    /* Snapshots being written by other threads of the parent never finish here. */
    atomic_store(&mp_profiler.captures_in_flight, 0);
    mp_output_after_fork_child();
    mp_exit_after_fork_child();
    mp_periodic_after_fork_child();
}

/* The deferred work (profiler.h), run by whoever unlocks the profiler: the termination first,
 * which ends the process. */
static void
serve_deferred(int nonblocking)
{
    mp_terminate_serve(nonblocking);
    mp_sigdump_serve();
    mp_periodic_serve(nonblocking);
}

/* Everything but the hooks; shared by the constructor and a late mprofile_start(). */
static int
set_up_profiler(void)
{
    if (mp_profiler_init() < 0) {
        mp_log(MP_LOG_ERROR, "out of memory for the profiler's tables; profiler off");
        return -1;
    }
    mp_profiler_set_deferred(serve_deferred);
    int rc = mp_sigdump_setup(mp_profiler.config.signal);
    if (rc < 0) {
        mp_log(MP_LOG_WARN, "cannot set up signal dumps (%s)", strerror(-rc));
    }
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    return 0;
}

/* Fork handlers registered after every other of the profiler's: the prepare handler runs first
 * and the parent and child handlers last, so that the handlers other libraries registered
 * earlier, which run while the profiler's locks are held, pass through the hooks (busy flag)
 * instead of waiting for a lock their own thread holds. The child inherits the flag. */
static void
busy_before_fork(void)
{
    mp_thread.busy++;
}

static void
busy_after_fork(void)
{
    mp_thread.busy--;
}

/* The calls into PyTraceMalloc_Track of every loaded object, and with MPROFILE_NATIVE=1 those
 * into the native heap (relocs.h). After the PyMem hooks, which the native layer relies on. */
/* MPROFILE_STACKS=mixed: libunwind, and the allocator functions whose frames are not shown. */
static void
start_mixed_stacks(void)
{
    char why[256];
    if (mp_unwind_load(why, sizeof(why)) < 0) {
        mp_log(MP_LOG_WARN, "MPROFILE_STACKS=mixed: %s; stacks are Python only", why);
        return;
    }
    static const char *const allocators[] = {
        "PyMem_Malloc",    "PyMem_Calloc",    "PyMem_Realloc",    "PyMem_RawMalloc",
        "PyMem_RawCalloc", "PyMem_RawRealloc", "PyObject_Malloc", "PyObject_Calloc",
        "PyObject_Realloc",
    };
    for (size_t i = 0; i < sizeof(allocators) / sizeof(allocators[0]); i++) {
        mp_unwind_skip_function(dlsym(RTLD_DEFAULT, allocators[i]));
    }
    atomic_store(&mp_profiler.mixed, 1);
}

static void
install_interposers(void)
{
    if (mp_profiler.config.mixed) {
        start_mixed_stacks();
    }
    if (mp_tracked_install() < 0) {
        mp_log(MP_LOG_WARN, "cannot follow PyTraceMalloc_Track; tracked memory is not recorded");
    }
    if (mp_profiler.config.native && mp_native_install() < 0) {
        mp_log(MP_LOG_WARN, "cannot follow the native heap (MPROFILE_NATIVE); only part of it "
                            "may be recorded");
    }
    if (atomic_load(&mp_profiler.mixed)) {
        mp_unwind_follow_forks();
    }
    pthread_atfork(busy_before_fork, busy_after_fork, busy_after_fork);
    mp_log(MP_LOG_DEBUG, "%lu relocation slots rewritten", mp_relocs_patched());
}

/* The output pattern, made absolute once: a program that changes directory (daemons chdir to
 * "/") keeps writing where the user asked. */
static int
absolute_output(mp_config_t *config, char *err, size_t err_size)
{
    char cwd[PATH_MAX];
    if (config->out[0] == '/') {
        return 0;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(err, err_size, "MPROFILE_OUT=%.200s: the working directory is unknown (%s)",
                 config->out, strerror(errno));
        return -1;
    }
    if (mp_config_absolute_out(config, cwd) < 0) {
        snprintf(err, err_size, "MPROFILE_OUT=%.200s: too long once made absolute", config->out);
        return -1;
    }
    return 0;
}

__attribute__((constructor)) static void
mprofile_load(void)
{
    mp_profiler_t *P = &mp_profiler;
    /* First, whatever the process: the _exit interposer must always reach the real one. */
    mp_exit_init();
    mp_pyapi_status_t status = mp_pyapi_resolve(&P->api);
    if (status == MP_PYAPI_NO_PYTHON) {
        return;
    }

    char err[512];
    int rc = mp_config_load(&P->config, getauxval(AT_SECURE) != 0, environment, err,
                            sizeof(err));
    if (rc > 0) {
        P->api.layout = NULL; /* setuid or setgid: dormant, also for mprofile_start() */
        return;
    }
    if (rc < 0) {
        mp_log(MP_LOG_ERROR, "%s; profiler off", err);
        return;
    }
    mp_log_set_level(P->config.log_level);

    if (status == MP_PYAPI_UNSUPPORTED) {
        const char *v = P->api.Py_GetVersion ? P->api.Py_GetVersion() : "unknown";
        const char *why = P->api.unsupported_reason ? P->api.unsupported_reason : "unknown";
        mp_log(MP_LOG_WARN,
               "Python %.*s is not supported (%s; CPython 3.11 to 3.15 with the GIL are); "
               "profiler off",
               (int)strcspn(v, " "), v, why);
        return;
    }
    mp_pyapi_version_string(P->api.version, P->python_version, sizeof(P->python_version));

    /* Loaded into a running interpreter (dlopen from the mprofile module): mprofile_start()
     * installs the hooks later, with the GIL held. Merely importing the module must not leave a
     * snapshot in the working directory, so the exit snapshot is off unless asked for. */
    int late = P->api.Py_IsInitialized();
    if (late && !P->config.at_exit_given) {
        P->config.at_exit = 0;
    }

    /* Snapshots can be written from now on (the signal, the exit, the API after start()), so
     * the pattern is made absolute in every case; the directory is checked when sampling starts
     * now (or the exit snapshot is due), so that a bad one is reported before the program ran
     * for an hour. */
    int check_now = late ? P->config.at_exit : P->config.rate > 0;
    if (absolute_output(&P->config, err, sizeof(err)) < 0 ||
        (check_now && mp_outpath_check(P->config.out, err, sizeof(err)) < 0)) {
        mp_log(MP_LOG_ERROR, "%s; profiler off", err);
        P->api.layout = NULL;
        return;
    }
    if (late) {
        return;
    }

    if (set_up_profiler() < 0) {
        return;
    }
    atomic_store(&P->rate, P->config.rate);
    atomic_store(&P->max_frames, P->config.frames);
    atomic_store(&P->enabled, P->config.rate > 0);
    mp_hooks_install();
    install_interposers();
    atomic_store(&P->active, 1);
    mp_log(MP_LOG_INFO, "profiling Python %s, one sample per %llu bytes", P->python_version,
           (unsigned long long)P->config.rate);
}

/* Library destructor (exit() or dlclose): the exit snapshot if Python's atexit did not write
 * it. */
__attribute__((destructor)) static void
mprofile_unload(void)
{
    if (!atomic_load(&mp_profiler.active)) {
        return;
    }
    mp_exit_snapshot();
    atomic_store(&mp_profiler.enabled, 0);
    mp_output_abandon(); /* other threads' snapshots in progress end with the process */
}

int
mp_init_late_start(void)
{
    if (atomic_load(&mp_profiler.active)) {
        return 0;
    }
    if (mp_profiler.api.layout == NULL) {
        return -ENOTSUP;
    }
    if (set_up_profiler() < 0) {
        return -ENOMEM;
    }
    mp_hooks_install();
    install_interposers();
    atomic_store(&mp_profiler.active, 1);
    return 0;
}
