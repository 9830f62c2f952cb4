/*
 * The exit snapshot: one per process, whichever way the process ends (Python's atexit, the
 * library destructor after exit(), or _exit()), and none from a forked child that never ran
 * Python code of its own (a child between fork and exec, whose exec failed).
 */
#ifndef MP_EXIT_H
#define MP_EXIT_H

/* Constructor: resolves the real _exit and _Exit and notes the owning process. */
void mp_exit_init(void);

/* Fork child handler: the child owns the profiler from now on, and owes its own exit
 * snapshot; notes where its Python code stands at the fork. */
void mp_exit_after_fork_child(void);

/* Writes the exit snapshot unless one was written. From Python's atexit or the destructor
 * (normal context). */
void mp_exit_snapshot(void);

/* Any context: whether this process's exit snapshot was claimed (the process is ending). */
int mp_exit_started(void);

/* Signal handler, or the deferred work of a normal unlock: the exit snapshot of a process that
 * SIGTERM or SIGHUP is about to end, written on this thread (system calls and the profiler's
 * memory only, see output.h), the lock tried for up to 100 ms. Returns MP_OUTPUT_LOCK_HELD when
 * this thread holds the profiler's lock (call again once it is released), else 0 (written,
 * given up, or not due: written already, MPROFILE_AT_EXIT=0, another process's). */
int mp_exit_snapshot_terminating(void);

#endif
