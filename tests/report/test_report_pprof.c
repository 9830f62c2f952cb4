/* Unit tests of the pprof output: the protobuf encoder (byte sequences of
 * the protobuf encoding guide), the string table, the native metadata of
 * the snapshot model, and format_pprof's profile read back field by field
 * (go tool pprof reads it in the e2e test, e2e_pprof.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "format.h"
#include "pickle_builder.h"
#include "protobuf.h"
#include "strtab.h"

#define assert_bytes(buf, ...)                                                                 \
    do {                                                                                       \
        const uint8_t want_[] = {__VA_ARGS__};                                                 \
        assert_int_equal((buf)->len, sizeof want_);                                            \
        assert_memory_equal((buf)->data, want_, sizeof want_);                                 \
    } while (0)

static void test_pprof__varints(void **state)
{
    (void)state;
    proto_buf b = {0};
    proto_varint(&b, 0);
    assert_bytes(&b, 0x00);
    proto_reset(&b);
    proto_varint(&b, 1);
    proto_varint(&b, 127);
    proto_varint(&b, 128);
    proto_varint(&b, 300);
    assert_bytes(&b, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02);
    proto_reset(&b);
    proto_varint(&b, UINT64_MAX);
    assert_bytes(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    proto_free(&b);
}

static void test_pprof__scalar_fields(void **state)
{
    (void)state;
    proto_buf b = {0};
    proto_uint64(&b, 1, 150); /* the encoding guide's first example */
    assert_bytes(&b, 0x08, 0x96, 0x01);
    proto_reset(&b);
    /* proto3 defaults are left out. */
    proto_uint64(&b, 1, 0);
    proto_int64(&b, 2, 0);
    proto_bool(&b, 3, 0);
    assert_int_equal(b.len, 0);
    /* int64 -1: two's complement, ten bytes. */
    proto_int64(&b, 1, -1);
    assert_bytes(&b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    proto_reset(&b);
    proto_bool(&b, 7, 5);
    /* Field 16 needs a two-byte tag. */
    proto_uint64(&b, 16, 1);
    assert_bytes(&b, 0x38, 0x01, 0x80, 0x01, 0x01);
    proto_free(&b);
}

static void test_pprof__length_delimited(void **state)
{
    (void)state;
    proto_buf b = {0}, m = {0};
    proto_bytes(&b, 2, "testing", 7);
    assert_bytes(&b, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
    proto_reset(&b);
    proto_bytes(&b, 6, "", 0); /* string_table[0]: written although empty */
    assert_bytes(&b, 0x32, 0x00);
    proto_reset(&b);
    proto_uint64(&m, 1, 150);
    proto_message(&b, 3, &m);
    assert_bytes(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
    proto_reset(&b);
    const uint64_t u[] = {3, 270, 86942};
    proto_packed_uint64(&b, 4, u, 3);
    assert_bytes(&b, 0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
    proto_reset(&b);
    const int64_t s[] = {-1, 2};
    proto_packed_int64(&b, 2, s, 2);
    assert_bytes(&b, 0x12, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02);
    proto_reset(&b);
    proto_packed_uint64(&b, 4, u, 0);
    assert_int_equal(b.len, 0);
    /* A long string: its length is a two-byte varint. */
    char big[300];
    memset(big, 'x', sizeof big);
    proto_bytes(&b, 1, big, sizeof big);
    assert_int_equal(b.len, 3 + sizeof big);
    assert_memory_equal(b.data, ((uint8_t[]){0x0a, 0xac, 0x02}), 3);
    proto_free(&b);
    proto_free(&m);
}

static void test_pprof__errors_are_sticky(void **state)
{
    (void)state;
    proto_buf b = {0}, m = {0};
    m.failed = 1;
    proto_message(&b, 1, &m);
    assert_true(proto_failed(&b));
    proto_uint64(&b, 1, 1);
    proto_bytes(&b, 2, "x", 1);
    assert_int_equal(b.len, 0);
    proto_free(&b);
}

static void test_pprof__string_table(void **state)
{
    (void)state;
    strtab t = {0};
    assert_int_equal(strtab_add(&t, "", 0), 0);
    assert_int_equal(strtab_add(&t, "a", 1), 1);
    assert_int_equal(strtab_add(&t, "a\0b", 3), 2);
    assert_int_equal(strtab_add(&t, "a", 1), 1);
    assert_int_equal(strtab_add(&t, "", 0), 0);
    char key[16];
    for (int i = 0; i < 1000; i++) { /* past several rehashes */
        int n = snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(strtab_add(&t, key, (size_t)n), 3 + i);
    }
    assert_int_equal(strtab_add(&t, "k500", 4), 503);
    assert_int_equal(strtab_count(&t), 1003);
    size_t len;
    const char *s = strtab_get(&t, 2, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    strtab_free(&t);
}

/* ---- Snapshots with native metadata ------------------------------------ */

static const pb_frame N0[] = {{"<native> deflate (libz.so.1)", 0},
                              {"app.py", 4},
                              {"<native> main (python3)", 0}};
static const pb_frame N1[] = {{"<native> ??", 0}, {"app.py", 9}};
static const pb_frame N2[] = {{"lib.py", 0}};

/* native_objects: python3, a bad entry (kept as an index), libz.
 * native_frames: deflate at two offsets, main, ??, and bad entries. */
static void native_metadata(pb *b)
{
    pb_str(b, "stacks");
    pb_str(b, "mixed");
    pb_str(b, "native_objects");
    pb_op(b, ']');
    pb_op(b, '(');
    pb_op(b, '(');
    pb_str(b, "/usr/bin/python3");
    pb_str(b, "ab12");
    pb_int(b, 0x1000);
    pb_int(b, 0x9000);
    pb_op(b, 't');
    pb_op(b, '(');
    pb_str(b, "/bad");
    pb_none(b);
    pb_int(b, 10);
    pb_int(b, 5); /* end before start */
    pb_op(b, 't');
    pb_op(b, '(');
    pb_str(b, "/lib/libz.so.1");
    pb_none(b);
    pb_int(b, 0x2000);
    pb_int(b, 0x6000);
    pb_op(b, 't');
    pb_op(b, 'e');
    pb_str(b, "native_frames");
    pb_op(b, ']');
    pb_op(b, '(');
    const struct {
        const char *name;
        int64_t object, offset;
    } frames[] = {{"<native> deflate (libz.so.1)", 2, 0x2500},
                  {"<native> deflate (libz.so.1)", 2, 0x2400},
                  {"<native> main (python3)", 0, 0x1100},
                  {"<native> ??", -1, 0x7f0000001000},
                  {"<native> main (python3)", 0, -4}}; /* negative offset: left out */
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        pb_op(b, '(');
        pb_str(b, frames[i].name);
        if (frames[i].object < 0)
            pb_none(b);
        else
            pb_int(b, frames[i].object);
        pb_int(b, frames[i].offset);
        pb_op(b, 't');
    }
    pb_str(b, "not a tuple");
    pb_op(b, 'e');
    pb_str(b, "time");
    pb_float(b, 1764300000.25);
}

static void load_native(snapshot *s, intern *in, unsigned flags)
{
    pb_stack stacks[] = {{N0, 3}, {N1, 2}, {N2, 1}, {NULL, 0}};
    const int64_t sizes[] = {100, 50, 7, 30, 1};
    const size_t of[] = {0, 0, 1, 2, 3};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 4, NULL, sizes, of, 5);
    pb_snapshot_traces_done(&b, 10);
    native_metadata(&b);
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, flags, &err), 0);
    free(b.buf);
}

