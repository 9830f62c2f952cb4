/* The exit snapshot of processes that leave through _exit() (see exit.c). */
#ifndef MP_EXIT_H
#define MP_EXIT_H

/* Resolves the real _exit and _Exit and notes the owning process; from the constructor. */
void mp_exit_init(void);

/* In a forked child: the child owns the profiler from now on. */
void mp_exit_after_fork_child(void);

#endif
