/*
 * Snapshots on time (MPROFILE_INTERVAL) and on growth (MPROFILE_DUMP_GROWTH), both under the
 * file budget (rotation.h).
 *
 * Interval: the user asked for a timer, so the profiler starts one thread for it (and only
 * then): detached, with every signal blocked (signals meant for the program never land on it),
 * named "mprofile-timer". It is started from a pending call on the main thread once the
 * interpreter runs, never from the constructor or an allocation, and again in a forked child
 * that runs Python code (a child that execs at once starts none). Each tick adds a timeline
 * point and writes a numbered snapshot. The thread never holds anything the program waits for
 * between ticks, so it keeps nothing alive: exit() ends it with the process.
 *
 * Growth: the sampling path asks for a snapshot when the live estimate passes the previous
 * growth snapshot's by MPROFILE_DUMP_GROWTH (profiler.c); the thread that asked writes it as it
 * releases the profiler's lock, outside signal handlers.
 */
#ifndef MP_PERIODIC_H
#define MP_PERIODIC_H

/* Slow path (GIL held): schedules the interval thread's start in this process. Cheap after
 * the first call. */
void mp_periodic_on_sample(void);

/* Deferred work of an unlock: writes a growth snapshot that was asked for (left to a later
 * unlock when nonblocking: a signal handler's or _exit's). */
void mp_periodic_serve(int nonblocking);

/* Fork child handler: the timer thread did not come along. */
void mp_periodic_after_fork_child(void);

#endif
