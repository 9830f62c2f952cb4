/* Unit tests of the snapshot model: traces reduced to per-stack sums. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pickle_builder.h"
#include "sampling.h"
#include "snapshot_model.h"

static const pb_frame F1[] = {{"a.py", 10}, {"main.py", 1}};
static const pb_frame F2[] = {{"b.py", 20}, {"main.py", 2}};
static const pb_frame F3[] = {{"a.py", 10}, {"main.py", 1}}; /* same content as F1 */

static void test_model__sums_per_stack_and_interns_by_content(void **state)
{
    (void)state;
    pb_stack stacks[] = {{F1, 2}, {F2, 2}, {F3, 2}};
    int64_t sizes[] = {100, 50, 7, 3};
    size_t of[] = {0, 1, 0, 2};
    pb b = {0};
    pb_snapshot(&b, stacks, 3, sizes, of, 4, 0);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ntraces, 4);
    assert_int_equal(intern_nstacks(in), 2); /* F3 is F1 by content */
    assert_int_equal(intern_nfiles(in), 3);
    assert_int_equal(s.acc[0].size, 110);
    assert_int_equal(s.acc[0].traces, 3);
    assert_true(s.acc[0].count == 3.0);
    assert_int_equal(s.acc[1].size, 50);
    assert_true(s.acc[1].var == 0.0);
    assert_int_equal(s.traceback_limit, 10);
    assert_false(snapshot_is_sampled(&s));
    int64_t total;
    double count, var;
    snapshot_totals(&s, &total, &count, &var);
    assert_int_equal(total, 160);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__reads_metadata_and_ignores_unknown_keys(void **state)
{
    (void)state;
    pb_stack st = {F1, 2};
    pb b = {0};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, 40, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_str(&b, "pid");
    pb_int(&b, 4242);
    pb_str(&b, "python_version");
    pb_str(&b, "3.11.2");
    pb_str(&b, "time");
    static const char t[] = "G\x41\xd9\x00\x00\x00\x00\x00\x00"; /* 1677721600.0 */
    pb_bytes(&b, t, 9);
    pb_str(&b, "future_list");
    pb_op(&b, ']');
    pb_str(&b, "future_flag");
    pb_op(&b, 0x88);
    pb_snapshot_end(&b);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(snapshot_meta(&s, "pid")->i, 4242);
    assert_string_equal(snapshot_meta(&s, "python_version")->s, "3.11.2");
    assert_true(snapshot_meta(&s, "time")->f == 1677721600.0);
    assert_int_equal(snapshot_meta(&s, "future_flag")->kind, META_BOOL);
    assert_null(snapshot_meta(&s, "future_list"));
    assert_null(snapshot_meta(&s, "traces"));
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__sampled_counts_and_variance(void **state)
{
    (void)state;
    double rate = 1000;
    int64_t w_small = llround(sampling_weight(10, rate));   /* ~R */
    int64_t w_big = llround(sampling_weight(100000, rate)); /* ~s */
    pb_stack stacks[] = {{F1, 2}, {F2, 2}};
    int64_t sizes[] = {w_small, w_small, w_big};
    size_t of[] = {0, 0, 1};
    pb b = {0};
    pb_snapshot(&b, stacks, 2, sizes, of, 3, 1000);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_true(snapshot_is_sampled(&s));
    double p10 = sampling_probability(sampling_size_from_weight(w_small, rate), rate);
    assert_true(fabs(s.acc[0].count - 2 / p10) < 1e-6);
    assert_true(fabs(s.acc[0].var - 2 * (double)w_small * (double)w_small * (1 - p10)) < 1e-3);
    assert_true(fabs(s.acc[1].count - 1.0) < 1e-9);
    assert_true(s.acc[1].var < 1e-6);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void domain_sum_is(const snapshot *s, size_t d, int64_t domain, int64_t size, int64_t traces)
{
    assert_true(s->domains[d].domain == domain);
    assert_int_equal(s->domains[d].sum.size, size);
    assert_int_equal(s->domains[d].sum.traces, traces);
}

/* Sums of stack st in domain index d, from the per-domain entries. */
static const stack_acc *entry_of(const snapshot *s, size_t d, int32_t st)
{
    for (size_t i = 0; i < snapshot_domain_nentries(s, d); i++) {
        int32_t id;
        const stack_acc *a = snapshot_domain_entry(s, d, i, &id);
        if (id == st && a->traces)
            return a;
    }
    return NULL;
}

static void test_model__single_domain_keeps_per_stack_sums_only(void **state)
{
    (void)state;
    pb_stack stacks[] = {{F1, 2}, {F2, 2}};
    int64_t sizes[] = {100, 50, 7};
    size_t of[] = {0, 1, 0};
    pb b = {0};
    pb_snapshot(&b, stacks, 2, sizes, of, 3, 0);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ndomains, 1);
    domain_sum_is(&s, 0, 0, 157, 3);
    assert_null(s.sd);
    assert_false(snapshot_has_domains(&s));
    assert_int_equal(entry_of(&s, 0, 0)->size, 107);
    snapshot_free(&s);
    free(b.buf);

    /* One domain that is not python: still one array, but "has domains". */
    int64_t native[] = {0x4D504E41, 0x4D504E41, 0x4D504E41};
    b = (pb){0};
    pb_snapshot_domains(&b, stacks, 2, native, sizes, of, 3, 0);
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ndomains, 1);
    domain_sum_is(&s, 0, 0x4D504E41, 157, 3);
    assert_true(snapshot_has_domains(&s));
    snapshot_free(&s);
    free(b.buf);

    /* No traces, no domains. */
    b = (pb){0};
    pb_snapshot(&b, stacks, 2, sizes, of, 0, 0);
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ndomains, 0);
    assert_false(snapshot_has_domains(&s));
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__sums_per_domain_and_stack(void **state)
{
    (void)state;
    /* The second domain shows up after a few traces of the first, and
     * domains come back in any order; domains sort numerically. */
    pb_stack stacks[] = {{F1, 2}, {F2, 2}};
    int64_t doms[] = {0, 0, 389047, 0x4D504E41, 0, 389047, 4294967295, 0x4D504E41};
    int64_t sizes[] = {1, 2, 40, 300, 4, 80, 5000, 600};
    size_t of[] = {0, 1, 0, 1, 0, 0, 1, 0};
    pb b = {0};
    pb_snapshot_domains(&b, stacks, 2, doms, sizes, of, 8, 0);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ntraces, 8);
    assert_int_equal(s.ndomains, 4);
    domain_sum_is(&s, 0, 0, 7, 3);
    domain_sum_is(&s, 1, 389047, 120, 2);
    domain_sum_is(&s, 2, 0x4D504E41, 900, 2);
    domain_sum_is(&s, 3, 4294967295, 5000, 1);
    assert_true(snapshot_has_domains(&s));
    /* Per stack over every domain, as before. */
    assert_int_equal(s.acc[0].size, 1 + 40 + 4 + 80 + 600);
    assert_int_equal(s.acc[1].size, 2 + 300 + 5000);
    /* Per (domain, stack). */
    assert_int_equal(entry_of(&s, 0, 0)->size, 5);
    assert_int_equal(entry_of(&s, 0, 1)->size, 2);
    assert_int_equal(entry_of(&s, 1, 0)->size, 120);
    assert_null(entry_of(&s, 1, 1));
    assert_int_equal(entry_of(&s, 2, 0)->size, 600);
    assert_int_equal(entry_of(&s, 2, 1)->size, 300);
    assert_int_equal(entry_of(&s, 3, 1)->traces, 1);
    assert_int_equal(snapshot_domain_nentries(&s, 3), 1);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__sampled_sums_per_domain(void **state)
{
    (void)state;
    double rate = 1000;
    int64_t w = llround(sampling_weight(10, rate));
    pb_stack stacks[] = {{F1, 2}};
    int64_t doms[] = {0, 0x4D504E41, 0x4D504E41};
    int64_t sizes[] = {w, w, w};
    size_t of[] = {0, 0, 0};
    pb b = {0};
    pb_snapshot_domains(&b, stacks, 1, doms, sizes, of, 3, 1000);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    double p = sampling_probability(sampling_size_from_weight(w, rate), rate);
    assert_true(fabs(s.domains[0].sum.count - 1 / p) < 1e-6);
    assert_true(fabs(s.domains[1].sum.count - 2 / p) < 1e-6);
    assert_true(fabs(s.domains[1].sum.var - 2 * (double)w * (double)w * (1 - p)) < 1e-3);
    assert_true(fabs(s.acc[0].count - 3 / p) < 1e-6);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__many_domains_many_stacks(void **state)
{
    (void)state;
    /* 50 domains x 30 stacks, each pair hit several times: more domains
     * than the reader's compact codes, hash tables growing. */
    enum { ND = 50, NS = 30, N = 6000 };
    static pb_frame frames[NS][1];
    static char names[NS][16];
    pb_stack stacks[NS];
    for (int i = 0; i < NS; i++) {
        snprintf(names[i], sizeof names[i], "f%d.py", i);
        frames[i][0] = (pb_frame){names[i], i + 1};
        stacks[i] = (pb_stack){frames[i], 1};
    }
    static int64_t doms[N], sizes[N];
    static size_t of[N];
    for (size_t i = 0; i < N; i++) {
        doms[i] = (int64_t)(ND - 1 - (i * 13) % ND) * 1000;
        of[i] = (i * 7) % NS;
        sizes[i] = (int64_t)(i % 5) + 1;
    }
    pb b = {0};
    pb_snapshot_domains(&b, stacks, NS, doms, sizes, of, N, 0);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.ndomains, ND);
    int64_t want[ND][NS] = {{0}}, total = 0, got = 0;
    for (size_t i = 0; i < N; i++)
        want[doms[i] / 1000][of[i]] += sizes[i];
    for (size_t d = 0; d < ND; d++) {
        assert_true(s.domains[d].domain == (int64_t)d * 1000);
        int32_t prev = -1;
        for (size_t k = 0; k < snapshot_domain_nentries(&s, d); k++) {
            int32_t st;
            const stack_acc *a = snapshot_domain_entry(&s, d, k, &st);
            assert_true(st > prev); /* sorted by stack within a domain */
            prev = st;
            size_t nf;
            const int32_t *fr = intern_stack_frames(in, st, &nf);
            int64_t line = intern_frame_lineno(in, fr[0]);
            assert_int_equal(a->size, want[d][line - 1]);
            got += a->size;
        }
        total += s.domains[d].sum.size;
    }
    assert_int_equal(got, total);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void expect_model_error(pb *b, const char *needle)
{
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b->buf, b->len, 0, &err), -1);
    assert_true(err.offset <= b->len);
    if (!strstr(err.message, needle))
        fail_msg("'%s' lacks '%s'", err.message, needle);
    intern_free(in);
    free(b->buf);
    *b = (pb){0};
}

