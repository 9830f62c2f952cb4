/* Unit tests of the strict pickle reader. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pickle_builder.h"
#include "pickle_reader.h"

static int parse(const void *data, size_t len, pickle_doc **doc, pickle_error *err)
{
    return pickle_read(data, len, 0, doc, err);
}

static void expect_error(const char *data, size_t len, size_t offset, const char *needle)
{
    pickle_doc *doc = (pickle_doc *)1;
    pickle_error err;
    assert_int_equal(parse(data, len, &doc, &err), -1);
    assert_null(doc);
    if (offset != SIZE_MAX)
        assert_int_equal(err.offset, offset);
    if (!strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_pickle__reads_scalars_in_a_tuple(void **state)
{
    (void)state;
    /* (1, 300, -2, 2**40, -1, 1.5, 'hé', None, True) */
    static const char p[] = "\x80\x04("
                            "K\x01" "M\x2c\x01" "J\xfe\xff\xff\xff"
                            "\x8a\x06\x00\x00\x00\x00\x00\x01" "\x8a\x01\xff"
                            "G\x3f\xf8\x00\x00\x00\x00\x00\x00"
                            "\x8c\x03h\xc3\xa9" "N" "\x88" "t.";
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(p, sizeof p - 1, &doc, &err), 0);
    const pv *root = pickle_doc_root(doc);
    assert_int_equal(root->kind, PV_TUPLE);
    assert_int_equal(pv_seq_len(root), 9);
    pv it[9];
    for (int i = 0; i < 9; i++)
        it[i] = pv_seq_get(root, (size_t)i);
    assert_int_equal(it[0].u.i, 1);
    assert_int_equal(it[1].u.i, 300);
    assert_int_equal(it[2].u.i, -2);
    assert_int_equal(it[3].u.i, (int64_t)1 << 40);
    assert_int_equal(it[4].u.i, -1);
    assert_true(it[5].kind == PV_FLOAT && it[5].u.f == 1.5);
    assert_int_equal(it[6].kind, PV_STR);
    assert_int_equal(it[6].len, 3);
    assert_memory_equal(it[6].u.s, "h\xc3\xa9", 3);
    assert_int_equal(it[7].kind, PV_NONE);
    assert_true(it[8].kind == PV_BOOL && it[8].u.i == 1);
    pickle_doc_free(doc);
}

static void test_pickle__memoized_tuples_are_shared(void **state)
{
    (void)state;
    pb b = {0};
    pb_frame f[] = {{"a.py", 1}, {"b.py", 2}};
    pb_stack st = {f, 2};
    int64_t sizes[] = {10, 20, 30};
    size_t of[] = {0, 0, 0};
    pb_snapshot(&b, &st, 1, sizes, of, 3, 0);
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(b.buf, b.len, &doc, &err), 0);
    const pv *root = pickle_doc_root(doc);
    assert_int_equal(root->kind, PV_OBJECT);
    assert_int_equal(root->u.o->cls, PV_CLASS_SNAPSHOT);
    pv traces, list;
    assert_true(pv_dict_get(&root->u.o->state, "traces", &traces));
    assert_int_equal(traces.u.o->cls, PV_CLASS_TRACES);
    assert_true(pv_dict_get(&traces.u.o->state, "_traces", &list));
    assert_int_equal(pv_seq_len(&list), 3);
    pv it[3] = {pv_seq_get(&list, 0), pv_seq_get(&list, 1), pv_seq_get(&list, 2)};
    assert_int_equal(it[0].kind, PV_TRACE);
    assert_int_equal(it[2].u.tr->size, 30);
    assert_int_equal(pv_trace_frames(it[1].u.tr)->len, 2);
    /* BINGET gives the very same tuple, not a copy. */
    assert_ptr_equal(pv_trace_frames(it[0].u.tr), pv_trace_frames(it[1].u.tr));
    assert_ptr_equal(pv_trace_frames(it[0].u.tr), pv_trace_frames(it[2].u.tr));
    pickle_doc_free(doc);
    free(b.buf);
}

/* The traces of a snapshot pickle, parsed, in *doc. */
static pv trace_list(const pb *b, pickle_doc **doc)
{
    pickle_error err;
    if (parse(b->buf, b->len, doc, &err) != 0)
        fail_msg("offset %zu: %s", err.offset, err.message);
    pv traces, list;
    assert_true(pv_dict_get(&pickle_doc_root(*doc)->u.o->state, "traces", &traces));
    assert_true(pv_dict_get(&traces.u.o->state, "_traces", &list));
    return list;
}

