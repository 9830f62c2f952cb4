#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fmt.h"
#include "log.h"
#include "outpath.h"
#include "profiler.h"
#include "rotation.h"
#include "snapshot.h"

static atomic_ulong sequence;
/* Temporary files being written, so that a process ending meanwhile removes them: 0 free,
 * 1 being filled in, 2 names a file, 3 removed by mp_output_abandon. */
#define WRITERS 4
static char writer_tmp[WRITERS][PATH_MAX];
static atomic_int writer_state[WRITERS];

/* Notes tmp as being written; returns its slot, or -1 (all taken: it is not tracked). */
static int
track(const char *tmp)
{
    for (int i = 0; i < WRITERS; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&writer_state[i], &expected, 1)) {
            memcpy(writer_tmp[i], tmp, strlen(tmp) + 1);
            atomic_store(&writer_state[i], 2);
            return i;
        }
    }
    return -1;
}

/* Frees the slot; returns 1 when the process is ending and removed the file meanwhile. */
static int
untrack(int slot)
{
    return slot >= 0 && atomic_exchange(&writer_state[slot], 0) == 3;
}
static atomic_int overwrite_warned;
static atomic_int wrote_fixed_name;
/* Errors already reported on stderr, one bit per errno value below 256. */
static _Atomic uint64_t reported[4];

/* Everything a write needs by name: scratch memory, so that a signal handler running on a
 * small thread stack uses little of it. */
typedef struct {
    char path[PATH_MAX];
    char peak[PATH_MAX]; /* the peak companion's */
    char tmp[PATH_MAX];
    char line[PATH_MAX + 256];
    unsigned long seq; /* what path was expanded with, when it came from the pattern */
    long time;
} names_t;

static int
pattern_has_number(const char *pattern)
{
    for (const char *p = pattern; *p != '\0'; p++) {
        if (*p == '%') {
            p++;
            if (*p == 'n') {
                return 1;
            }
            if (*p == '\0') {
                break;
            }
        }
    }
    return 0;
}

static int
next_name(names_t *n)
{
    n->seq = atomic_fetch_add(&sequence, 1) + 1;
    n->time = (long)time(NULL);
    return mp_outpath_name(mp_profiler.config.out, (long)getpid(), n->seq, n->time, 0, n->path,
                           sizeof(n->path));
}

/* 64 bits nobody else can guess: getrandom, or (no entropy yet) the clock and a counter. */
static uint64_t
random_bits(void)
{
    static atomic_ulong counter;
    uint64_t bits = 0;
    if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != (ssize_t)sizeof(bits)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        bits = ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)ts.tv_sec << 32) ^
               ((uint64_t)getpid() << 16) ^ atomic_fetch_add(&counter, 1);
    }
    return bits;
}

/* "<dir>/.<base>.<16 hex digits>.tmp" beside path. */
static int
temp_name(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    mp_fmt_t f;
    mp_fmt_init(&f, out, size);
    mp_fmt_mem(&f, path, dir_len);
    mp_fmt_str(&f, ".");
    mp_fmt_str(&f, path + dir_len);
    mp_fmt_str(&f, ".");
    mp_fmt_hex(&f, random_bits(), 16);
    mp_fmt_str(&f, ".tmp");
    return mp_fmt_end(&f);
}

int
mp_output_move_high(int fd)
{
    struct rlimit limit;
    int floor = 256;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        floor = limit.rlim_cur > 2048 ? 1024 : (int)(limit.rlim_cur / 2);
    }
    if (floor <= fd) {
        return fd;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) {
        return fd;
    }
    close(fd);
    return high;
}

/* Renames tmp to path; with no_replace, fails with -EEXIST rather than replace a file. */
static int
publish(const char *tmp, const char *path, int no_replace)
{
    if (!no_replace) {
        return rename(tmp, path) == 0 ? 0 : -errno;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -errno;
    }
    /* A file system without RENAME_NOREPLACE: link() never replaces either. */
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP) {
        return -errno;
    }
    /* Nor hard links (vboxsf, some FUSE): look first, then rename. */
    if (access(path, F_OK) == 0) {
        return -EEXIST;
    }
    return rename(tmp, path) == 0 ? 0 : -errno;
}

static int
write_capture(int fd, const mp_capture_t *c, const mp_block_t *blocks, size_t count,
              const mp_snapshot_meta_t *meta)
{
    mp_pickle_t p;
    int rc = mp_pickle_open(&p, fd);
    if (rc < 0) {
        return rc;
    }
    rc = mp_snapshot_write(&p, &mp_profiler.stacks, c->extent, blocks, count, meta);
    int finish = mp_pickle_finish(&p, NULL, NULL);
    return rc < 0 ? rc : finish;
}