/* Mixed Python + native stacks, newest frame first: native frames at the
 * top (M0, M3), in the middle (M1), at the bottom (M0, M1) and alone (M2).
 * "<native>x.py" lacks the space: a Python frame. */
static const pb_frame M0[] = {{"<native> deflate (libz.so.1)", 0},
                              {"z.py", 4},
                              {"main.py", 1},
                              {"<native> main (python3.11)", 0}};
static const pb_frame M1[] = {{"cb.py", 8},
                              {"<native> PyObject_Call (libpython3.11.so.1.0)", 0},
                              {"main.py", 1},
                              {"<native> main (python3.11)", 0}};
static const pb_frame M2[] = {{"<native> worker (libx.so)", 0}, {"<native> libc.so.6+0x94ac3", 0}};
static const pb_frame M3[] = {{"<native> ??", 0}, {"z.py", 4}, {"main.py", 1}};
static const pb_frame M4[] = {{"<native>x.py", 3}, {"main.py", 1}};
#define MIXED_NATIVE_FRAMES 6 /* distinct native frames of M0 to M3 */
/* The same stacks as a Python-only recording has them. */
static const pb_frame P0[] = {{"z.py", 4}, {"main.py", 1}};
static const pb_frame P1[] = {{"cb.py", 8}, {"main.py", 1}};
static const pb_frame P2[] = {{"<unknown>", 0}};

