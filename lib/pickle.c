#include "pickle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#define FD_BUFFER (256 * 1024)

int
mp_pickle_open(mp_pickle_t *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    /* A file sink has a fixed buffer of the profiler's own memory (any context may write one);
     * a memory sink grows with libc, since its bytes are handed to the caller to free(). */
    p->cap = FD_BUFFER;
    p->buf = fd >= 0 ? mp_alloc_scratch(p->cap) : malloc(p->cap);
    if (p->buf == NULL) {
        return -ENOMEM;
    }
    /* Protocol 4: SHORT_BINUNICODE and MEMOIZE, readable by every Python 3.4+. */
    p->buf[p->len++] = '\x80';
    p->buf[p->len++] = 4;
    return 0;
}

static void
write_all(mp_pickle_t *p, const void *data, size_t len)
{
    size_t done = 0;
    while (done < len && p->error == 0) {
        ssize_t n = write(p->fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            p->error = n < 0 ? errno : EIO;
        } else {
            done += (size_t)n;
        }
    }
}

static void
flush(mp_pickle_t *p)
{
    write_all(p, p->buf, p->len);
    p->len = 0;
}

static void
put(mp_pickle_t *p, const void *data, size_t n)
{
    if (p->error != 0) {
        return;
    }
    if (p->len + n > p->cap) {
        if (p->fd >= 0) {
            flush(p);
        }
        if (p->len + n > p->cap && p->fd >= 0) {
            /* One item larger than the buffer (a huge file name): straight to the file. */
            write_all(p, data, n);
            return;
        }
        if (p->len + n > p->cap) {
            size_t cap = p->cap;
            while (cap < p->len + n) {
                cap *= 2;
            }
            char *buf = realloc(p->buf, cap);
            if (buf == NULL) {
                p->error = ENOMEM;
                return;
            }
            p->buf = buf;
            p->cap = cap;
        }
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

static void
put_u8(mp_pickle_t *p, uint8_t v)
{
    put(p, &v, 1);
}

static void
put_le(mp_pickle_t *p, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    put(p, b, (size_t)bytes);
}

void
mp_pickle_op(mp_pickle_t *p, char opcode)
{
    put_u8(p, (uint8_t)opcode);
}

int
mp_pickle_finish(mp_pickle_t *p, void **out, size_t *len)
{
    put_u8(p, '.');
    if (p->fd >= 0) {
        flush(p);
    }
    int err = p->error;
    if (err == 0 && p->fd < 0 && out != NULL) {
        *out = p->buf;
        *len = p->len;
        p->buf = NULL;
    }
    mp_pickle_discard(p);
    return -err;
}

void
mp_pickle_discard(mp_pickle_t *p)
{
    if (p->fd >= 0) {
        mp_alloc_release_scratch(p->buf, p->cap);
    } else {
        free(p->buf);
    }
    p->buf = NULL;
    p->len = p->cap = 0;
}

void
mp_pickle_global(mp_pickle_t *p, const char *module, const char *name)
{
    put_u8(p, 'c');
    put(p, module, strlen(module));
    put_u8(p, '\n');
    put(p, name, strlen(name));
    put_u8(p, '\n');
}

void
mp_pickle_int(mp_pickle_t *p, int64_t v)
{
    if (v >= 0 && v <= 0xff) {
        put_u8(p, 'K'); /* BININT1 */
        put_u8(p, (uint8_t)v);
    } else if (v >= 0 && v <= 0xffff) {
        put_u8(p, 'M'); /* BININT2 */
        put_le(p, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put_u8(p, 'J'); /* BININT */
        put_le(p, (uint64_t)v, 4);
    } else {
        put_u8(p, '\x8a'); /* LONG1: little-endian two's complement */
        put_u8(p, 8);
        put_le(p, (uint64_t)v, 8);
    }
}

void
mp_pickle_uint(mp_pickle_t *p, uint64_t v)
{
    if (v <= INT64_MAX) {
        mp_pickle_int(p, (int64_t)v);
        return;
    }
    /* Nine bytes, so the sign bit of the top byte stays clear. */
    put_u8(p, '\x8a');
    put_u8(p, 9);
    put_le(p, v, 8);
    put_u8(p, 0);
}

void
mp_pickle_float(mp_pickle_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(bits >> (8 * (7 - i))); /* BINFLOAT is big-endian */
    }
    put_u8(p, 'G');
    put(p, b, 8);
}

void
mp_pickle_str(mp_pickle_t *p, const char *s, size_t len)
{
    if (len < 256) {
        put_u8(p, '\x8c'); /* SHORT_BINUNICODE */
        put_u8(p, (uint8_t)len);
    } else {
        put_u8(p, 'X'); /* BINUNICODE */
        put_le(p, len, 4);
    }
    put(p, s, len);
}

void
mp_pickle_cstr(mp_pickle_t *p, const char *s)
{
    mp_pickle_str(p, s, strlen(s));
}

void
mp_pickle_none(mp_pickle_t *p)
{
    put_u8(p, 'N');
}

void
mp_pickle_bool(mp_pickle_t *p, int v)
{
    put_u8(p, v ? '\x88' : '\x89');
}

void
mp_pickle_tuple(mp_pickle_t *p, unsigned n)
{
    static const char small[] = {MP_PICKLE_EMPTY_TUPLE, MP_PICKLE_TUPLE1, MP_PICKLE_TUPLE2,
                                 MP_PICKLE_TUPLE3};
    put_u8(p, (uint8_t)(n < 4 ? small[n] : MP_PICKLE_TUPLE));
}

uint32_t
mp_pickle_memoize(mp_pickle_t *p)
{
    put_u8(p, '\x94'); /* MEMOIZE */
    return p->memo++;
}

void
mp_pickle_get(mp_pickle_t *p, uint32_t index)
{
    if (index < 256) {
        put_u8(p, 'h'); /* BINGET */
        put_u8(p, (uint8_t)index);
    } else {
        put_u8(p, 'j'); /* LONG_BINGET */
        put_le(p, index, 4);
    }
}
