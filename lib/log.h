/*
 * Diagnostics on stderr (never stdout), one line each, prefixed "mprofile:", written with one
 * write(2) so that lines from several threads never interleave.
 */
#ifndef MP_LOG_H
#define MP_LOG_H

typedef enum { MP_LOG_ERROR = 0, MP_LOG_WARN = 1, MP_LOG_INFO = 2, MP_LOG_DEBUG = 3 } mp_log_level_t;

/* Constructor only (before any other thread can log). */
void mp_log_set_level(mp_log_level_t level);

/* Whether a line of that level would be written. Any context. */
int mp_log_enabled(mp_log_level_t level);

/* printf-style; formats with vsnprintf, so not for signal handlers or _exit (use mp_log_line). */
void mp_log(mp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "mprofile: " text "\n". Any context, signal handlers and _exit included. */
void mp_log_line(mp_log_level_t level, const char *text);

#endif