static void
report_failure(names_t *n, const char *path, int err)
{
    atomic_fetch_add(&mp_profiler.dump_failures, 1);
    if (err > 0 && err < 256) {
        uint64_t bit = (uint64_t)1 << (err & 63);
        if (atomic_fetch_or(&reported[err >> 6], bit) & bit) {
            return; /* said once: the rest are counted */
        }
    }
    mp_fmt_t f;
    mp_fmt_init(&f, n->line, sizeof(n->line));
    mp_fmt_str(&f, "cannot write the snapshot ");
    mp_fmt_str(&f, path);
    mp_fmt_str(&f, ": ");
    const char *text = strerrordesc_np(err);
    if (text != NULL) {
        mp_fmt_str(&f, text);
    } else {
        mp_fmt_str(&f, "error ");
        mp_fmt_i64(&f, err);
    }
    mp_fmt_str(&f, " (later failures like it are only counted)");
    mp_fmt_end(&f);
    mp_log_line(MP_LOG_WARN, n->line);
}

static void
warn_overwrite(names_t *n, const char *path)
{
    if (atomic_exchange(&overwrite_warned, 1)) {
        return;
    }
    mp_fmt_t f;
    mp_fmt_init(&f, n->line, sizeof(n->line));
    mp_fmt_str(&f, "MPROFILE_OUT has no %n: snapshot ");
    mp_fmt_str(&f, path);
    mp_fmt_str(&f, " replaces the one written before");
    mp_fmt_end(&f);
    mp_log_line(MP_LOG_WARN, n->line);
}

/* Moves the finished temporary file into place under the name the caller or the pattern
 * gives. */
static int
place(names_t *n, int automatic)
{
    if (!automatic) {
        return publish(n->tmp, n->path, 0);
    }
    if (pattern_has_number(mp_profiler.config.out)) {
        for (int tries = 0; tries < 10000; tries++) {
            int rc = publish(n->tmp, n->path, 1);
            if (rc != -EEXIST) {
                return rc;
            }
            if (next_name(n) < 0) {
                return -ENAMETOOLONG;
            }
        }
        return -EEXIST;
    }
    /* A fixed name: the user's choice, replaced as asked; said once when this process replaces
     * its own earlier snapshot (a file left by another run is not news). */
    int rc = publish(n->tmp, n->path, 0);
    if (rc == 0 && atomic_exchange(&wrote_fixed_name, 1)) {
        warn_overwrite(n, n->path);
    }
    return rc;
}

/* Dump writer: writes blocks into a new temporary file beside path (n->tmp), whose identity
 * goes to *id (for the file budget: a rename keeps it). 0 or -errno; on failure the temporary
 * file is gone. */
static int
write_temporary(names_t *n, const char *path, const mp_capture_t *c, const mp_block_t *blocks,
                size_t count, const mp_snapshot_meta_t *meta, int *slot, mp_rotation_file_t *id)
{
    *slot = -1;
    if (temp_name(path, n->tmp, sizeof(n->tmp)) < 0) {
        return -ENAMETOOLONG;
    }
    *slot = track(n->tmp);
    int fd = open(n->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    fd = mp_output_move_high(fd);
    int rc = write_capture(fd, c, blocks, count, meta);
    if (rc == 0 && fsync(fd) < 0) {
        rc = -errno;
    }
    struct stat st;
    if (rc == 0 && fstat(fd, &st) == 0) {
        id->seq = n->seq;
        id->time = n->time;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
    }
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(n->tmp);
    }
    return rc;
}

/* Peak time of the last peak companion of an interval or growth snapshot: an unchanged peak is
 * not written again. Atomic: the timer thread and a growing thread may both write. */
static _Atomic double last_periodic_peak;

/* Dump writer: writes the peak companion of the snapshot just placed at n->path. A name made
 * from the pattern never replaces a file (one there belongs to another process or run: the
 * companion is not written, and the failure is counted); a name the caller gave replaces it, as
 * the snapshot's own does. 0 or -errno. */
static int
write_peak(names_t *n, const mp_capture_t *c, int automatic, mp_rotation_file_t *id)
{
    if (mp_outpath_peak(n->path, n->peak, sizeof(n->peak)) < 0) {
        return -ENAMETOOLONG;
    }
    mp_snapshot_meta_t meta;
    mp_profiler_peak_meta(c, &meta);
    int slot;
    int rc = write_temporary(n, n->peak, c, c->peak_blocks, c->peak_n, &meta, &slot, id);
    if (rc == 0) {
        rc = publish(n->tmp, n->peak, automatic && pattern_has_number(mp_profiler.config.out));
        if (rc != 0) {
            unlink(n->tmp);
        }
    }
    if (untrack(slot) && rc != 0) {
        rc = -ECANCELED;
    }
    return rc;
}

