/*
 * Snapshot files: their names and their atomic, private writes.
 *
 * Every function here may run in any context, signal handlers and _exit
 * included: it uses system calls, the profiler's own memory (alloc.h) and mp_fmt only, never
 * libc's allocator, stdio or a lock it would wait for (with MP_OUTPUT_NONBLOCKING).
 *
 * A snapshot is written to a temporary file in the target's directory, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode 0600 under a name with 64 random bits (nobody can
 * predict it, plant a link there or share it with another dump), moved to a high descriptor
 * number, fsync'ed, then renamed into place. Names made from MPROFILE_OUT never replace an
 * existing file when the pattern has %n: the number moves on to the next free one (a process
 * that execs itself keeps its pid and starts counting from 1 again).
 */
#ifndef MP_OUTPUT_H
#define MP_OUTPUT_H

#include <stddef.h>

#define MP_OUTPUT_NONBLOCKING 1 /* only try the profiler's lock (signal handlers, _exit) */
/* What asked for the snapshot (snapshot.h's mp_trigger_t; 0: the API), in the flags. */
#define MP_OUTPUT_TRIGGER_SHIFT 4
#define MP_OUTPUT_TRIGGER(t)    ((int)(t) << MP_OUTPUT_TRIGGER_SHIFT)



/* What mp_output_write returns when MP_OUTPUT_NONBLOCKING was given and the lock was busy:
 * nothing was written or counted, and the caller decides. Positive, so that no error of a file
 * operation (rename can fail with EBUSY) is ever taken for them. */
#define MP_OUTPUT_LOCK_BUSY 1 /* another thread holds the profiler's lock */
#define MP_OUTPUT_LOCK_HELD 2 /* this thread does (a signal handler interrupted the profiler) */

/*
 * Dump writer. Any context for every trigger but MP_TRIGGER_INTERVAL and MP_TRIGGER_GROWTH,
 * which take the file budget's mutex (rotation.h): normal contexts only.
 * Writes a snapshot to path, or to the next name of MPROFILE_OUT when path is NULL, and with
 * MPROFILE_PEAK its peak companion beside it (mp_outpath_peak). Interval and growth snapshots
 * (the trigger in flags) get a companion only when the peak moved since the last one, and count
 * towards MPROFILE_MAX_FILES (rotation.h). Returns 0 (the snapshot was written, whatever
 * became of its companion), MP_OUTPUT_LOCK_BUSY or MP_OUTPUT_LOCK_HELD, or -errno (counted in
 * dump_failures; the first failure of each kind is reported on stderr).
 */
int mp_output_write(const char *path, int flags);

/* The process ends now (_exit, the destructor): the temporary files of snapshots still being
 * written by other threads are removed rather than left behind. Any context. */
void mp_output_abandon(void);

/* Fork child handler: file numbers start again from 1 (the pid differs). */
void mp_output_after_fork_child(void);

/* fd moved out of the low numbers the program expects to reuse (to the lowest free one at
 * half the descriptor limit, 1024 at most), close-on-exec, the original closed; fd itself when
 * it cannot move. A program that closes or reuses 3, 4, ... never meets the profiler's
 * descriptors. Any context. */
int mp_output_move_high(int fd);

#endif