static void test_pprof__native_metadata(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_native(&s, in, 0);
    assert_int_equal(s.nnative_objects, 3);
    assert_non_null(snapshot_native_object(&s, 0));
    assert_null(snapshot_native_object(&s, 1));
    assert_null(snapshot_native_object(&s, 3));
    assert_null(snapshot_native_object(&s, -1));
    const native_object *o = snapshot_native_object(&s, 0);
    assert_string_equal(o->path, "/usr/bin/python3");
    assert_string_equal(o->build_id, "ab12");
    assert_int_equal(o->start, 0x1000);
    assert_int_equal(o->end, 0x9000);
    assert_null(snapshot_native_object(&s, 2)->build_id);
    assert_int_equal(s.nnative_addresses, 4);
    int32_t deflate = intern_file(in, "<native> deflate (libz.so.1)", 28);
    const native_address *a = snapshot_native_address(&s, deflate);
    assert_non_null(a);
    assert_int_equal(a->offset, 0x2400); /* the lowest of its two */
    assert_int_equal(a->object, 2);
    a = snapshot_native_address(&s, intern_file(in, "<native> ??", 11));
    assert_int_equal(a->object, -1);
    assert_null(snapshot_native_address(&s, intern_file(in, "app.py", 6)));
    /* Lists are not metadata. */
    assert_null(snapshot_meta(&s, "native_objects"));
    snapshot_free(&s);
    intern_free(in);
}

/* ---- The profile, read back -------------------------------------------- */

typedef struct field {
    uint32_t number;
    uint64_t value;      /* varint */
    const uint8_t *data; /* length-delimited */
    size_t len;
} field;

static uint64_t read_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    fail_msg("truncated varint");
    return 0;
}

/* The fields of a message, in order; *n of them. */
static field *fields(const uint8_t *data, size_t len, size_t *n)
{
    field *f = NULL;
    const uint8_t *p = data, *end = data + len;
    *n = 0;
    while (p < end) {
        uint64_t tag = read_varint(&p, end);
        f = realloc(f, (*n + 1) * sizeof *f);
        field *x = &f[(*n)++];
        *x = (field){.number = (uint32_t)(tag >> 3)};
        if ((tag & 7) == 0) {
            x->value = read_varint(&p, end);
        } else {
            assert_int_equal(tag & 7, 2);
            x->len = read_varint(&p, end);
            assert_true(x->len <= (size_t)(end - p));
            x->data = p;
            p += x->len;
        }
    }
    return f;
}