static const int64_t MIXED_SIZES[] = {100, 20, 7, 3000, 5, 1};
static const size_t MIXED_OF[] = {0, 1, 2, 3, 4, 0};

static void load_mixed(snapshot *s, intern *in, const char *stacks_value, unsigned flags)
{
    pb_stack stacks[] = {{M0, 4}, {M1, 4}, {M2, 2}, {M3, 3}, {M4, 2}};
    pb b = {0};
    pb_snapshot_stacks(&b, stacks, 5, MIXED_SIZES, MIXED_OF, 6, stacks_value);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, flags, &err), 0);
    free(b.buf);
}

/* The stack id of the first trace of stack index k of the mixed ones:
 * stack ids are given in order of first appearance. */
static int32_t nth_stack(const snapshot *s, size_t k)
{
    size_t seen = 0;
    for (size_t st = 0; st < s->nacc; st++)
        if (s->acc[st].traces && seen++ == k)
            return (int32_t)st;
    fail();
    return -1;
}

static void test_model__mixed_stacks_keep_native_frames(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_mixed(&s, in, "mixed", 0);
    assert_true(s.mixed);
    assert_false(s.native_dropped);
    assert_int_equal(s.native_frames, MIXED_NATIVE_FRAMES);
    assert_string_equal(snapshot_meta(&s, "stacks")->s, "mixed");
    size_t n;
    const int32_t *frames = intern_stack_frames(in, nth_stack(&s, 0), &n);
    assert_int_equal(n, 4);
    assert_true(snapshot_native_file(&s, in, intern_frame_file(in, frames[0])));
    assert_false(snapshot_native_file(&s, in, intern_frame_file(in, frames[1])));
    assert_true(snapshot_native_file(&s, in, intern_frame_file(in, frames[3])));
    frames = intern_stack_frames(in, nth_stack(&s, 4), &n);
    assert_false(snapshot_native_file(&s, in, intern_frame_file(in, frames[0])));
    assert_int_equal(s.acc[nth_stack(&s, 0)].size, 101);
    snapshot_free(&s);
    intern_free(in);
}

