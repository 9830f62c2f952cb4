#include "fmt.h"

#include <string.h>

void
mp_fmt_init(mp_fmt_t *f, char *buf, size_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    f->overflow = 0;
    buf[0] = '\0';
}

void
mp_fmt_mem(mp_fmt_t *f, const char *s, size_t n)
{
    size_t room = f->cap - 1 - f->len;
    if (n > room) {
        n = room;
        f->overflow = 1;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

void
mp_fmt_str(mp_fmt_t *f, const char *s)
{
    mp_fmt_mem(f, s, strlen(s));
}

void
mp_fmt_u64(mp_fmt_t *f, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    mp_fmt_mem(f, digits + sizeof(digits) - n, (size_t)n);
}

void
mp_fmt_i64(mp_fmt_t *f, int64_t v)
{
    if (v < 0) {
        mp_fmt_mem(f, "-", 1);
        mp_fmt_u64(f, (uint64_t)0 - (uint64_t)v);
    } else {
        mp_fmt_u64(f, (uint64_t)v);
    }
}

void
mp_fmt_hex(mp_fmt_t *f, uint64_t v, int digits)
{
    char out[16];
    if (digits < 1 || digits > 16) {
        digits = 16;
    }
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
    mp_fmt_mem(f, out, (size_t)digits);
}

int
mp_fmt_end(mp_fmt_t *f)
{
    f->buf[f->len] = '\0';
    return f->overflow ? -1 : 0;
}
