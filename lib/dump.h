/*
 * Writing snapshots: on the configured signal, at exit and on request.
 *
 * The signal handler only writes one byte to a pipe (errno preserved) and chains to a handler
 * that was there before; a dump thread with every signal blocked reads the pipe and writes the
 * file, so no allocation, lock or I/O happens in signal context. The thread is created lazily
 * from the profiler's slow path, in a forked child again.
 *
 * The exit snapshot must show what the program held, not what survived the interpreter's
 * teardown, so once the interpreter is up a pending call makes the main thread register an
 * atexit callback, which Python runs before it tears down modules. When that was not possible
 * (embedded interpreter, no sample after start-up) the library destructor writes it instead.
 */
#ifndef MP_DUMP_H
#define MP_DUMP_H

#include <stdint.h>

/* Sets up the pipe and the signal handler. Returns 0 or -errno. */
int mp_dump_setup(void);

/* Writes a snapshot to path, or to the next name of the MPROFILE_OUT pattern when NULL.
 * Atomic: a temporary file in the same directory is renamed. Returns 0 or -errno. */
int mp_dump_write(const char *path);

/* From the slow path with the GIL held: registers the exit dump once the interpreter is up. */
void mp_dump_on_python_sample(void);

/* From the slow path: starts the dump thread if it is not running. */
void mp_dump_ensure_thread(void);

/* The exit snapshot (only the first call writes). */
void mp_dump_at_exit(void);

/* In a forked child: a new pipe, no dump thread yet, file numbers from 1. */
void mp_dump_after_fork_child(void);

/* Some bits that differ between processes and runs, for seeding when MPROFILE_SEED is unset. */
uint64_t mp_dump_entropy(void);

#endif