static void test_model__python_only_drops_native_frames(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot mixed, python;
    load_mixed(&mixed, in, "mixed", SNAPSHOT_PYTHON_ONLY);
    assert_true(mixed.mixed && mixed.native_dropped);
    assert_int_equal(mixed.native_frames, MIXED_NATIVE_FRAMES);
    /* What a Python-only recording of the same blocks gives: M0 and M3
     * become the same stack, M2 the stack of a block without Python
     * frames. */
    pb_stack stacks[] = {{P0, 2}, {P1, 2}, {P2, 1}, {M4, 2}};
    static const size_t of[] = {0, 1, 2, 0, 3, 0};
    pb b = {0};
    pb_snapshot(&b, stacks, 4, MIXED_SIZES, of, 6, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&python, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
    assert_int_equal(intern_nstacks(in), 4);
    for (size_t st = 0; st < 4; st++) {
        assert_int_equal(mixed.acc[st].size, python.acc[st].size);
        assert_int_equal(mixed.acc[st].traces, python.acc[st].traces);
    }
    assert_int_equal(mixed.acc[0].size, 3101);
    size_t n;
    const int32_t *frames = intern_stack_frames(in, 2, &n);
    assert_int_equal(n, 1);
    size_t len;
    assert_string_equal(intern_file_name(in, intern_frame_file(in, frames[0]), &len), "<unknown>");
    assert_int_equal(intern_frame_lineno(in, frames[0]), 0);
    /* No frame of the result is native any more. */
    for (size_t f = 0; f < intern_nfiles(in); f++)
        assert_false(snapshot_native_file(&mixed, in, (int32_t)f));
    snapshot_free(&python);
    snapshot_free(&mixed);
    intern_free(in);
}

/* A module imported by main.py allocating at import time, a nested
 * import, zipimport, and a block allocated by the import system itself. */
static const pb_frame I0[] = {{"/app/mod.py", 3},
                              {"<frozen importlib._bootstrap>", 241},
                              {"<frozen importlib._bootstrap_external>", 940},
                              {"<frozen importlib._bootstrap>", 690},
                              {"main.py", 1}};
static const pb_frame I1[] = {{"/app/mod.py", 3}, {"main.py", 1}};
static const pb_frame I2[] = {{"<frozen zipimport>", 70}, {"<frozen importlib._bootstrap>", 1}};
static const pb_frame I3[] = {{"<frozen importlib._bootstrap_external>", 729}};
static const pb_frame I4[] = {{"<frozen importlib.util>", 5}, {"<frozen importlib._bootstrapx>", 1}};

static void test_model__hide_imports_drops_import_machinery_frames(void **state)
{
    (void)state;
    assert_true(snapshot_import_file("<frozen zipimport>", 18));
    assert_false(snapshot_import_file("<frozen zipimport>x", 19));
    assert_false(snapshot_import_file("<frozen importlib._bootstrap", 28));
    for (int hide = 0; hide < 2; hide++) {
        intern *in = intern_new();
        snapshot s;
        pb_stack stacks[] = {{I0, 5}, {I1, 2}, {I2, 2}, {I3, 1}, {I4, 2}};
        static const int64_t sizes[] = {10, 20, 40, 80, 160};
        static const size_t of[] = {0, 1, 2, 3, 4};
        pb b = {0};
        pb_snapshot(&b, stacks, 5, sizes, of, 5, 0);
        snapshot_error err;
        assert_int_equal(
            snapshot_from_buffer(&s, in, b.buf, b.len, hide ? SNAPSHOT_HIDE_IMPORTS : 0, &err), 0);
        free(b.buf);
        assert_int_equal(s.imports_hidden, hide);
        if (!hide) {
            assert_int_equal(intern_nstacks(in), 5);
        } else {
            /* I0 becomes I1; I2 and I3 become ("<unknown>", 0); other
             * frozen modules stay. */
            assert_int_equal(intern_nstacks(in), 3);
            assert_int_equal(s.acc[0].size, 30);
            assert_int_equal(s.acc[0].traces, 2);
            assert_int_equal(s.acc[1].size, 120);
            size_t n, len;
            const int32_t *frames = intern_stack_frames(in, 1, &n);
            assert_int_equal(n, 1);
            assert_string_equal(intern_file_name(in, intern_frame_file(in, frames[0]), &len),
                                "<unknown>");
            frames = intern_stack_frames(in, 2, &n);
            assert_int_equal(n, 2);
            assert_int_equal(s.acc[2].size, 160);
        }
        snapshot_free(&s);
        intern_free(in);
    }
}

/* The "not a tracemalloc snapshot" errors: no snapshot at all, against a
 * damaged or invalid one. */
static void test_model__tells_files_that_are_no_snapshot(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t len;
        int not_snapshot;
        const char *needle;
    } cases[] = {
        {"", 0, 1, "empty file"},
        {"hello, world\n", 13, 1, NULL},
        {"\x80\x04]\x94.", 5, 1, "the pickle holds a list, not a tracemalloc.Snapshot"},
        {"\x80\x04}\x94.", 5, 1, "the pickle holds a dict, not a tracemalloc.Snapshot"},
        {"\x80\x04K\x05.", 5, 1, "the pickle holds an int, not a tracemalloc.Snapshot"},
        {"\x80\x04\x8c\x05posix\x8c\x06system\x93.", 19, 1, "refusing global posix.system"},
        {"\x80\x04", 2, 1, "truncated"},
        /* tracemalloc.Snapshot named, then a wrong state: a damaged snapshot */
        {"\x80\x04\x8c\x0btracemalloc\x8c\x08Snapshot\x93)\x81]b.", 31, 0, "BUILD with a state"},
        {"\x80\x04\x8c\x0btracemalloc\x8c\x08Snapshot\x93)\x81", 28, 0, "truncated"},
        {"\x80\x04\x8c\x0btracemalloc\x8c\x08Snapshot\x93)\x81.", 29, 1,
         "holds a tracemalloc.Snapshot without state"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        intern *in = intern_new();
        snapshot s;
        snapshot_error err;
        assert_int_equal(snapshot_from_buffer(&s, in, (const uint8_t *)cases[i].data, cases[i].len,
                                              0, &err),
                         -1);
        if (err.not_snapshot != cases[i].not_snapshot ||
            (cases[i].needle && !strstr(err.message, cases[i].needle)))
            fail_msg("case %zu: not_snapshot %d, '%s'", i, err.not_snapshot, err.message);
        intern_free(in);
    }
    /* A truncated snapshot is a damaged snapshot, once its first bytes
     * name the class (here with FRAME, which fails first, as Python writes
     * protocol 4). */
    pb full = {0};
    pb_stack st = {F1, 2};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&full);
    pb_trace(&full, 100, &st, &memo, 0);
    pb_snapshot_traces_done(&full, 5);
    pb_snapshot_end(&full);
    pb framed = {0};
    pb_op(&framed, 0x80);
    pb_op(&framed, 4);
    pb_op(&framed, 0x95);
    pb_le(&framed, full.len - 2, 8);
    pb_bytes(&framed, full.buf + 2, full.len - 2);
    free(full.buf);
    for (size_t cut = 1; cut < framed.len; cut++) {
        intern *in = intern_new();
        snapshot s;
        snapshot_error err;
        assert_int_equal(snapshot_from_buffer(&s, in, framed.buf, cut, 0, &err), -1);
        /* PROTO and FRAME (11 bytes), "tracemalloc" (13), MEMOIZE, "Snapshot" (10) */
        assert_int_equal(err.not_snapshot, cut < 35);
        intern_free(in);
    }
    free(framed.buf);
    /* A snapshot whose content is invalid is a snapshot. */
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_int(&b, 5);
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), -1);
    assert_false(err.not_snapshot);
    free(b.buf);
    intern_free(in);
}

