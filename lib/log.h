/*
 * Diagnostics on stderr (never stdout), one line each, prefixed "mprofile:". Formatted into a
 * stack buffer and written with one write(2), so lines from several threads never interleave.
 */
#ifndef MP_LOG_H
#define MP_LOG_H

typedef enum { MP_LOG_ERROR = 0, MP_LOG_WARN = 1, MP_LOG_INFO = 2, MP_LOG_DEBUG = 3 } mp_log_level_t;

void mp_log_set_level(mp_log_level_t level);

void mp_log(mp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
