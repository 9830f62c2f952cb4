/* Unit tests of --trend: Student's t tail, Holm's procedure, the slope and
 * its test on synthetic series with known slopes and noise (independent
 * noise, random-walk noise, and series made like real dumps: a population
 * of blocks with lifetimes, each Poisson-sampled once, dumped while live),
 * and trend_compute on snapshots (ordering, errors, exact mode). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "pickle_builder.h"
#include "trend.h"

/* splitmix64: a fixed seed gives the same series on every machine. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(void) { return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0; }

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static double exponential(double mean) { return -mean * log(uniform()); }

static void test_trend__student_tail(void **state)
{
    (void)state;
    assert_true(fabs(trend_student_sf(0, 5) - 0.5) < 1e-12);
    /* dof 1 is Cauchy: P(T > 1) = 1/4. */
    assert_true(fabs(trend_student_sf(1, 1) - 0.25) < 1e-10);
    /* dof 2: P(T > t) = 1/2 - t / (2 sqrt(t^2 + 2)). */
    for (double t = 0.5; t < 200; t *= 3)
        assert_true(fabs(trend_student_sf(t, 2) - (0.5 - t / (2 * sqrt(t * t + 2)))) < 1e-10);
    /* Many dof: the normal tail, P(Z > 3) = 0.0013499. */
    assert_true(fabs(trend_student_sf(3, 1e7) - 0.0013498980316301) < 1e-8);
    assert_true(fabs(trend_student_sf(-3, 1e7) - (1 - 0.0013498980316301)) < 1e-8);
    /* t_8, one-sided 0.0005: 5.0413. */
    assert_true(fabs(trend_student_sf(5.0413, 8) - 0.0005) < 1e-6);
    assert_true(trend_student_sf(INFINITY, 3) == 0);
    assert_true(trend_student_sf(-INFINITY, 3) == 1);
    assert_true(trend_student_sf(NAN, 3) == 1);
}

static void test_trend__holm(void **state)
{
    (void)state;
    /* m = 4, alpha 0.05: 0.01 <= 0.0125, 0.016 <= 0.0167, 0.03 > 0.025 stops. */
    double p[] = {0.03, 0.01, 0.5, 0.016};
    uint8_t rej[4];
    assert_int_equal(trend_holm(p, 4, 0.05, rej), 0);
    assert_int_equal(rej[0], 0);
    assert_int_equal(rej[1], 1);
    assert_int_equal(rej[2], 0);
    assert_int_equal(rej[3], 1);
    double q[] = {0.02, 0.001};
    assert_int_equal(trend_holm(q, 2, 0.01, rej), 0);
    assert_int_equal(rej[0] + 2 * rej[1], 2);
    assert_int_equal(trend_holm(q, 0, 0.01, rej), 0);
}

#define N 10

static double times[N];

static void hourly_times(void)
{
    for (int i = 0; i < N; i++)
        times[i] = i * 0.25; /* a dump every 15 minutes */
}

static void test_trend__exact_line(void **state)
{
    (void)state;
    hourly_times();
    double x[N], v[N] = {0};
    for (int i = 0; i < N; i++)
        x[i] = 5000 + 4096 * times[i];
    trend_fit f;
    trend_fit_series(times, x, v, N, &f);
    assert_true(fabs(f.slope - 4096) < 1e-6);
    /* No scatter at all: no noise, not a tiny one from rounding. */
    assert_true(f.slope_se == 0 && isinf(f.t) && f.p == 0);
    assert_int_equal(f.rises, N - 1);
    assert_true(fabs(f.growth - 4096 * times[N - 1]) < 1e-6);
    /* A flat series: no slope, no noise, p = 1/2 (t = 0). */
    for (int i = 0; i < N; i++)
        x[i] = 5000;
    trend_fit_series(times, x, v, N, &f);
    assert_true(f.slope == 0 && f.p == 0.5 && f.growth == 0);
}

/* One site's series with slope `slope` per hour and noise of the kind
 * given; v gets the sampling variance the report would see. */
enum noise { WHITE, WALK, BLOCKS };

/* Blocks of `size` bytes are allocated at `rate` per hour and live an
 * exponential time of mean `life` hours, in a steady state from before the
 * first dump; with leak set, half of the blocks never die.  Each block is
 * sampled once, with probability p = 1 - exp(-size / R), weight
 * w = size / p and variance w (w - size), and counts in every dump while it
 * is live: the dumps share their blocks.  Only sampled blocks matter, so
 * they are drawn directly, as a Poisson process of rate `rate` p. */
