/*
 * Text formatting that is safe in every execution context, signal handlers and _exit included:
 * it appends strings and integers into a caller's buffer, and never allocates, locks or looks
 * at the locale (snprintf is not async-signal-safe by contract). A result that does not fit is
 * cut and flagged, never written past the buffer.
 */
#ifndef MP_FMT_H
#define MP_FMT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap; /* bytes in buf, the terminating NUL included */
    size_t len;
    int overflow;
} mp_fmt_t;

/* Any context. cap must be at least 1. */
void mp_fmt_init(mp_fmt_t *f, char *buf, size_t cap);
void mp_fmt_mem(mp_fmt_t *f, const char *s, size_t n);
void mp_fmt_str(mp_fmt_t *f, const char *s);
void mp_fmt_u64(mp_fmt_t *f, uint64_t v);
void mp_fmt_i64(mp_fmt_t *f, int64_t v);
/* v in hexadecimal, zero-padded to digits (1..16). */
void mp_fmt_hex(mp_fmt_t *f, uint64_t v, int digits);

/* Terminates the text; returns 0, or -1 when it did not fit (it is then cut). */
int mp_fmt_end(mp_fmt_t *f);

#endif