static void test_model__native_names_outside_mixed_snapshots_are_python(void **state)
{
    (void)state;
    static const char *const values[] = {NULL, "python", "mixed-v2"};
    for (size_t i = 0; i < 3; i++) {
        intern *in = intern_new();
        snapshot s;
        load_mixed(&s, in, values[i], SNAPSHOT_PYTHON_ONLY);
        assert_false(s.mixed || s.native_dropped);
        assert_int_equal(s.native_frames, 0);
        size_t n;
        const int32_t *frames = intern_stack_frames(in, nth_stack(&s, 0), &n);
        assert_int_equal(n, 4);
        assert_false(snapshot_native_file(&s, in, intern_frame_file(in, frames[0])));
        assert_int_equal(intern_nstacks(in), 5);
        snapshot_free(&s);
        intern_free(in);
    }
}

/* Metadata of the kinds a mixed snapshot carries (native_objects: a list
 * of tuples, native_frames: a dict of str -> tuple), nested containers and
 * a tuple shaped like a trace: none is a scalar, all are skipped. */
static void test_model__structured_metadata_is_skipped(void **state)
{
    (void)state;
    pb_stack st = {M0, 4};
    pb b = {0};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, 40, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_str(&b, "native_objects");
    pb_op(&b, ']');
    pb_op(&b, '(');
    pb_op(&b, '(');
    pb_str(&b, "/usr/lib/libz.so.1");
    pb_int(&b, 0x7f0000000000);
    pb_int(&b, 4096);
    pb_str(&b, "3a9f");
    pb_op(&b, 't');
    pb_op(&b, '('); /* (5, 64, frames, 4): the shape of a trace */
    pb_int(&b, 5);
    pb_int(&b, 64);
    pb_get(&b, memo);
    pb_int(&b, 4);
    pb_op(&b, 't');
    pb_op(&b, 'e');
    pb_str(&b, "native_frames");
    pb_op(&b, '}');
    pb_op(&b, '(');
    pb_str(&b, "<native> deflate (libz.so.1)");
    pb_int(&b, 0);
    pb_int(&b, 0x4b2c);
    pb_op(&b, 0x86);
    pb_str(&b, "<native> main (python3.11)");
    pb_op(&b, ')');
    pb_op(&b, 'u');
    pb_str(&b, "pair");
    pb_int(&b, 1);
    pb_op(&b, 'N');
    pb_op(&b, 0x86);
    pb_str(&b, "nested");
    pb_op(&b, '}');
    pb_str(&b, "k");
    pb_op(&b, ']');
    pb_op(&b, 0x89);
    pb_op(&b, 0x85);
    pb_op(&b, 'a');
    pb_op(&b, 's');
    pb_str(&b, "stacks");
    pb_str(&b, "mixed");
    pb_str(&b, "pid");
    pb_int(&b, 7);
    pb_snapshot_end(&b);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_true(s.mixed);
    assert_int_equal(snapshot_meta(&s, "pid")->i, 7);
    assert_null(snapshot_meta(&s, "native_objects"));
    assert_null(snapshot_meta(&s, "native_frames"));
    assert_null(snapshot_meta(&s, "pair"));
    assert_null(snapshot_meta(&s, "nested"));
    assert_int_equal(s.ntraces, 1);
    assert_int_equal(s.ndomains, 1);
    domain_sum_is(&s, 0, 0, 40, 1);
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static void test_model__rejects_malformed_snapshots(void **state)
{
    (void)state;
    pb b = {0};
    pb_stack st = {F1, 2};
    uint32_t memo = UINT32_MAX;

    static const char not_snapshot[] = "\x80\x04]\x94.";
    pb_bytes(&b, not_snapshot, 5);
    expect_model_error(&b, "the pickle holds a list, not a tracemalloc.Snapshot");

    pb_snapshot_begin(&b);
    pb_int(&b, 5); /* a trace that is an int */
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    expect_model_error(&b, "trace #0 is not");

    pb_snapshot_begin(&b);
    pb_op(&b, '(');
    pb_int(&b, 0);
    pb_int(&b, 8);
    pb_op(&b, '(');
    pb_int(&b, 1);
    pb_int(&b, 2);
    pb_op(&b, 0x86); /* a frame (1, 2) */
    pb_op(&b, 't');
    pb_int(&b, 1);
    pb_op(&b, 't');
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    expect_model_error(&b, "frame is not");

    pb_snapshot_begin(&b);
    pb_trace(&b, 8, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_str(&b, "sample_rate");
    pb_int(&b, 0);
    pb_snapshot_end(&b);
    expect_model_error(&b, "sample_rate");

    memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, -8, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    expect_model_error(&b, "negative size");

    memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, INT64_MAX, &st, &memo, 1);
    pb_trace(&b, INT64_MAX, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    expect_model_error(&b, "overflow");

    memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, 8, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_str(&b, "stacks");
    pb_int(&b, 1);
    pb_snapshot_end(&b);
    expect_model_error(&b, "stacks is not a string");
}

static void test_model__frame_tuple_reused_as_stack_is_safe(void **state)
{
    (void)state;
    /* A memoized frame tuple passed where a stack is expected must be
     * rejected, not confused with a cached stack id. */
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_op(&b, '(');
    pb_int(&b, 0);
    pb_int(&b, 8);
    pb_str(&b, "x.py");
    pb_int(&b, 3);
    pb_op(&b, 0x86);
    uint32_t frame = pb_memoize(&b);
    pb_op(&b, 0x85); /* stack = (frame,) */
    pb_int(&b, 1);
    pb_op(&b, 't');
    pb_op(&b, '(');
    pb_int(&b, 0);
    pb_int(&b, 8);
    pb_get(&b, frame); /* the frame itself as a stack */
    pb_int(&b, 1);
    pb_op(&b, 't');
    pb_snapshot_traces_done(&b, 5);
    pb_snapshot_end(&b);
    expect_model_error(&b, "trace #1: a frame is not");
}

static void test_model__caps_metadata_keys(void **state)
{
    (void)state;
    pb_stack st = {F1, 2};
    pb b = {0};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, 40, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "extra_%d", i);
        pb_str(&b, key);
        pb_int(&b, i);
    }
    pb_str(&b, "sample_rate");
    pb_int(&b, 4096);
    pb_snapshot_end(&b);
    intern *in = intern_new();
    snapshot s;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    assert_int_equal(s.nmeta, 256);
    assert_int_equal(s.sample_rate, 4096); /* known keys still apply */
    snapshot_free(&s);
    intern_free(in);
    free(b.buf);
}

