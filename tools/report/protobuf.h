/* A minimal Protocol Buffers encoder: what writing one known message type
 * (pprof's profile.proto) needs, without a code generator or a library.
 *
 * Wire format (protobuf.dev/programming-guides/encoding): a message is a
 * sequence of fields, each a tag (field number << 3 | wire type) as a
 * varint, then the value: a varint (wire type 0) for integers and bools,
 * or a varint length and that many bytes (wire type 2) for strings,
 * nested messages and packed repeated integers.
 *
 * Errors are sticky: once an allocation fails every later call does
 * nothing and proto_failed() says so, so that a message can be written
 * without checking each field. */
#ifndef MPROFILE_REPORT_PROTOBUF_H
#define MPROFILE_REPORT_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct proto_buf {
    uint8_t *data;
    size_t len, cap;
    int failed;
} proto_buf;

#define PROTO_WIRE_VARINT 0
#define PROTO_WIRE_LEN 2

/* A zeroed proto_buf is empty and ready; proto_free releases it. */
void proto_free(proto_buf *b);
/* Empties b, keeping its memory (for a scratch buffer reused per message). */
void proto_reset(proto_buf *b);
int proto_failed(const proto_buf *b);

/* Raw pieces: a base-128 varint, least significant group first; a tag. */
void proto_varint(proto_buf *b, uint64_t v);
void proto_tag(proto_buf *b, uint32_t field, unsigned wire_type);

/* Scalar fields.  proto3 leaves out a field equal to its default (0,
 * false), and readers take a missing field as the default, so these
 * write nothing for 0.  int64 is two's complement: a negative value takes
 * ten bytes (protobuf's int64, not the zigzag sint64). */
void proto_uint64(proto_buf *b, uint32_t field, uint64_t v);
void proto_int64(proto_buf *b, uint32_t field, int64_t v);
void proto_bool(proto_buf *b, uint32_t field, int v);
/* A length-delimited field, always written (an element of a repeated
 * string field may be empty): a string, bytes, or an encoded message. */
void proto_bytes(proto_buf *b, uint32_t field, const void *data, size_t len);
void proto_message(proto_buf *b, uint32_t field, const proto_buf *msg);
/* Packed repeated integers: one length-delimited field holding the
 * varints; nothing when n is 0. */
void proto_packed_uint64(proto_buf *b, uint32_t field, const uint64_t *v, size_t n);
void proto_packed_int64(proto_buf *b, uint32_t field, const int64_t *v, size_t n);

#endif
