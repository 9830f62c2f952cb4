#include "rotation.h"

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "outpath.h"

typedef struct {
    mp_rotation_file_t snapshot;
    mp_rotation_file_t peak;
    int has_peak;
} entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *ring; /* room for capacity entries, count of them from first */
static int capacity, first, count;
/* The newest peak companion, kept when its snapshot is removed. */
static mp_rotation_file_t newest_peak;
static int has_newest_peak, newest_peak_orphaned;

/* The output pattern the names are made from (MPROFILE_OUT: it never changes). */
static const char *pattern;

/* The name being removed: under the mutex, not on the stack of a program thread (a growth
 * snapshot's writer) that may have little. */
static char path[PATH_MAX];

/* Under the mutex: removes the file f's name gives if it is still f. */
static void
remove_if_ours(const mp_rotation_file_t *f, int peak)
{
    if (mp_outpath_name(pattern, (long)getpid(), f->seq, f->time, peak, path, sizeof(path)) <
        0) {
        return;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
        unlink(path);
    }
}

static int
same(const mp_rotation_file_t *a, const mp_rotation_file_t *b)
{
    return a->dev == b->dev && a->ino == b->ino;
}

static void
drop_oldest(void)
{
    entry_t *e = &ring[first];
    remove_if_ours(&e->snapshot, 0);
    if (e->has_peak) {
        if (has_newest_peak && same(&e->peak, &newest_peak)) {
            newest_peak_orphaned = 1; /* kept: it is the latest peak */
        } else {
            remove_if_ours(&e->peak, 1);
        }
    }
    first = (first + 1) % capacity;
    count--;
}

void
mp_rotation_make_room(const char *out_pattern)
{
    pthread_mutex_lock(&lock);
    pattern = out_pattern;
    if (ring != NULL && count == capacity) {
        drop_oldest();
    }
    pthread_mutex_unlock(&lock);
}

void
mp_rotation_add(const char *out_pattern, const mp_rotation_file_t *snapshot,
                const mp_rotation_file_t *peak, int max_files)
{
    pthread_mutex_lock(&lock);
    pattern = out_pattern;
    if (ring == NULL) {
        ring = mp_alloc_zeroed((size_t)max_files * sizeof(entry_t));
        if (ring == NULL) {
            pthread_mutex_unlock(&lock);
            return; /* not remembered: this file stays (counted nowhere, said nowhere) */
        }
        capacity = max_files;
    }
    if (peak != NULL) {
        if (has_newest_peak && newest_peak_orphaned) {
            remove_if_ours(&newest_peak, 1); /* its snapshot went before: superseded now */
        }
        newest_peak = *peak;
        has_newest_peak = 1;
        newest_peak_orphaned = 0;
    }
    if (count == capacity) {
        drop_oldest();
    }
    entry_t *e = &ring[(first + count) % capacity];
    e->snapshot = *snapshot;
    e->has_peak = peak != NULL;
    if (peak != NULL) {
        e->peak = *peak;
    }
    count++;
    pthread_mutex_unlock(&lock);
}

void
mp_rotation_after_fork_child(void)
{
    /* The interval thread, gone in the child, may have held it at the fork; the child is
     * single-threaded here, and no other thread can be waiting on it. */
    pthread_mutex_init(&lock, NULL);
    first = count = 0;
    has_newest_peak = newest_peak_orphaned = 0;
}