enum { ENC_PB_INT, ENC_PYTHON_LONG1 };

static void test_pickle__keeps_every_domain_as_pickled(void **state)
{
    (void)state;
    /* Python pickles 0..255 as BININT1, to 65535 as BININT2, below 2**31
     * as BININT and 2**31 .. 2**32-1 as LONG1 of 5 bytes; libmprofile's
     * mp_pickle_uint the same but LONG1 of 8 bytes (as pb_int). */
    static const struct {
        int64_t domain;
        int enc;
    } cases[] = {
        {0, ENC_PB_INT}, {1, ENC_PB_INT}, {255, ENC_PB_INT}, {256, ENC_PB_INT},
        {65535, ENC_PB_INT}, {65536, ENC_PB_INT}, {389047, ENC_PB_INT},
        {0x4D504E41, ENC_PB_INT}, {INT32_MAX, ENC_PB_INT},
        {(int64_t)1 << 31, ENC_PYTHON_LONG1}, {UINT32_MAX, ENC_PYTHON_LONG1},
        {(int64_t)1 << 31, ENC_PB_INT}, {UINT32_MAX, ENC_PB_INT}, {UINT32_MAX - 1, ENC_PB_INT},
        {-1, ENC_PB_INT}, {INT64_MAX, ENC_PYTHON_LONG1},
    };
    size_t nc = sizeof cases / sizeof cases[0];
    pb b = {0};
    pb_frame f[] = {{"a.py", 1}};
    pb_stack st = {f, 1};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    /* Twice over: the second round takes the reader's fast path for the
     * domains BININT can hold (the stack is memoized by then). */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < nc; i++) {
            pb_op(&b, '(');
            if (cases[i].enc == ENC_PYTHON_LONG1)
                pb_long1_min(&b, cases[i].domain);
            else
                pb_int(&b, cases[i].domain);
            pb_int(&b, (int64_t)i);
            pb_frames(&b, &st, &memo, 1);
            pb_int(&b, 1);
            pb_op(&b, 't');
            pb_memoize(&b);
        }
    }
    pb_snapshot_traces_done(&b, 1);
    pb_snapshot_end(&b);
    /* The encodings really are Python's: 2**31 as LONG1 of 5 bytes. */
    assert_non_null(memmem(b.buf, b.len, "\x8a\x05\x00\x00\x00\x80\x00", 7));
    assert_non_null(memmem(b.buf, b.len, "\x8a\x05\xff\xff\xff\xff\x00", 7));
    pickle_doc *doc;
    pv list = trace_list(&b, &doc);
    assert_int_equal(pv_seq_len(&list), 2 * nc);
    for (size_t i = 0; i < 2 * nc; i++) {
        pv t = pv_seq_get(&list, i);
        assert_int_equal(t.kind, PV_TRACE);
        assert_int_equal(t.u.tr->size, (int64_t)(i % nc));
        assert_true(pv_trace_domain(doc, t.u.tr) == cases[i % nc].domain);
        assert_int_equal(pv_trace_frames(t.u.tr)->len, 1);
    }
    pickle_doc_free(doc);
    free(b.buf);
}

static void test_pickle__more_domains_than_the_compact_table(void **state)
{
    (void)state;
    /* 40 distinct domains, interleaved: the first 15 get a code in the
     * compact trace, the others the extended form. */
    pb b = {0};
    pb_frame f[] = {{"a.py", 1}, {"b.py", 2}};
    pb_stack st = {f, 2};
    uint32_t memo = UINT32_MAX;
    size_t n = 400;
    pb_snapshot_begin(&b);
    for (size_t i = 0; i < n; i++)
        pb_trace_domain(&b, (int64_t)((i * 7) % 40) * 100003, (int64_t)i, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 2);
    pb_snapshot_end(&b);
    pickle_doc *doc;
    pv list = trace_list(&b, &doc);
    assert_int_equal(pv_seq_len(&list), n);
    struct pv_tuple *frames = pv_trace_frames(pv_seq_get(&list, 0).u.tr);
    for (size_t i = 0; i < n; i++) {
        pv t = pv_seq_get(&list, i);
        assert_true(pv_trace_domain(doc, t.u.tr) == (int64_t)((i * 7) % 40) * 100003);
        assert_int_equal(t.u.tr->size, (int64_t)i);
        assert_ptr_equal(pv_trace_frames(t.u.tr), frames);
    }
    pickle_doc_free(doc);
    free(b.buf);
}

