#include "outpath.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

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