static void blocks_series(double rate, double life, double size, double R, int leak,
                          double *x, double *v)
{
    double p = -expm1(-size / R), w = size / p, srate = rate * p;
    memset(x, 0, N * sizeof *x);
    memset(v, 0, N * sizeof *v);
    /* The steady population at the first dump: Poisson(srate * life)
     * blocks (those already leaked left aside), each with an exponential
     * remaining life (lifetimes are memoryless). */
    double mortal = leak ? 0.5 : 1;
    for (double t = exponential(1 / srate); t < life * mortal; t += exponential(1 / srate)) {
        double death = times[0] + exponential(life);
        for (int i = 0; i < N && death > times[i]; i++) {
            x[i] += w;
            v[i] += w * (w - size);
        }
    }
    for (double t = times[0] + exponential(1 / srate); t < times[N - 1];
         t += exponential(1 / srate)) {
        double death = leak && uniform() < 0.5 ? INFINITY : t + exponential(life);
        for (int i = 0; i < N; i++)
            if (t <= times[i] && death > times[i]) {
                x[i] += w;
                v[i] += w * (w - size);
            }
    }
}

static void series(enum noise kind, double slope, double sd, double *x, double *v)
{
    double level = 1e6, walk = 0;
    for (int i = 0; i < N; i++) {
        double e;
        if (kind == WHITE) {
            e = sd * normal();
        } else {
            /* Increments of variance sd^2 per hour. */
            if (i)
                walk += sd * sqrt(times[i] - times[i - 1]) * normal();
            e = walk;
        }
        x[i] = level + slope * times[i] + e;
        v[i] = sd * sd;
    }
}

/* Runs `seeds` programs of `sites` sites of no leak; returns how many
 * programs report a leak (Holm at family-wise 1%), and the number of sites
 * significant at 0.1% each in *site_hits. */
static int false_leaks(enum noise kind, int seeds, int sites, int *site_hits)
{
    double x[N], v[N], *p = malloc(sites * sizeof *p);
    uint8_t *rej = malloc(sites);
    int programs = 0;
    *site_hits = 0;
    for (int s = 0; s < seeds; s++) {
        rng_state = 0x5eed0000u + (uint64_t)s * 7919 + (uint64_t)kind * 104729;
        for (int k = 0; k < sites; k++) {
            if (kind == BLOCKS) {
                /* Lifetimes from far below the dump interval (independent
                 * dumps) to far above it (dumps sharing most blocks). */
                static const double lives[] = {0.01, 0.1, 0.3, 1, 3, 30};
                static const double sizes[] = {64, 512, 4096, 100000};
                blocks_series(400, lives[k % 6], sizes[(k / 6) % 4], 65536, 0, x, v);
            } else {
                series(kind, 0, 1000, x, v);
            }
            trend_fit f;
            trend_fit_series(times, x, v, N, &f);
            p[k] = f.p;
            *site_hits += f.p <= 0.001;
        }
        assert_int_equal(trend_holm(p, (size_t)sites, 0.01, rej), 0);
        int any = 0;
        for (int k = 0; k < sites; k++)
            any |= rej[k];
        programs += any;
    }
    free(p);
    free(rej);
    return programs;
}

/* 1000 programs of 48 sites without leak: at most 1% of them may report
 * one (10 expected at most, 20 allowed: 3 standard deviations), and at most
 * 0.1% of the sites may be significant alone (48 expected at most, 70
 * allowed). */
static void check_false_rate(enum noise kind)
{
    hourly_times();
    int sites;
    int programs = false_leaks(kind, 1000, 48, &sites);
    print_message("noise %d: %d of 1000 programs, %d of 48000 sites\n", kind, programs, sites);
    assert_true(programs <= 20);
    assert_true(sites <= 70);
}

static void test_trend__no_false_leak_white(void **state)
{
    (void)state;
    check_false_rate(WHITE);
}

static void test_trend__no_false_leak_random_walk(void **state)
{
    (void)state;
    check_false_rate(WALK);
}

static void test_trend__no_false_leak_shared_blocks(void **state)
{
    (void)state;
    check_false_rate(BLOCKS);
}