static uint64_t field_value(const field *f, size_t n, uint32_t number)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].number == number)
            return f[i].value;
    return 0;
}

/* The profile format_pprof writes for s, gunzipped. */
static uint8_t *profile_of(const snapshot *s, intern *in, const agg_opts *o, size_t *len)
{
    char *gz = NULL;
    size_t gzlen = 0;
    FILE *f = open_memstream(&gz, &gzlen);
    report rep = {.in = in, .snap = s, .opts = o};
    assert_int_equal(format_pprof(f, &rep), 0);
    fclose(f);
    size_t cap = 1 << 20;
    uint8_t *out = malloc(cap);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gzlen;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    *len = cap - z.avail_out;
    inflateEnd(&z);
    free(gz);
    return out;
}

/* Field numbers of profile.proto (checked here against the spec, not
 * against format_pprof.c's names). */
enum { P_SAMPLE_TYPE = 1, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION, P_STRING_TABLE };

static void test_pprof__profile(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_native(&s, in, 0);
    agg_opts o = {0};
    size_t len, n;
    uint8_t *data = profile_of(&s, in, &o, &len);
    field *f = fields(data, len, &n);
    /* Counted per field number; string table kept in order. */
    size_t count[16] = {0}, nstrings = 0;
    const field *strings[64] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(f[i].number < 16);
        count[f[i].number]++;
        if (f[i].number == P_STRING_TABLE && nstrings < 64)
            strings[nstrings++] = &f[i];
    }
    assert_int_equal(count[P_SAMPLE_TYPE], 2);
    assert_int_equal(count[P_SAMPLE], 4); /* one per distinct stack, the empty one included */
    assert_int_equal(count[P_MAPPING], 2); /* the bad object has none */
    /* Locations: deflate, app.py:4, main, ??, app.py:9, lib.py:0, <unknown>. */
    assert_int_equal(count[P_LOCATION], 7);
    assert_true(nstrings > 0);
    assert_int_equal(strings[0]->len, 0);
    assert_int_equal(field_value(f, n, 9), 1764300000250000000);
    assert_int_equal(field_value(f, n, 12), 1); /* period: exact */
    /* Ids 1, 2, ... in order; every sample has two values; locations name a function. */
    uint64_t next[16] = {0, 0, 0, 1, 1, 1};
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        field *sub = f[i].number <= P_FUNCTION ? fields(f[i].data, f[i].len, &m) : NULL;
        if (f[i].number >= P_MAPPING && f[i].number <= P_FUNCTION)
            assert_int_equal(field_value(sub, m, 1), next[f[i].number]++);
        if (f[i].number == P_FUNCTION) /* no system_name: names are final (format_pprof.c) */
            for (size_t k = 0; k < m; k++)
                assert_int_not_equal(sub[k].number, 3);
        if (f[i].number == P_SAMPLE) {
            assert_int_equal(sub[1].number, 2); /* packed: two varints */
            const uint8_t *p = sub[1].data;
            uint64_t count_value = read_varint(&p, p + sub[1].len);
            uint64_t size_value = read_varint(&p, sub[1].data + sub[1].len);
            assert_true(p == sub[1].data + sub[1].len);
            assert_true(count_value >= 1 && size_value >= 1);
        }
        if (f[i].number == P_LOCATION) {
            uint64_t id = field_value(sub, m, 1), mapping = field_value(sub, m, 2),
                     address = field_value(sub, m, 3);
            if (id == 1) { /* deflate: libz's mapping (id 2), its lowest offset */
                assert_int_equal(mapping, 2);
                assert_int_equal(address, 0x2400);
            }
            if (id == 4) { /* ??: no mapping, its address */
                assert_int_equal(mapping, 0);
                assert_int_equal(address, 0x7f0000001000);
            }
            if (id == 2) /* a Python frame: no mapping, no address */
                assert_int_equal(mapping + address, 0);
        }
        free(sub);
    }
    free(f);
    free(data);
    snapshot_free(&s);
    intern_free(in);
}

static void test_pprof__python_only_has_no_mappings(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_native(&s, in, SNAPSHOT_PYTHON_ONLY);
    agg_opts o = {0};
    size_t len, n, mappings = 0;
    uint8_t *data = profile_of(&s, in, &o, &len);
    field *f = fields(data, len, &n);
    for (size_t i = 0; i < n; i++)
        mappings += f[i].number == P_MAPPING;
    assert_int_equal(mappings, 0);
    free(f);
    free(data);
    snapshot_free(&s);
    intern_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pprof__varints),
        cmocka_unit_test(test_pprof__scalar_fields),
        cmocka_unit_test(test_pprof__length_delimited),
        cmocka_unit_test(test_pprof__errors_are_sticky),
        cmocka_unit_test(test_pprof__string_table),
        cmocka_unit_test(test_pprof__native_metadata),
        cmocka_unit_test(test_pprof__profile),
        cmocka_unit_test(test_pprof__python_only_has_no_mappings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