static void test_pickle__protocol2_global_and_long_forms(void **state)
{
    (void)state;
    pb b = {0};
    static const char head[] = "\x80\x02" "ctracemalloc\nSnapshot\n" "q\x00" ")\x81" "r\x01\x00\x00\x00"
                               "}(X\x06\x00\x00\x00traces" "]" ")" "a" "u" "b.";
    pb_bytes(&b, head, sizeof head - 1);
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(b.buf, b.len, &doc, &err), 0);
    pv traces;
    assert_true(pv_dict_get(&pickle_doc_root(doc)->u.o->state, "traces", &traces));
    assert_int_equal(traces.kind, PV_LIST);
    assert_int_equal(pv_seq_len(&traces), 1);
    pickle_doc_free(doc);
    free(b.buf);
}

static void test_pickle__list_dict_and_pop_opcodes(void **state)
{
    (void)state;
    /* ( K1 K2 l  -> [1, 2];  ( 'k' K3 d -> {'k': 3}; '(' N 1 -> pop mark;
     * K9 0 -> pop; tuple2 of both */
    static const char p[] = "\x80\x05\x95\x15\x00\x00\x00\x00\x00\x00\x00"
                            "(K\x01K\x02l" "(\x8c\x01kK\x03" "d" "(N1" "K\x09" "0" "\x86.";
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(p, sizeof p - 1, &doc, &err), 0);
    const pv *root = pickle_doc_root(doc);
    assert_int_equal(pv_seq_len(root), 2);
    pv it[2] = {pv_seq_get(root, 0), pv_seq_get(root, 1)};
    assert_int_equal(it[0].kind, PV_LIST);
    assert_int_equal(pv_seq_get(&it[0], 1).u.i, 2);
    pv v;
    assert_true(pv_dict_get(&it[1], "k", &v));
    assert_int_equal(v.u.i, 3);
    assert_false(pv_dict_get(&it[1], "x", &v));
    pickle_doc_free(doc);
}

/* libmprofile's timeline: a list of (float, int, int, int) tuples, with
 * bools, None and floats directly in lists too. */
static void test_pickle__floats_bools_none_in_tuples_in_lists(void **state)
{
    (void)state;
    pb b = {0};
    pb_op(&b, 0x80);
    pb_op(&b, 4);
    pb_op(&b, '}');
    pb_str(&b, "timeline");
    static const pb_point pts[] = {{1796018928.25, 94878, 94878, 5156864},
                                   {1796018929.5, 3LL << 40, 3LL << 40, 1}};
    pb_timeline(&b, pts, 2);
    pb_op(&b, 's');
    pb_str(&b, "flags");
    pb_op(&b, ']');
    pb_op(&b, '(');
    pb_bool(&b, 1);
    pb_bool(&b, 0);
    pb_none(&b);
    pb_float(&b, -0.5);
    pb_op(&b, 'e');
    pb_op(&b, 's');
    pb_op(&b, '.');
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(b.buf, b.len, &doc, &err), 0);
    const pv *root = pickle_doc_root(doc);
    pv tl, flags;
    assert_true(pv_dict_get(root, "timeline", &tl));
    assert_int_equal(tl.kind, PV_LIST);
    assert_int_equal(pv_seq_len(&tl), 2);
    for (size_t i = 0; i < 2; i++) {
        pv pt = pv_seq_get(&tl, i);
        assert_int_equal(pt.kind, PV_TUPLE);
        assert_int_equal(pv_seq_len(&pt), 4);
        pv t = pv_seq_get(&pt, 0), live = pv_seq_get(&pt, 1), rss = pv_seq_get(&pt, 3);
        assert_true(t.kind == PV_FLOAT && t.u.f == pts[i].time);
        assert_true(live.kind == PV_INT && live.u.i == pts[i].live);
        assert_true(rss.kind == PV_INT && rss.u.i == pts[i].rss);
    }
    assert_true(pv_dict_get(root, "flags", &flags));
    assert_int_equal(pv_seq_len(&flags), 4);
    pv f[4];
    for (size_t i = 0; i < 4; i++)
        f[i] = pv_seq_get(&flags, i);
    assert_true(f[0].kind == PV_BOOL && f[0].u.i == 1);
    assert_true(f[1].kind == PV_BOOL && f[1].u.i == 0);
    assert_int_equal(f[2].kind, PV_NONE);
    assert_true(f[3].kind == PV_FLOAT && f[3].u.f == -0.5);
    pickle_doc_free(doc);
    free(b.buf);
}