static void test_trend__leak_found_with_its_slope(void **state)
{
    (void)state;
    hourly_times();
    double x[N], v[N];
    for (int s = 0; s < 100; s++) {
        rng_state = 0x1ea0000u + (uint64_t)s;
        /* 1 MiB/h under noise of 64 KiB per sqrt(hour). */
        series(WALK, 1 << 20, 65536, x, v);
        trend_fit f;
        trend_fit_series(times, x, v, N, &f);
        assert_true(f.p < 0.01 / 48); /* significant among 48 sites */
        /* The estimate is within 4 standard errors of the truth, and the
         * standard error is a few percent of the slope. */
        assert_true(fabs(f.slope - (1 << 20)) < 4 * f.slope_se);
        assert_true(f.slope_se < 0.1 * (1 << 20));
    }
    /* A leak made of sampled blocks: 4000 blocks of 4 KiB an hour, half of
     * them never freed, the rest living 20 minutes: 8000 KiB/h, about 270
     * samples kept over the 2.25 hours. */
    int found = 0;
    double sum = 0;
    for (int s = 0; s < 100; s++) {
        rng_state = 0xb10c0000u + (uint64_t)s;
        blocks_series(4000, 1.0 / 3, 4096, 65536, 1, x, v);
        trend_fit f;
        trend_fit_series(times, x, v, N, &f);
        found += f.p < 0.01 / 48;
        sum += f.slope;
    }
    print_message("sampled leak: found %d of 100, mean slope %.0f B/h (truth 8192000)\n", found,
                  sum / 100);
    assert_true(found >= 95);
    assert_true(fabs(sum / 100 - 8192000) < 0.03 * 8192000);
}

/* Snapshots with a time (and a pid) built in memory. */
static const pb_frame LEAK[] = {{"app.py", 10}};
static const pb_frame STEADY[] = {{"app.py", 20}};

static void load_at(snapshot *s, intern *in, double time, int64_t pid, int64_t leak_bytes,
                    int64_t steady_bytes)
{
    pb_stack stacks[] = {{LEAK, 1}, {STEADY, 1}};
    int64_t sizes[] = {leak_bytes, steady_bytes};
    size_t of[] = {0, 1};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 2, NULL, sizes, of, 2);
    pb_snapshot_traces_done(&b, 10);
    if (pid >= 0) {
        pb_str(&b, "pid");
        pb_int(&b, pid);
    }
    if (time >= 0) {
        pb_str(&b, "time");
        pb_float(&b, time);
    }
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static void test_trend__snapshots_ordered_by_time(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s[5];
    const snapshot *ptr[5];
    /* Given out of order: times 4, 0, 3, 1, 2 minutes. */
    static const int minute[] = {4, 0, 3, 1, 2};
    static const int64_t steady[] = {700, 800, 700, 800, 750};
    for (int i = 0; i < 5; i++) {
        load_at(&s[i], in, 1.7e9 + 60 * minute[i], 7, 1000 + 100 * minute[i], steady[i]);
        s[i].path = strdup("x.snap");
        ptr[i] = &s[i];
    }
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t;
    char err[256];
    assert_int_equal(trend_compute(ptr, 5, in, &o, &t, err, sizeof err), 0);
    assert_int_equal(trend_decide(&t, 1, 0.01), 0);
    assert_int_equal(t.nsites, 2);
    assert_int_equal(t.nleaks, 1);
    assert_true(t.time[0] == 1.7e9 && t.time[4] == 1.7e9 + 240);
    const trend_site *leak = &t.sites[0];
    assert_true(leak->leak);
    assert_int_equal(intern_frame_lineno(in, leak->key.key), 10);
    /* 100 bytes a minute: 6000 bytes an hour, exactly. */
    assert_true(fabs(leak->fit.slope - 6000) < 1e-6);
    for (int i = 0; i < 5; i++)
        assert_true(leak->bytes[i] == 1000 + 100 * i);
    /* The steady site alternates: not a leak (exact mode wants rises in
     * half of the steps, and its slope is not significant). */
    assert_false(t.sites[1].leak);
    trend_free(&t);
    for (int i = 0; i < 5; i++)
        snapshot_free(&s[i]);
    intern_free(in);
}

static void test_trend__exact_mode_wants_steady_rises(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s[7];
    const snapshot *ptr[7];
    /* Grows on two steps of six, by a lot, and stays flat otherwise. */
    static const int64_t bytes[] = {1000, 1000, 1000, 50000, 50000, 50000, 100000};
    for (int i = 0; i < 7; i++) {
        load_at(&s[i], in, 1.7e9 + 60 * i, 7, bytes[i], 10);
        s[i].path = strdup("x.snap");
        ptr[i] = &s[i];
    }
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t;
    char err[256];
    assert_int_equal(trend_compute(ptr, 7, in, &o, &t, err, sizeof err), 0);
    assert_int_equal(trend_decide(&t, 1, 0.5), 0);
    assert_int_equal(t.nleaks, 0);
    trend_free(&t);
    for (int i = 0; i < 7; i++)
        snapshot_free(&s[i]);
    intern_free(in);
}

