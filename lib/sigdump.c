#include "sigdump.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "output.h"
#include "profiler.h"

static struct sigaction previous;
/* The previous handler had SA_RESETHAND and ran once: from now on it is SIG_DFL. */
static atomic_int previous_spent;
/* Set while this thread writes a signal snapshot: a signal that interrupts it defers. */
static __thread int dumping __attribute__((tls_model("initial-exec")));

/*
 * Signal handler or deferred work (any context): writes a snapshot on this thread, or leaves
 * the request to the lock's holder. The request is made (mp_profiler.dump_requested and the
 * deferred work set) before the lock is tried, and the capture clears it under the lock, so a
 * holder that unlocks after the try failed always sees it, and a snapshot that fails to write
 * (a full disk) is not retried at every unlock. Requests made meanwhile are served by the
 * snapshot being captured.
 */
static void
dump_here(void)
{
    atomic_store(&mp_profiler.dump_requested, 1);
    mp_profiler_defer();
    if (dumping) {
        return; /* this thread is writing one: its unlock, or the next one, serves the request */
    }
    dumping = 1;
    mp_output_write(NULL, MP_OUTPUT_NONBLOCKING | MP_OUTPUT_TRIGGER(MP_TRIGGER_SIGNAL));
    dumping = 0;
}

void
mp_sigdump_serve(void)
{
    if (!atomic_load(&mp_profiler.dump_requested)) {
        return;
    }
    if (dumping) {
        mp_profiler_defer(); /* this thread's snapshot was copied before it: the next unlock */
        return;
    }
    dump_here();
}

/* Signal handler: calls the handler that was installed before ours as the kernel would have:
 * with its mask (and the signal itself unless SA_NODEFER) blocked, once only if SA_RESETHAND. */
static void
chain(int sig, siginfo_t *info, void *uctx)
{
    if (atomic_load(&previous_spent)) {
        return;
    }
    int siginfo = (previous.sa_flags & SA_SIGINFO) != 0;
    void (*handler)(int) = previous.sa_handler;
    if (!siginfo && (handler == SIG_DFL || handler == SIG_IGN || handler == NULL)) {
        return; /* SIG_DFL would end the program: taking the signal over is the point */
    }
    if (siginfo && previous.sa_sigaction == NULL) {
        return;
    }
    if (previous.sa_flags & SA_RESETHAND) {
        atomic_store(&previous_spent, 1);
    }
    sigset_t mask = previous.sa_mask;
    if (!(previous.sa_flags & SA_NODEFER)) {
        sigaddset(&mask, sig);
    }
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (siginfo) {
        previous.sa_sigaction(sig, info, uctx);
    } else {
        handler(sig);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    if (atomic_load_explicit(&mp_profiler.active, memory_order_relaxed)) {
        dump_here();
    }
    errno = saved_errno;
    chain(sig, info, uctx);
    errno = saved_errno;
}

int
mp_sigdump_setup(int sig)
{
    if (sig == 0) {
        return 0;
    }
    struct sigaction current;
    if (sigaction(sig, NULL, &current) < 0) {
        return -errno;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_signal;
    /* Restart interrupted calls as the program's own handler asked, or always when there was
     * none (SIG_DFL, SIG_IGN): the program never expected EINTR from this signal. Run on the
     * alternate stack if that handler did. */
    int had_handler = (current.sa_flags & SA_SIGINFO) ||
                      (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
    action.sa_flags = SA_SIGINFO | (had_handler ? current.sa_flags & SA_RESTART : SA_RESTART) |
                      (current.sa_flags & SA_ONSTACK);
    sigemptyset(&action.sa_mask);
    previous = current;
    if (sigaction(sig, &action, NULL) < 0) {
        return -errno;
    }
    return 0;
}