static void test_pickle__rejects_empty_and_truncated(void **state)
{
    (void)state;
    expect_error("", 0, 0, "empty");
    expect_error("\x80\x04", 2, 2, "truncated");
    expect_error("\x80\x04\x8c\x05" "ab", 5, 2, "exceeds");
    expect_error("\x80\x04J\x01\x02", 5, 2, "truncated");
    expect_error("\x80\x04X\xff\xff\xff\xff", 7, 2, "exceeds");
    expect_error("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff", 11, 2, "exceeds");
    expect_error("\x80\x04\x8b\xff\xff\xff\x7f", 7, 2, "exceeds");
}

static void test_pickle__rejects_unknown_opcodes_and_globals(void **state)
{
    (void)state;
    expect_error("\x80\x04R", 3, 2, "unsupported pickle opcode 0x52");
    expect_error("\x80\x09N.", 4, 0, "protocol");
    expect_error("\x80\x02" "cos\nsystem\n" ".", 14, 2, "refusing global os.system");
    expect_error("\x80\x04\x8c\x0btracemalloc\x8c\x05Trace\x93.", 24, 22, "refusing global");
    expect_error("\x80\x04" "ctracemalloc\nSnapshot\n" "K\x01\x85\x81.", 29, 27, "NEWOBJ with arguments");
    expect_error("\x80\x04K\x01)\x81.", 7, 5, "not an allowed class");
}

static void test_pickle__rejects_bad_stack_use(void **state)
{
    (void)state;
    expect_error("\x80\x04t.", 4, 2, "no MARK");
    expect_error("\x80\x04\x86.", 4, 2, "underflow");
    expect_error("\x80\x04(K\x01.", 6, 5, "open MARK");
    expect_error("\x80\x04K\x01K\x02.", 7, 6, "2 values");
    expect_error("\x80\x04K\x01K\x02" "a.", 8, 6, "non-list");
    expect_error("\x80\x04}K\x01s.", 6, 5, "underflow");
    expect_error("\x80\x04\x94.", 4, 2, "empty stack");
    expect_error("\x80\x04h\x03.", 5, 2, "never stored");
    expect_error("\x80\x04N.N", 5, 4, "trailing");
    expect_error("\x80\x04N\x8c\x02\xff\xfe\x86.", 9, 3, "UTF-8");
    expect_error("\x80\x04)\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", 15, 3, "64 bits");
    expect_error("\x80\x04}K\x01" "b.", 6, 5, "not a tracemalloc object");
}

static void test_pickle__caps_nesting_and_memo(void **state)
{
    (void)state;
    char deep[300];
    memset(deep, '(', sizeof deep);
    deep[0] = (char)0x80;
    deep[1] = 4;
    expect_error(deep, sizeof deep, SIZE_MAX, "nesting deeper");
    expect_error("\x80\x04Nr\xff\xff\xff\x7f.", 9, 3, "memo index");
}

static void test_pickle__memory_stays_within_budget(void **state)
{
    (void)state;
    /* 10000 x "h\x00" (BINGET of an empty list) then a huge LIST: each
     * 2-byte opcode pushes 16 bytes, well within the budget... */
    size_t n = 10000;
    pb b = {0};
    pb_op(&b, 0x80);
    pb_op(&b, 4);
    pb_op(&b, '(');
    pb_op(&b, ']');
    pb_memoize(&b);
    for (size_t i = 0; i < n; i++)
        pb_get(&b, 0);
    pb_op(&b, 'l');
    pb_op(&b, '.');
    pickle_doc *doc;
    pickle_error err;
    assert_int_equal(parse(b.buf, b.len, &doc, &err), 0);
    assert_int_equal(pv_seq_len(pickle_doc_root(doc)), n + 1);
    pickle_doc_free(doc);
    free(b.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickle__reads_scalars_in_a_tuple),
        cmocka_unit_test(test_pickle__floats_bools_none_in_tuples_in_lists),
        cmocka_unit_test(test_pickle__memoized_tuples_are_shared),
        cmocka_unit_test(test_pickle__keeps_every_domain_as_pickled),
        cmocka_unit_test(test_pickle__more_domains_than_the_compact_table),
        cmocka_unit_test(test_pickle__protocol2_global_and_long_forms),
        cmocka_unit_test(test_pickle__list_dict_and_pop_opcodes),
        cmocka_unit_test(test_pickle__rejects_empty_and_truncated),
        cmocka_unit_test(test_pickle__rejects_unknown_opcodes_and_globals),
        cmocka_unit_test(test_pickle__rejects_bad_stack_use),
        cmocka_unit_test(test_pickle__caps_nesting_and_memo),
        cmocka_unit_test(test_pickle__memory_stays_within_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