static const pb_point TIMELINE[] = {
    {1796018928.5, 94878, 94878, 5156864},
    {1796018929.0, 56000000, 56141679, 60000000},
    {1796018929.25, 38649019, 56141679, 54243328},
};

/* A snapshot of one trace whose state has the given bytes after
 * traceback_limit, then pid = 7. */
static void load_with_state(snapshot *s, intern *in, const pb *state)
{
    pb_stack st = {F1, 2};
    pb b = {0};
    uint32_t memo = UINT32_MAX;
    pb_snapshot_begin(&b);
    pb_trace(&b, 40, &st, &memo, 1);
    pb_snapshot_traces_done(&b, 5);
    pb_bytes(&b, state->buf, state->len);
    pb_str(&b, "pid");
    pb_int(&b, 7);
    pb_snapshot_end(&b);
    snapshot_error err;
    if (snapshot_from_buffer(s, in, b.buf, b.len, 0, &err) != 0)
        fail_msg("offset %zu: %s", err.offset, err.message);
    free(b.buf);
    assert_int_equal(snapshot_meta(s, "pid")->i, 7);
    assert_int_equal(s->ntraces, 1);
}

static void test_model__reads_peak_and_timeline_metadata(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    pb m = {0};
    pb_peak_metadata(&m, "interval", 1, 1796018929.0, TIMELINE, 3);
    load_with_state(&s, in, &m);
    free(m.buf);
    assert_string_equal(snapshot_meta(&s, "trigger")->s, "interval");
    assert_int_equal(snapshot_meta(&s, "is_peak")->kind, META_BOOL);
    assert_int_equal(snapshot_meta(&s, "is_peak")->i, 1);
    assert_int_equal(snapshot_meta(&s, "peak_time")->kind, META_FLOAT);
    assert_true(snapshot_meta(&s, "peak_time")->f == 1796018929.0);
    assert_null(snapshot_meta(&s, "timeline")); /* not a scalar entry */
    assert_true(s.has_timeline);
    assert_int_equal(s.ntimeline, 3);
    assert_int_equal(s.timeline_meta_pos, 3); /* after trigger, is_peak, peak_time */
    for (size_t i = 0; i < 3; i++) {
        assert_true(s.timeline[i].time == TIMELINE[i].time);
        assert_int_equal(s.timeline[i].live_bytes, TIMELINE[i].live);
        assert_int_equal(s.timeline[i].peak_bytes, TIMELINE[i].peak);
        assert_int_equal(s.timeline[i].rss_bytes, TIMELINE[i].rss);
    }
    snapshot_free(&s);

    /* A first snapshot: no peak yet (peak_time None), an empty timeline. */
    m = (pb){0};
    pb_peak_metadata(&m, "api", 0, 0, NULL, 0);
    load_with_state(&s, in, &m);
    free(m.buf);
    assert_int_equal(snapshot_meta(&s, "is_peak")->i, 0);
    assert_int_equal(snapshot_meta(&s, "peak_time")->kind, META_NONE);
    assert_true(s.has_timeline);
    assert_int_equal(s.ntimeline, 0);
    snapshot_free(&s);

    /* An integer time is a time. */
    m = (pb){0};
    pb_str(&m, "timeline");
    pb_op(&m, ']');
    pb_op(&m, '(');
    pb_int(&m, 1700000000);
    pb_int(&m, 1);
    pb_int(&m, 2);
    pb_int(&m, 3);
    pb_op(&m, 't');
    pb_op(&m, 'a');
    load_with_state(&s, in, &m);
    free(m.buf);
    assert_true(s.has_timeline);
    assert_int_equal(s.ntimeline, 1);
    assert_true(s.timeline[0].time == 1700000000.0);
    assert_int_equal(s.timeline[0].rss_bytes, 3);
    snapshot_free(&s);
    intern_free(in);
}

