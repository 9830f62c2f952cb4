#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "relocs.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

/* The names libunwind's header maps its functions to (_ULx86_64_step and so on), as strings. */
#define MP_NAME_OF(fn)  MP_NAME_OF2(fn)
#define MP_NAME_OF2(fn) #fn

static struct {
    int (*backtrace)(void **buffer, int size);
    void (*flush_cache)(unw_addr_space_t as, unw_word_t lo, unw_word_t hi);
    unw_addr_space_t as;
} unw;

static atomic_int loaded;

/*
 * Unwinding and fork. glibc's fork resets the loader's main lock in the child but not the lock
 * of its object list, which dl_iterate_phdr takes (libunwind calls it for return addresses it
 * has not seen, and objects.c to learn of loads): a thread inside dl_iterate_phdr when another
 * forks leaves the child waiting forever at its first call. So the fork's prepare handler stops
 * new unwinds (those samples get Python frames only), waits for the ones under way, then waits
 * for whatever else holds the list lock by taking it once itself.
 */
static atomic_int in_flight;
static atomic_int forking;

int
mp_unwind_enter(void)
{
    atomic_fetch_add(&in_flight, 1);
    if (atomic_load(&forking)) {
        atomic_fetch_sub(&in_flight, 1);
        return -1;
    }
    return 0;
}

void
mp_unwind_leave(void)
{
    /* Never below zero: a fork from a signal handler that interrupted this thread's unwind
     * zeroed the count in the child before this thread left. */
    int n = atomic_load(&in_flight);
    while (n > 0 && !atomic_compare_exchange_weak(&in_flight, &n, n - 1)) {
    }
}

static int
stop_at_once(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info;
    (void)size;
    (void)arg;
    return 1;
}

/* Fork prepare: at most 200 ms for the unwinds under way (a signal handler that forks on a
 * thread that was unwinding would wait for itself). */
static void
before_fork(void)
{
    atomic_store(&forking, 1);
    for (int i = 0; i < 200 && atomic_load(&in_flight) > 0; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    dl_iterate_phdr(stop_at_once, NULL);
}

static void
after_fork_parent(void)
{
    atomic_store(&forking, 0);
}

static void
after_fork_child(void)
{
    atomic_store(&in_flight, 0);
    atomic_store(&forking, 0);
}

typedef struct {
    uintptr_t lo, hi;
} range_t;

/* The profiler's own code, and the skipped functions. */
static range_t self;
static range_t skipped[16];
static atomic_int nskipped;

static int
find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t here = (uintptr_t)arg;
    range_t span = {UINTPTR_MAX, 0};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            span.lo = start < span.lo ? start : span.lo;
            span.hi = start + ph->p_memsz > span.hi ? start + ph->p_memsz : span.hi;
        }
    }
    if (span.lo <= here && here < span.hi) {
        self = span;
        return 1;
    }
    return 0;
}

void
mp_unwind_skip_function(const void *fn)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    int n = atomic_load(&nskipped);
    if (fn == NULL || n == (int)(sizeof(skipped) / sizeof(skipped[0])) ||
        dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 || sym == NULL ||
        sym->st_size == 0 || (uintptr_t)info.dli_saddr != (uintptr_t)fn) {
        return;
    }
    skipped[n] = (range_t){(uintptr_t)fn, (uintptr_t)fn + sym->st_size};
    atomic_store(&nskipped, n + 1);
}

/* Whether the return address pc lies in r (the call is the instruction before it). */
static inline int
in_range(range_t r, uintptr_t pc)
{
    return r.lo < pc && pc <= r.hi;
}

static int
skipped_at(uintptr_t pc)
{
    int n = atomic_load_explicit(&nskipped, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        if (in_range(skipped[i], pc)) {
            return 1;
        }
    }
    return 0;
}

static int (*real_dlclose)(void *handle);
static int (*real_pipe2)(int fds[2], int flags);
static ssize_t (*real_read)(int fd, void *buf, size_t count);
static ssize_t (*real_write)(int fd, const void *buf, size_t count);
static int (*real_close)(int fd);
static atomic_int pipe_read = -1, pipe_write = -1;
static dev_t pipe_dev;
static ino_t pipe_ino;

/*
 * libunwind's pipe2, reached through its own GOT slot only. When it starts, libunwind opens a
 * pipe it keeps for the life of the process (it writes a byte from an address to learn whether
 * the address can be read, in its "validate" mode, and it does not start without it). Created
 * by the C library, the pipe would take the program's lowest free descriptors; it is moved to
 * high ones instead, as the snapshot's temporary file is (mp_output_move_high), close-on-exec.
 */
static int
high_pipe2(int fds[2], int flags)
{
    int rc = real_pipe2(fds, flags);
    if (rc == 0) {
        int saved_errno = errno;
        fds[0] = mp_output_move_high(fds[0]);
        fds[1] = mp_output_move_high(fds[1]);
        struct stat st;
        if (fstat(fds[0], &st) == 0) {
            pipe_dev = st.st_dev;
            pipe_ino = st.st_ino;
        }
        atomic_store(&pipe_read, fds[0]);
        atomic_store(&pipe_write, fds[1]);
        errno = saved_errno;
    }
    return rc;
}

/*
 * libunwind keeps the pipe's numbers only. A program that closes every descriptor (daemons,
 * closerange) and opens others may get those numbers back: libunwind would then read a byte of
 * the program's input, write one to the program's file, and close the program's descriptor
 * when it re-creates its pipe. So its read, write and close of those numbers check first that
 * the descriptor is still the pipe; when it is not, they fail (libunwind then re-creates its
 * pipe, high again) and the close leaves the program's descriptor alone.
 */