static void
log_written(names_t *n, const char *path)
{
    if (!mp_log_enabled(MP_LOG_INFO)) {
        return;
    }
    mp_fmt_t f;
    mp_fmt_init(&f, n->line, sizeof(n->line));
    mp_fmt_str(&f, "wrote ");
    mp_fmt_str(&f, path);
    mp_fmt_end(&f);
    mp_log_line(MP_LOG_INFO, n->line);
}

int
mp_output_write(const char *path, int flags)
{
    names_t *n = mp_alloc_scratch(sizeof(names_t));
    if (n == NULL) {
        atomic_fetch_add(&mp_profiler.dump_failures, 1);
        return -ENOMEM;
    }
    int automatic = path == NULL;
    mp_trigger_t trigger = (mp_trigger_t)((flags >> MP_OUTPUT_TRIGGER_SHIFT) & 15);
    int periodic = trigger == MP_TRIGGER_INTERVAL || trigger == MP_TRIGGER_GROWTH;
    /* The copy first: a busy lock must not use up a file number. */
    mp_capture_t capture;
    int rc = mp_profiler_capture(&capture,
                                 MP_CAPTURE_LIVE | MP_CAPTURE_PEAK |
                                     (flags & MP_OUTPUT_NONBLOCKING ? MP_CAPTURE_NONBLOCKING : 0) |
                                     (automatic && !periodic ? MP_CAPTURE_SERVES_REQUESTS : 0));
    if (rc == -EBUSY || rc == -EDEADLK) {
        mp_alloc_release_scratch(n, sizeof(names_t));
        return rc == -EBUSY ? MP_OUTPUT_LOCK_BUSY : MP_OUTPUT_LOCK_HELD;
    }
    int captured = rc == 0;
    capture.meta.trigger = trigger;
    if (rc == 0 && automatic) {
        rc = next_name(n) < 0 ? -ENAMETOOLONG : 0;
    } else if (rc == 0 && strlen(path) >= sizeof(n->path)) {
        rc = -ENAMETOOLONG;
    } else if (rc == 0) {
        memcpy(n->path, path, strlen(path) + 1);
    }
    int slot = -1;
    /* Only numbered names accumulate: other patterns replace their own files. */
    int rotated = periodic && automatic && pattern_has_number(mp_profiler.config.out);
    if (rc == 0 && rotated) {
        mp_rotation_make_room(mp_profiler.config.out);
    }
    mp_rotation_file_t snapshot_file = {0}, peak_file = {0};
    if (rc == 0) {
        rc = write_temporary(n, n->path, &capture, capture.blocks, capture.n, &capture.meta,
                             &slot, &snapshot_file);
        if (rc == 0) {
            rc = place(n, automatic);
            if (rc != 0) {
                unlink(n->tmp);
            }
        }
        if (untrack(slot) && rc != 0) {
            rc = -ECANCELED; /* the process is ending: nothing to report */
        }
    }
    int peak_rc = 1; /* no companion */
    if (rc == 0) {
        atomic_fetch_add(&mp_profiler.dumps, 1);
        log_written(n, n->path);
        int peak_changed = capture.meta.peak_time != atomic_load(&last_periodic_peak);
        if (capture.peak_blocks != NULL && (!periodic || peak_changed)) {
            peak_rc = write_peak(n, &capture, automatic, &peak_file);
            if (peak_rc == 0) {
                log_written(n, n->peak);
                if (periodic) {
                    atomic_store(&last_periodic_peak, capture.meta.peak_time);
                }
            } else if (peak_rc != -ECANCELED) {
                report_failure(n, n->peak, -peak_rc);
            }
        }
        if (rotated) {
            /* place() may have moved to a later number: the names are remade from it. */
            snapshot_file.seq = peak_file.seq = n->seq;
            snapshot_file.time = peak_file.time = n->time;
            mp_rotation_add(mp_profiler.config.out, &snapshot_file,
                            peak_rc == 0 ? &peak_file : NULL, mp_profiler.config.max_files);
        }
    } else if (rc != -ECANCELED) {
        report_failure(n, n->path[0] != '\0' ? n->path : mp_profiler.config.out, -rc);
    }
    if (captured) {
        mp_profiler_release(&capture);
    }
    mp_alloc_release_scratch(n, sizeof(names_t));
    return rc;
}

void
mp_output_abandon(void)
{
    for (int i = 0; i < WRITERS; i++) {
        int expected = 2;
        if (atomic_compare_exchange_strong(&writer_state[i], &expected, 1)) {
            unlink(writer_tmp[i]);
            atomic_store(&writer_state[i], 3);
        }
    }
}

void
mp_output_after_fork_child(void)
{
    atomic_store(&sequence, 0);
    atomic_store(&last_periodic_peak, 0.0);
    mp_rotation_after_fork_child();
    atomic_store(&wrote_fixed_name, 0);
    /* The parent's writers are not ours to clean up after. */
    for (int i = 0; i < WRITERS; i++) {
        atomic_store(&writer_state[i], 0);
    }
}