/* Snapshots written before the timeline existed: nothing of it. */
static void test_model__no_timeline_without_the_key(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    pb m = {0};
    pb_str(&m, "sample_rate");
    pb_int(&m, 4096);
    load_with_state(&s, in, &m);
    free(m.buf);
    assert_false(s.has_timeline);
    assert_int_equal(s.ntimeline, 0);
    assert_null(s.timeline);
    assert_null(snapshot_meta(&s, "is_peak"));
    snapshot_free(&s);
    intern_free(in);
}

/* One point tuple of 4 items, each written by the caller through kinds:
 * 'f' float, 'i' int, 'n' negative int, 's' str, 'N' None, 'T' True,
 * 'x' NaN, 'e' empty tuple, 'l' empty list. */
static void pb_point_of(pb *b, const char *kinds)
{
    pb_op(b, '(');
    for (const char *k = kinds; *k; k++) {
        switch (*k) {
        case 'f': pb_float(b, 1796018929.5); break;
        case 'i': pb_int(b, 4096); break;
        case 'n': pb_int(b, -1); break;
        case 's': pb_str(b, "1796018929"); break;
        case 'N': pb_none(b); break;
        case 'T': pb_bool(b, 1); break;
        case 'x': pb_float(b, NAN); break;
        case 'e': pb_op(b, ')'); break;
        case 'l': pb_op(b, ']'); break;
        }
    }
    pb_op(b, 't');
}

static void expect_timeline_ignored(const pb *m)
{
    intern *in = intern_new();
    snapshot s;
    load_with_state(&s, in, m);
    assert_false(s.has_timeline);
    assert_int_equal(s.ntimeline, 0);
    assert_null(s.timeline);
    assert_null(snapshot_meta(&s, "timeline"));
    assert_int_equal(snapshot_meta(&s, "is_peak")->kind, META_BOOL);
    snapshot_free(&s);
    intern_free(in);
}

