#include "protobuf.h"

#include <stdlib.h>
#include <string.h>

void proto_free(proto_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void proto_reset(proto_buf *b)
{
    b->len = 0;
}

int proto_failed(const proto_buf *b)
{
    return b->failed;
}

/* Room for n more bytes; 0, or -1 (and b failed) when out of memory. */
static int reserve(proto_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n <= b->cap - b->len)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

/* At most ten bytes: 64 bits in groups of seven. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void proto_varint(proto_buf *b, uint64_t v)
{
    if (reserve(b, 10) < 0)
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

void proto_tag(proto_buf *b, uint32_t field, unsigned wire_type)
{
    proto_varint(b, (uint64_t)field << 3 | wire_type);
}

void proto_uint64(proto_buf *b, uint32_t field, uint64_t v)
{
    if (!v)
        return;
    proto_tag(b, field, PROTO_WIRE_VARINT);
    proto_varint(b, v);
}

void proto_int64(proto_buf *b, uint32_t field, int64_t v)
{
    proto_uint64(b, field, (uint64_t)v);
}

void proto_bool(proto_buf *b, uint32_t field, int v)
{
    proto_uint64(b, field, v ? 1 : 0);
}

void proto_bytes(proto_buf *b, uint32_t field, const void *data, size_t len)
{
    proto_tag(b, field, PROTO_WIRE_LEN);
    proto_varint(b, len);
    if (len && reserve(b, len) == 0) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
}

void proto_message(proto_buf *b, uint32_t field, const proto_buf *msg)
{
    if (msg->failed) {
        b->failed = 1;
        return;
    }
    proto_bytes(b, field, msg->data, msg->len);
}

void proto_packed_uint64(proto_buf *b, uint32_t field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += varint_len(v[i]);
    proto_tag(b, field, PROTO_WIRE_LEN);
    proto_varint(b, len);
    if (reserve(b, len) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        proto_varint(b, v[i]);
}

void proto_packed_int64(proto_buf *b, uint32_t field, const int64_t *v, size_t n)
{
    /* Same varints as their two's complement uint64 (C allows reading an
     * int64_t through its unsigned type). */
    proto_packed_uint64(b, field, (const uint64_t *)v, n);
}
