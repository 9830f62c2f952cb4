/*
 * The file budget of periodic snapshots (MPROFILE_MAX_FILES): a long-lived service that writes
 * an interval or growth snapshot every minute must not fill its disk.
 *
 * The process remembers the interval and growth snapshots it wrote (their names are remade from
 * the output pattern, the number and the time they were made with, so a record is a few words
 * whatever the path) and, past the budget, removes its oldest, with its peak companion. The
 * newest peak companion is always kept, even when its snapshot goes. A file is only removed
 * while it is still the one this process wrote (same device and inode): a file the user moved
 * there, or one another process wrote under the same name, is never touched. Snapshots asked for
 * (exit, signal, API, SIGTERM) are not counted and never removed.
 *
 * Normal contexts only (the interval thread, a growth snapshot written by an unlocking thread
 * outside any signal handler): it takes a mutex.
 */
#ifndef MP_ROTATION_H
#define MP_ROTATION_H

#include <stdint.h>
#include <sys/types.h>

/* A file written by this process: the number and time its name was expanded with, and its
 * identity. */
typedef struct {
    unsigned long seq;
    long time;
    dev_t dev;
    ino_t ino;
} mp_rotation_file_t;

/* Before a periodic snapshot is written: removes the oldest one if the budget is used up, so
 * that the new one never makes a file more than the budget, even when the process ends before
 * mp_rotation_add (a snapshot that then fails to write leaves one file fewer). */
void mp_rotation_make_room(const char *out_pattern);

/* Notes a periodic snapshot named from out_pattern (outpath.h) and, if peak is not NULL, the
 * peak companion written beside it; removes the oldest snapshot if it is one too many (two
 * periodic snapshots written at once). */
void mp_rotation_add(const char *out_pattern, const mp_rotation_file_t *snapshot,
                     const mp_rotation_file_t *peak, int max_files);

/* Fork child handler: the parent's files are not the child's to remove. */
void mp_rotation_after_fork_child(void);

#endif