static int
stolen(int fd)
{
    if (fd < 0 || (fd != atomic_load(&pipe_read) && fd != atomic_load(&pipe_write))) {
        return 0;
    }
    struct stat st;
    return fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_dev != pipe_dev ||
           st.st_ino != pipe_ino;
}

static ssize_t
checked_read(int fd, void *buf, size_t count)
{
    if (stolen(fd)) {
        errno = EBADF;
        return -1;
    }
    return real_read(fd, buf, count);
}

static ssize_t
checked_write(int fd, const void *buf, size_t count)
{
    if (stolen(fd)) {
        errno = EBADF;
        return -1;
    }
    return real_write(fd, buf, count);
}

static int
checked_close(int fd)
{
    if (stolen(fd)) {
        return 0; /* the program's now */
    }
    return real_close(fd);
}

/* Reached through the callers' GOT slots: any thread. */
static int
hook_dlclose(void *handle)
{
    int rc = real_dlclose(handle);
    int saved_errno = errno;
    unw.flush_cache(unw.as, 0, 0);
    errno = saved_errno;
    return rc;
}

/* Installed before libunwind starts (its first call), which opens the pipe. */
static int
install_hooks(void)
{
    const void *in_libunwind = (const void *)unw.backtrace;
    mp_reloc_hook_t hooks[] = {
        {"dlclose", (void *)hook_dlclose, (void **)&real_dlclose, NULL, NULL},
        {"pipe2", (void *)high_pipe2, (void **)&real_pipe2, NULL, in_libunwind},
        {"read", (void *)checked_read, (void **)&real_read, NULL, in_libunwind},
        {"write", (void *)checked_write, (void **)&real_write, NULL, in_libunwind},
        {"close", (void *)checked_close, (void **)&real_close, NULL, in_libunwind},
    };
    return mp_relocs_install(hooks, sizeof(hooks) / sizeof(hooks[0]));
}

int
mp_unwind_load(char *why, size_t why_size)
{
    if (atomic_load(&loaded)) {
        return 0;
    }
    /* RTLD_NODELETE: return addresses cached per thread stay valid for the process. */
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib == NULL) {
        snprintf(why, why_size, "cannot load libunwind.so.8 (%s)", dlerror());
        return -1;
    }
    int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t) =
        (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(lib, MP_NAME_OF(unw_set_caching_policy));
    unw_addr_space_t *as = dlsym(lib, MP_NAME_OF(unw_local_addr_space));
    unw.backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
    unw.flush_cache = (void (*)(unw_addr_space_t, unw_word_t, unw_word_t))dlsym(
        lib, MP_NAME_OF(unw_flush_cache));
    if (set_caching_policy == NULL || as == NULL || unw.backtrace == NULL ||
        unw.flush_cache == NULL) {
        snprintf(why, why_size, "libunwind.so.8 lacks unw_backtrace or its cache functions");
        return -1;
    }
    unw.as = *as;
    dl_iterate_phdr(find_self, (void *)(uintptr_t)mp_unwind_capture);
    if (install_hooks() < 0) {
        snprintf(why, why_size, "cannot follow dlclose");
        return -1;
    }
    /* Per-thread caches: the global one blocks every signal around each lookup. This is
     * libunwind's first call, which starts it. */
    set_caching_policy(unw.as, UNW_CACHE_PER_THREAD);
    atomic_store(&loaded, 1);
    return 0;
}

void
mp_unwind_follow_forks(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

int
mp_unwind_loaded(void)
{
    return atomic_load_explicit(&loaded, memory_order_relaxed);
}

__attribute__((noinline)) int
mp_unwind_capture(uintptr_t *pcs, int max)
{
    if (!mp_unwind_loaded() || max <= 0) {
        return 0;
    }
    int n = unw.backtrace((void **)pcs, max);
    int first = 0;
    while (first < n && in_range(self, pcs[first])) {
        first++;
    }
    while (first < n && skipped_at(pcs[first])) {
        first++;
    }
    for (int i = first; i < n; i++) {
        pcs[i - first] = pcs[i];
    }
    return n > first ? n - first : 0;
}



/* The initial stack pointer of the main thread (the loader's): its frames are all below. */
extern void *__libc_stack_end;

/* 1 on the process's main thread, 2 on another, 0 until known. A forked child's thread keeps
 * the value of the thread that forked, whose stack it runs on. */
static __thread int thread_kind __attribute__((tls_model("initial-exec")));

int
mp_unwind_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
    if (thread_kind == 0) {
        thread_kind = syscall(SYS_gettid) == getpid() ? 1 : 2;
    }
    /* A thread's frames lie between this one and the top of its stack: on the main thread,
     * the loader's initial stack pointer; on another, the thread's descriptor, which glibc
     * puts at the top of the thread's stack (static TLS between the two). No libc call: a
     * sample can come from inside pthread_getattr_np, which holds the thread's own lock. */
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t top = thread_kind == 1 ? (uintptr_t)__libc_stack_end : (uintptr_t)pthread_self();
    if (top <= here || top - here > ((uintptr_t)1 << 30)) {
        *lo = *hi = 0; /* not a stack this rule describes (a thread glibc did not create) */
        return -1;
    }
    *lo = here;
    *hi = top;
    return 0;
}
