/*
 * Load and unload of libmprofile.so: find the interpreter, read the configuration, install the
 * hooks, and the fork handlers. In a process without Python nothing happens and nothing is
 * printed; with bad configuration one "mprofile:" line goes to stderr and the profiler stays
 * off. The program itself always runs on unchanged.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "exit.h"
#include "hooks.h"
#include "init.h"
#include "log.h"
#include "profiler.h"

static const char *
environment(const char *name)
{
    return getenv(name);
}

/* The directory of the output pattern must exist and be writable when the profiler starts. */
static int
check_output_directory(const char *pattern, char *err, size_t err_size)
{
    char path[PATH_MAX];
    if (mp_config_expand_path(pattern, (long)getpid(), 1, (long)time(NULL), path, sizeof(path)) <
        0) {
        snprintf(err, err_size, "MPROFILE_OUT=%.64s is too long", pattern);
        return -1;
    }
    char *dir = dirname(path);
    if (access(dir, W_OK | X_OK) < 0) {
        snprintf(err, err_size, "MPROFILE_OUT=%.200s: directory %.200s is not writable (%s)",
                 pattern, dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void
before_fork(void)
{
    pthread_mutex_lock(&mp_profiler.lock);
}

static void
after_fork_parent(void)
{
    pthread_mutex_unlock(&mp_profiler.lock);
}

static void
after_fork_child(void)
{
    /* Only this thread survives: the lock is ours to re-create. The sampled blocks stay, since
     * the child inherits the parent's memory. */
    pthread_mutex_init(&mp_profiler.lock, NULL);
    mp_dump_after_fork_child();
    mp_exit_after_fork_child();
}

/* Everything but the hooks; shared by the constructor and a late mprofile_start(). */
static int
set_up_profiler(void)
{
    if (mp_profiler_init() < 0) {
        mp_log(MP_LOG_ERROR, "out of memory for the profiler's tables; profiler off");
        return -1;
    }
    int rc = mp_dump_setup();
    if (rc < 0) {
        mp_log(MP_LOG_WARN, "cannot set up signal dumps (%s)", strerror(-rc));
    }
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
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
    if (mp_config_parse(&P->config, environment, err, sizeof(err)) < 0) {
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

    if (P->config.rate > 0 && check_output_directory(P->config.out, err, sizeof(err)) < 0) {
        mp_log(MP_LOG_ERROR, "%s; profiler off", err);
        return;
    }

    /* Loaded into a running interpreter (dlopen from the mprofile module): mprofile_start()
     * installs the hooks later, with the GIL held. */
    if (P->api.Py_IsInitialized()) {
        return;
    }

    if (set_up_profiler() < 0) {
        return;
    }
    atomic_store(&P->rate, P->config.rate);
    atomic_store(&P->max_frames, P->config.frames);
    atomic_store(&P->enabled, P->config.rate > 0);
    mp_hooks_install();
    atomic_store(&P->active, 1);
    mp_log(MP_LOG_INFO, "profiling Python %s, one sample per %llu bytes", P->python_version,
           (unsigned long long)P->config.rate);
}

__attribute__((destructor)) static void
mprofile_unload(void)
{
    if (!atomic_load(&mp_profiler.active)) {
        return;
    }
    mp_thread.busy = 1;
    mp_dump_at_exit();
    atomic_store(&mp_profiler.enabled, 0);
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
    atomic_store(&mp_profiler.active, 1);
    return 0;
}
