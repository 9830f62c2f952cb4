/*
 * Snapshots on a signal (MPROFILE_SIGNAL), written by the thread the signal interrupted.
 *
 * The profiler owns no thread and no descriptor: a helper thread would keep a process alive
 * after its last thread left through pthread_exit, and it shows up in the thread count that
 * Python 3.12+ checks before fork(); a wake-up pipe takes low descriptor numbers that the
 * program owns. So the handler writes the snapshot itself, with what is safe there (system
 * calls and the profiler's own memory, see output.h), on the interrupted thread. It only tries
 * the profiler's lock: when that thread or another holds it, the request is deferred to the
 * holder, which writes the snapshot right after it unlocks (mp_profiler_set_deferred).
 */
#ifndef MP_SIGDUMP_H
#define MP_SIGDUMP_H

/* Constructor or API (GIL held): installs the handler for sig (0: none), chaining to the
 * handler that was there. Returns 0 or -errno. */
int mp_sigdump_setup(int sig);

/* Deferred work (any context, run by whoever unlocks the profiler): writes the snapshot a signal
 * asked for while the lock was busy. */
void mp_sigdump_serve(void);

#endif
