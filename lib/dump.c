#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "log.h"
#include "mprofile/mprofile.h"
#include "profiler.h"

static int wake_pipe[2] = {-1, -1};
static struct sigaction previous_action;
static atomic_int thread_started;
static atomic_ulong sequence;
static atomic_int exit_dumped;
/* 0: not yet; 1: pending call queued; 2: atexit callback registered. */
static atomic_int exit_registration;

uint64_t
mp_dump_entropy(void)
{
    uint64_t bits = 0;
    if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != sizeof(bits)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        bits = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16);
    }
    return bits;
}

static void
on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    char byte = 1;
    ssize_t ignored = write(wake_pipe[1], &byte, 1);
    (void)ignored;
    errno = saved_errno;
    /* Chain to a handler that was installed before ours. */
    if (previous_action.sa_flags & SA_SIGINFO) {
        if (previous_action.sa_sigaction != NULL) {
            previous_action.sa_sigaction(sig, info, uctx);
        }
    } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN &&
               previous_action.sa_handler != NULL) {
        previous_action.sa_handler(sig);
    }
}

static int
open_pipe(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        wake_pipe[0] = wake_pipe[1] = -1;
        return -errno;
    }
    /* The reader blocks; only the signal handler's end must never block. */
    fcntl(wake_pipe[0], F_SETFL, fcntl(wake_pipe[0], F_GETFL) & ~O_NONBLOCK);
    return 0;
}

int
mp_dump_setup(void)
{
    int sig = mp_profiler.config.signal;
    if (sig == 0) {
        return 0;
    }
    int rc = open_pipe();
    if (rc < 0) {
        return rc;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(sig, &action, &previous_action) < 0) {
        return -errno;
    }
    return 0;
}

static void *
dump_thread(void *arg)
{
    (void)arg;
    /* This thread never allocates through Python: mark it so that nothing here is sampled. */
    mp_thread.busy = 1;
    for (;;) {
        char bytes[64];
        ssize_t n = read(wake_pipe[0], bytes, sizeof(bytes));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        /* Signals that arrived while we were writing are merged into one more dump. */
        mp_dump_write(NULL);
    }
}

void
mp_dump_ensure_thread(void)
{
    if (wake_pipe[0] < 0 || atomic_load_explicit(&thread_started, memory_order_relaxed)) {
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&thread_started, &expected, 1)) {
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    /* The thread inherits this mask: every signal is blocked there, so it never runs handlers
     * that belong to the program. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, dump_thread, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        mp_log(MP_LOG_WARN, "cannot start the dump thread (%s); signal dumps are off",
               strerror(rc));
    }
}

static int
write_file(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    mp_pickle_t p;
    int rc = mp_pickle_open(&p, fd);
    if (rc == 0) {
        rc = mp_profiler_write_snapshot(&p);
        int finish = mp_pickle_finish(&p, NULL, NULL);
        if (rc == 0) {
            rc = finish;
        }
    }
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

int
mp_dump_write(const char *path)
{
    char expanded[PATH_MAX];
    if (path == NULL) {
        unsigned long seq = atomic_fetch_add(&sequence, 1) + 1;
        if (mp_config_expand_path(mp_profiler.config.out, (long)getpid(), seq, (long)time(NULL),
                                  expanded, sizeof(expanded)) < 0) {
            atomic_fetch_add(&mp_profiler.dump_failures, 1);
            return -ENAMETOOLONG;
        }
        path = expanded;
    }
    int rc = write_file(path);
    if (rc == 0) {
        atomic_fetch_add(&mp_profiler.dumps, 1);
        mp_log(MP_LOG_INFO, "wrote %s", path);
    } else {
        atomic_fetch_add(&mp_profiler.dump_failures, 1);
        mp_log(MP_LOG_WARN, "cannot write the snapshot %s: %s", path, strerror(-rc));
    }
    return rc;
}

void
mp_dump_at_exit(void)
{
    int expected = 0;
    if (!mp_profiler.config.at_exit || !atomic_compare_exchange_strong(&exit_dumped, &expected, 1)) {
        return;
    }
    if (!mp_hooks_on_top() && atomic_load(&mp_profiler.samples) == 0) {
        mp_log(MP_LOG_WARN, "the allocator hooks were replaced (PYTHONMALLOC or another tool) "
                            "and nothing was sampled");
    }
    mp_dump_write(NULL);
}

/* atexit callback (METH_NOARGS): Python runs it before it tears down modules. */
static void *
exit_callback(void *self, void *unused)
{
    (void)self;
    (void)unused;
    mp_dump_at_exit();
    mp_profiler.api.Py_IncRef(mp_profiler.api.Py_None);
    return mp_profiler.api.Py_None;
}

/* PyMethodDef, a stable part of the C API. */
static struct {
    const char *ml_name;
    void *(*ml_meth)(void *, void *);
    int ml_flags;
    const char *ml_doc;
} exit_method = {"_mprofile_exit_dump", exit_callback, 0x0004 /* METH_NOARGS */, NULL};

static int
is_import_frame(void *ctx, const char *filename, size_t len, unsigned lineno)
{
    (void)lineno;
    static const char *markers[] = {"importlib._bootstrap", "importlib/_bootstrap"};
    for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
        size_t mlen = strlen(markers[m]);
        for (size_t i = 0; i + mlen <= len; i++) {
            if (memcmp(filename + i, markers[m], mlen) == 0) {
                *(int *)ctx = 1;
                return -1;
            }
        }
    }
    return 0;
}

