#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static mp_log_level_t threshold = MP_LOG_WARN;

void
mp_log_set_level(mp_log_level_t level)
{
    threshold = level;
}

int
mp_log_enabled(mp_log_level_t level)
{
    return level <= threshold;
}

void
mp_log_line(mp_log_level_t level, const char *text)
{
    if (level > threshold) {
        return;
    }
    int saved_errno = errno;
    struct iovec parts[3] = {
        {(void *)"mprofile: ", 10},
        {(void *)text, strlen(text)},
        {(void *)"\n", 1},
    };
    ssize_t ignored = writev(STDERR_FILENO, parts, 3);
    (void)ignored;
    errno = saved_errno;
}

void
mp_log(mp_log_level_t level, const char *fmt, ...)
{
    if (level > threshold) {
        return;
    }
    int saved_errno = errno;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mp_log_line(level, line);
    errno = saved_errno;
}
