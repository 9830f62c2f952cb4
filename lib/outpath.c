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

int
mp_outpath_peak(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot != NULL && dot != base ? (size_t)(dot - path) : strlen(path);
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
    char path[PATH_MAX];
    if (mp_config_expand_path(pattern, pid, seq, time, path, sizeof(path)) < 0) {
        return -1;
    }
    if (peak) {
        return mp_outpath_peak(path, out, size);
    }
    size_t len = strlen(path);
    if (len >= size) {
        return -1;
    }
    memcpy(out, path, len + 1);
    return 0;
}