/* Two processes decided together: Holm over the sites of both, so the
 * family is twice as large, and each result's leaks are its own. */
static void test_trend__processes_decided_together(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s[8];
    const snapshot *ptr[8];
    /* Process 1: a leak of 100 bytes a minute with a little scatter;
     * process 2: flat. */
    static const int64_t leak[] = {1000, 1110, 1190, 1300, 1400, 1505, 1600, 1695};
    for (int i = 0; i < 8; i++) {
        load_at(&s[i], in, 1.7e9 + 60 * (i % 4) + (i < 4 ? 0 : 1), i < 4 ? 1 : 2,
                i < 4 ? leak[2 * i] : 500, 700);
        s[i].path = strdup("x.snap");
        ptr[i] = &s[i];
    }
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t[2];
    char err[256];
    assert_int_equal(trend_compute(ptr, 4, in, &o, &t[0], err, sizeof err), 0);
    assert_int_equal(trend_compute(ptr + 4, 4, in, &o, &t[1], err, sizeof err), 0);
    assert_int_equal(trend_decide(t, 2, 0.2), 0);
    assert_int_equal(t[0].family_sites, 4);
    assert_int_equal(t[1].family_sites, 4);
    assert_int_equal(t[1].nleaks, 0);
    assert_int_equal(t[0].nleaks, 1);
    assert_true(t[0].sites[0].leak && intern_frame_lineno(in, t[0].sites[0].key.key) == 10);
    /* The p-value of the leak alone passes 0.2 / 2 but not 0.2 / 4... */
    double p = t[0].sites[0].fit.p;
    print_message("p = %g\n", p);
    /* ...so a stricter rate finds it alone and not in the family of 4. */
    double rate = 2.5 * p; /* between 2 p (2 sites) and 4 p (4 sites) */
    assert_int_equal(trend_decide(&t[0], 1, rate), 0);
    assert_int_equal(t[0].nleaks, 1);
    assert_int_equal(trend_decide(t, 2, rate), 0);
    assert_int_equal(t[0].nleaks, 0);
    assert_int_equal(t[0].family_sites, 4);
    trend_free(&t[0]);
    trend_free(&t[1]);
    for (int i = 0; i < 8; i++)
        snapshot_free(&s[i]);
    intern_free(in);
}

/* The text and JSON of a small trend, whole. */
static void test_trend__output(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s[4];
    const snapshot *ptr[4];
    static const char *const names[] = {"a.snap", "b.snap", "c.snap", "d.snap"};
    for (int i = 0; i < 4; i++) {
        load_at(&s[i], in, 1.7e9 + 600 * i, 42, 1000 + 1024 * i, 700);
        s[i].path = strdup(names[i]);
        ptr[i] = &s[i];
    }
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t;
    char err[256];
    assert_int_equal(trend_compute(ptr, 4, in, &o, &t, err, sizeof err), 0);
    assert_int_equal(trend_decide(&t, 1, 0.01), 0);
    trend_group g = {.has_pid = 1, .pid = 42, .inputs = ptr, .ninputs = 4, .result = &t};
    trend_report r = {.in = in, .opts = &o, .false_leak_rate = 0.01, .family_sites = 2,
                      .groups = &g, .ngroups = 1};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(format_trend_text(out, &r), 0);
    fclose(out);
    assert_string_equal(buf,
        "# trend: 4 snapshots of pid 42 over 30.0 min, 2023-11-14 22:13:20 UTC to 2023-11-14 "
        "22:43:20 UTC\n"
        "# 1/4 a.snap: +0.0 s, 2 traces, total size=1700 B, count=2\n"
        "# 2/4 b.snap: +10.0 min, 2 traces, total size=2724 B, count=2\n"
        "# 3/4 c.snap: +20.0 min, 2 traces, total size=3748 B, count=2\n"
        "# 4/4 d.snap: +30.0 min, 2 traces, total size=4772 B, count=2\n"
        "# test: slope > 0, one-sided t test on the increments (exact: scatter, rising in half "
        "the steps), false-leak rate 1% over 2 sites (Holm)\n"
        "# 1 growing site of 2, group by lineno\n"
        "app.py:10: slope=+6144 B/h, growth=+3072 B (1000 B -> 4072 B), t=inf, p=0\n"
        "  series: 1000 B, 2024 B, 3048 B, 4072 B\n");
    free(buf);
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(format_trend_json(out, &r), 0);
    fclose(out);
    assert_non_null(strstr(buf, "\"mode\": \"trend\""));
    assert_non_null(strstr(buf, "\"times\": [1700000000, 1700000600, 1700001200, 1700001800], "
                                "\"skipped_peaks\": 0, \"sites_tested\": 2, \"total_rows\": 1"));
    const char *slope = strstr(buf, "{\"slope\": ");
    assert_non_null(slope);
    assert_true(fabs(strtod(slope + 10, NULL) - 6144) < 1e-6);
    assert_non_null(strstr(buf, ", \"slope_stderr\": 0, \"t\": null, \"dof\": 2, "
                                "\"p_value\": 0, \"growth\": 3072, \"first\": 1000, \"last\": 4072, "
                                "\"rises\": 3, \"series\": [1000, 2024, 3048, 4072], "
                                "\"series_stderr\": [0, 0, 0, 0], \"frames\": [{\"filename\": "
                                "\"app.py\", \"lineno\": 10, \"function\": null}], \"text\": \"app.py:10\"}"));
    free(buf);
    /* Function names (frame_names): JSON always, text with --names. */
    int32_t frame = intern_frame(in, intern_file(in, "app.py", 6), 10);
    assert_int_equal(intern_set_frame_name(in, frame, "Cache.grow", 10), 0);
    r.names = 1;
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(format_trend_text(out, &r), 0);
    fclose(out);
    assert_non_null(strstr(buf, "\napp.py:10 (Cache.grow): slope=+6144 B/h, growth="));
    free(buf);
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(format_trend_json(out, &r), 0);
    fclose(out);
    assert_non_null(strstr(buf, "\"lineno\": 10, \"function\": \"Cache.grow\"}], \"text\": \"app.py:10\"}"));
    free(buf);
    trend_free(&t);
    for (int i = 0; i < 4; i++)
        snapshot_free(&s[i]);
    intern_free(in);
}