/* Timelines of another shape are ignored, the snapshot is read. */
static void test_model__malformed_timelines_are_ignored(void **state)
{
    (void)state;
    /* Lists of one bad point, then of a good point and a bad one. */
    static const char *const bad_points[] = {
        "fii", "fiiii", "", "siii", "Niii", "ffii", "fini", "fiin", "xiii", "fiTi",
        "iiei", /* (int, int, tuple, int): read as a trace tuple */
        "fiil", "Tiii",
    };
    for (size_t i = 0; i < sizeof bad_points / sizeof *bad_points; i++) {
        for (int good_first = 0; good_first < 2; good_first++) {
            pb m = {0};
            pb_str(&m, "is_peak");
            pb_bool(&m, 0);
            pb_str(&m, "timeline");
            pb_op(&m, ']');
            pb_op(&m, '(');
            if (good_first)
                pb_point_of(&m, "fiii");
            pb_point_of(&m, bad_points[i]);
            pb_op(&m, 'e');
            expect_timeline_ignored(&m);
            free(m.buf);
        }
    }
    /* Values that are not a list: int, str, None, bool, float, a tuple of
     * points, a dict, a list as a point, a list of lists. */
    for (int v = 0; v < 9; v++) {
        pb m = {0};
        pb_str(&m, "is_peak");
        pb_bool(&m, 1);
        pb_str(&m, "timeline");
        switch (v) {
        case 0: pb_int(&m, 512); break;
        case 1: pb_str(&m, "timeline"); break;
        case 2: pb_none(&m); break;
        case 3: pb_bool(&m, 1); break;
        case 4: pb_float(&m, 1.5); break;
        case 5: pb_op(&m, '('); pb_point_of(&m, "fiii"); pb_point_of(&m, "fiii"); pb_op(&m, 't'); break;
        case 6: pb_op(&m, '}'); pb_str(&m, "time"); pb_float(&m, 1.5); pb_op(&m, 's'); break;
        case 7:
            pb_op(&m, ']');
            pb_op(&m, ']');
            pb_op(&m, '(');
            pb_float(&m, 1.5);
            pb_int(&m, 1);
            pb_int(&m, 2);
            pb_int(&m, 3);
            pb_op(&m, 'e');
            pb_op(&m, 'a');
            break;
        case 8: pb_op(&m, ']'); pb_op(&m, ']'); pb_op(&m, 'a'); break;
        }
        expect_timeline_ignored(&m);
        free(m.buf);
    }
    /* A later key replaces an earlier one, good or bad. */
    pb m = {0};
    pb_str(&m, "is_peak");
    pb_bool(&m, 1);
    pb_str(&m, "timeline");
    pb_timeline(&m, TIMELINE, 3);
    pb_str(&m, "timeline");
    pb_int(&m, 3);
    expect_timeline_ignored(&m);
    free(m.buf);
    m = (pb){0};
    pb_str(&m, "timeline");
    pb_str(&m, "none yet");
    pb_str(&m, "timeline");
    pb_timeline(&m, TIMELINE, 2);
    intern *in = intern_new();
    snapshot s;
    load_with_state(&s, in, &m);
    free(m.buf);
    assert_true(s.has_timeline);
    assert_int_equal(s.ntimeline, 2);
    snapshot_free(&s);
    intern_free(in);
}

/* The longest timeline kept is SNAPSHOT_MAX_TIMELINE points; a longer one
 * (one memoized point repeated) is ignored. */
static void test_model__huge_timelines_are_ignored(void **state)
{
    (void)state;
    for (size_t n = SNAPSHOT_MAX_TIMELINE; n <= SNAPSHOT_MAX_TIMELINE + 1; n++) {
        pb m = {0};
        pb_str(&m, "is_peak");
        pb_bool(&m, 0);
        pb_str(&m, "timeline");
        pb_op(&m, ']');
        pb_op(&m, '(');
        pb_point_of(&m, "fiii");
        pb_op(&m, 'q'); /* BINPUT 200, above the snapshot's own memo */
        pb_op(&m, 200);
        for (size_t i = 1; i < n; i++)
            pb_get(&m, 200);
        pb_op(&m, 'e');
        intern *in = intern_new();
        snapshot s;
        load_with_state(&s, in, &m);
        free(m.buf);
        if (n == SNAPSHOT_MAX_TIMELINE) {
            assert_true(s.has_timeline);
            assert_int_equal(s.ntimeline, n);
            assert_int_equal(s.timeline[n - 1].live_bytes, 4096);
        } else {
            assert_false(s.has_timeline);
            assert_null(s.timeline);
        }
        snapshot_free(&s);
        intern_free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model__sums_per_stack_and_interns_by_content),
        cmocka_unit_test(test_model__reads_metadata_and_ignores_unknown_keys),
        cmocka_unit_test(test_model__sampled_counts_and_variance),
        cmocka_unit_test(test_model__single_domain_keeps_per_stack_sums_only),
        cmocka_unit_test(test_model__sums_per_domain_and_stack),
        cmocka_unit_test(test_model__sampled_sums_per_domain),
        cmocka_unit_test(test_model__many_domains_many_stacks),
        cmocka_unit_test(test_model__mixed_stacks_keep_native_frames),
        cmocka_unit_test(test_model__python_only_drops_native_frames),
        cmocka_unit_test(test_model__native_names_outside_mixed_snapshots_are_python),
        cmocka_unit_test(test_model__structured_metadata_is_skipped),
        cmocka_unit_test(test_model__rejects_malformed_snapshots),
        cmocka_unit_test(test_model__frame_tuple_reused_as_stack_is_safe),
        cmocka_unit_test(test_model__caps_metadata_keys),
        cmocka_unit_test(test_model__reads_peak_and_timeline_metadata),
        cmocka_unit_test(test_model__no_timeline_without_the_key),
        cmocka_unit_test(test_model__malformed_timelines_are_ignored),
        cmocka_unit_test(test_model__huge_timelines_are_ignored),
        cmocka_unit_test(test_model__hide_imports_drops_import_machinery_frames),
        cmocka_unit_test(test_model__tells_files_that_are_no_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
