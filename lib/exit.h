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

#endif