static void test_trend__errors(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s[3];
    const snapshot *ptr[3];
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t;
    char err[256];
    static const char *const names[] = {"a.snap", "b.snap", "c.snap"};
    /* No time in b.snap. */
    for (int i = 0; i < 3; i++) {
        load_at(&s[i], in, i == 1 ? -1 : 1.7e9 + i, 7, 10, 10);
        s[i].path = strdup(names[i]);
        ptr[i] = &s[i];
    }
    assert_int_equal(trend_compute(ptr, 3, in, &o, &t, err, sizeof err), -1);
    assert_string_equal(err, "b.snap: no time in its metadata (--trend orders the snapshots by it)");
    for (int i = 0; i < 3; i++)
        snapshot_free(&s[i]);
    /* Two at the same time. */
    for (int i = 0; i < 3; i++) {
        load_at(&s[i], in, 1.7e9 + (i == 2 ? 0 : i), 7, 10, 10);
        s[i].path = strdup(names[i]);
    }
    assert_int_equal(trend_compute(ptr, 3, in, &o, &t, err, sizeof err), -1);
    assert_string_equal(err, "a.snap and c.snap have the same time");
    for (int i = 0; i < 3; i++)
        snapshot_free(&s[i]);
    /* Two processes, or one snapshot with a pid and one without. */
    for (int i = 0; i < 3; i++) {
        load_at(&s[i], in, 1.7e9 + i, i == 2 ? 8 : 7, 10, 10);
        s[i].path = strdup(names[i]);
    }
    assert_int_equal(trend_compute(ptr, 3, in, &o, &t, err, sizeof err), -1);
    assert_string_equal(err, "a.snap and c.snap are snapshots of different processes: --trend "
                             "follows one process (--by-pid: one trend per process)");
    snapshot_free(&s[2]);
    load_at(&s[2], in, 1.7e9 + 2, -1, 10, 10);
    s[2].path = strdup(names[2]);
    assert_int_equal(trend_compute(ptr, 3, in, &o, &t, err, sizeof err), -1);
    for (int i = 0; i < 3; i++)
        snapshot_free(&s[i]);
    intern_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trend__student_tail),
        cmocka_unit_test(test_trend__holm),
        cmocka_unit_test(test_trend__exact_line),
        cmocka_unit_test(test_trend__no_false_leak_white),
        cmocka_unit_test(test_trend__no_false_leak_random_walk),
        cmocka_unit_test(test_trend__no_false_leak_shared_blocks),
        cmocka_unit_test(test_trend__leak_found_with_its_slope),
        cmocka_unit_test(test_trend__snapshots_ordered_by_time),
        cmocka_unit_test(test_trend__exact_mode_wants_steady_rises),
        cmocka_unit_test(test_trend__processes_decided_together),
        cmocka_unit_test(test_trend__output),
        cmocka_unit_test(test_trend__errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