/* The atexit module, imported only when that cannot disturb the program (NULL: try later). */
static void *
atexit_module(void)
{
    const mp_pyapi_t *api = &mp_profiler.api;
    void *modules = api->PyImport_GetModuleDict();
    void *module = modules ? api->PyDict_GetItemString(modules, "atexit") : NULL;
    if (module != NULL) {
        api->Py_IncRef(module); /* borrowed from sys.modules */
        return module;
    }
    /* A pending call can run in the middle of importlib's own bookkeeping (a module lock being
     * taken), and importing from there breaks the program's import. Wait for a later sample. */
    int importing = 0;
    char scratch[256];
    mp_pyapi_walk(api, MPROFILE_MAX_FRAMES, is_import_frame, &importing, scratch, sizeof(scratch));
    if (importing) {
        return NULL;
    }
    module = api->PyImport_ImportModule("atexit");
    if (module == NULL) {
        api->PyErr_Clear();
    }
    return module;
}

/* Runs in the main thread with the GIL held, at a point where Python code may run. */
static int
register_exit_callback(void *arg)
{
    (void)arg;
    const mp_pyapi_t *api = &mp_profiler.api;
    void *module = atexit_module();
    if (module == NULL) {
        atomic_store(&exit_registration, 0);
        return 0;
    }
    void *reg = api->PyObject_GetAttrString(module, "register");
    void *fn = reg ? api->PyCFunction_NewEx(&exit_method, NULL, NULL) : NULL;
    void *result = fn ? api->PyObject_CallFunctionObjArgs(reg, fn, NULL) : NULL;
    if (result != NULL) {
        atomic_store(&exit_registration, 2);
        api->Py_DecRef(result);
    } else {
        /* Never let our failure surface as an exception in the program. */
        api->PyErr_Clear();
        mp_log(MP_LOG_DEBUG, "could not register the exit dump; the destructor will write it");
    }
    if (fn) {
        api->Py_DecRef(fn);
    }
    if (reg) {
        api->Py_DecRef(reg);
    }
    api->Py_DecRef(module);
    return 0;
}

void
mp_dump_on_python_sample(void)
{
    if (!mp_profiler.config.at_exit ||
        atomic_load_explicit(&exit_registration, memory_order_relaxed) != 0) {
        return;
    }
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->Py_AddPendingCall == NULL || api->PyImport_ImportModule == NULL ||
        api->PyImport_GetModuleDict == NULL || api->PyDict_GetItemString == NULL ||
        api->PyObject_GetAttrString == NULL || api->PyCFunction_NewEx == NULL ||
        api->PyObject_CallFunctionObjArgs == NULL || api->Py_DecRef == NULL ||
        api->Py_IncRef == NULL || api->PyErr_Clear == NULL || api->Py_None == NULL ||
        !api->Py_IsInitialized()) {
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&exit_registration, &expected, 1) &&
        api->Py_AddPendingCall(register_exit_callback, NULL) != 0) {
        atomic_store(&exit_registration, 0);
    }
}

void
mp_dump_after_fork_child(void)
{
    atomic_store(&thread_started, 0);
    atomic_store(&sequence, 0);
    atomic_store(&exit_dumped, 0);
    if (wake_pipe[0] >= 0) {
        /* The parent keeps its pipe; a signal to the child must wake the child's thread. */
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        open_pipe();
    }
}
