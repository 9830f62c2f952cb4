/*
 * The exit snapshot of a process that SIGTERM or SIGHUP ends (docker stop, systemd, Kubernetes,
 * a closed terminal). SIGINT is Python's: its KeyboardInterrupt runs the exit path already.
 *
 * The handlers go in once the interpreter is initialised, from a pending call on the main
 * thread, and only for a signal whose disposition is still the default: the interpreter has
 * read the dispositions by then (its signal module records SIG_DFL for these two), so
 * signal.getsignal() answers what it would without the profiler, a handler the program installs
 * later replaces ours as it would replace the default, and a program that installed its own
 * before keeps it untouched. An interpreter started without its signal handlers (an embedding
 * application's Py_InitializeEx(0)) gets none.
 *
 * The handler writes the snapshot on the thread the signal interrupted, as the signal dumps do
 * (sigdump.h says why the profiler owns no thread to hand it to): the writer uses system calls
 * and the profiler's memory only, and only tries the profiler's lock, for up to 100 ms. When
 * that thread holds the lock itself (the signal came in the middle of a sampled allocation) the
 * handler returns, and the thread writes the snapshot as it releases the lock, microseconds
 * later. Then the handler's disposition goes back to the default and the signal is raised again,
 * so the process ends with the same wait status as without the profiler. A second terminating
 * signal while the first is being handled is never delayed: it ends the process at once (the
 * snapshot being written is abandoned, its temporary file removed). As PID 1 (a container's
 * init) the default action of SIGTERM and SIGHUP is to be ignored: the snapshot is written and
 * the process runs on, as it would have.
 */
#ifndef MP_TERMINATE_H
#define MP_TERMINATE_H

/* Slow path (a sampled allocation, GIL held): schedules the installation once the interpreter
 * is initialised. Cheap after the first call. */
void mp_terminate_on_sample(void);

/* Fork child handler: a termination of the parent under way is not the child's. */
void mp_terminate_after_fork_child(void);

/* Deferred work of an unlock (nonblocking: the lock was only tried, a signal handler's or
 * _exit's): finishes a termination whose handler found the lock held by its own thread. */
void mp_terminate_serve(int nonblocking);

#endif
