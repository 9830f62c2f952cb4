#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static mp_log_level_t threshold = MP_LOG_WARN;

void
mp_log_set_level(mp_log_level_t level)
{
    threshold = level;
}

void
mp_log(mp_log_level_t level, const char *fmt, ...)
{
    if (level > threshold) {
        return;
    }
    int saved_errno = errno;
    char line[512];
    int n = snprintf(line, sizeof(line), "mprofile: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
    errno = saved_errno;
}
