#include "outpath.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"

int
mp_outpath_check(const char *pattern, char *err, size_t err_size)
{
    char path[PATH_MAX];
    if (mp_config_expand_path(pattern, (long)getpid(), 1, (long)time(NULL), path, sizeof(path)) <
        0) {
        snprintf(err, err_size, "MPROFILE_OUT=%.64s is too long", pattern);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "MPROFILE_OUT=%.200s names a directory, not a file", pattern);
        return -1;
    }
    char *slash = strrchr(path, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    const char *dir = slash == path ? "/" : slash != NULL ? path : ".";
    errno = 0;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) < 0) {
        snprintf(err, err_size, "MPROFILE_OUT=%.200s: directory %.200s is not writable (%s)",
                 pattern, dir, strerror(errno != 0 ? errno : ENOTDIR));
        return -1;
    }
    return 0;
}

/* Where ".peak" goes in path: before the extension of its last component (a dot that starts
 * the name is not one), or at the end. */
static size_t
peak_position(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot != NULL && dot != base ? (size_t)(dot - path) : strlen(path);
}

int
mp_outpath_peak(const char *path, char *out, size_t size)
{
    size_t stem = peak_position(path);
    mp_fmt_t f;
    mp_fmt_init(&f, out, size);
    mp_fmt_mem(&f, path, stem);
    mp_fmt_str(&f, ".peak");
    mp_fmt_str(&f, path + stem);
    return mp_fmt_end(&f);
}

int
mp_outpath_name(const char *pattern, long pid, unsigned long seq, long time, int peak, char *out,
                size_t size)
{
    /* Expanded in place, with no path-sized buffer of its own: this runs on signal handlers'
     * stacks. */
    if (mp_config_expand_path(pattern, pid, seq, time, out, size) < 0) {
        return -1;
    }
    if (!peak) {
        return 0;
    }
    size_t len = strlen(out), stem = peak_position(out);
    if (len + 5 >= size) {
        return -1;
    }
    memmove(out + stem + 5, out + stem, len - stem + 1);
    memcpy(out + stem, ".peak", 5);
    return 0;
}
