#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

/* A fake environment: NAME=value pairs. */
static const char *fake_env[16];

static const char *
fake_getenv(const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; fake_env[i] != NULL; i++) {
        if (strncmp(fake_env[i], name, len) == 0 && fake_env[i][len] == '=') {
            return fake_env[i] + len + 1;
        }
    }
    return NULL;
}

static int
parse(mp_config_t *cfg, char *err, const char *a, const char *b)
{
    memset(fake_env, 0, sizeof(fake_env));
    fake_env[0] = a;
    fake_env[1] = b;
    return mp_config_parse(cfg, fake_getenv, err, 256);
}

static void
test_config__defaults(void **state)
{
    mp_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, NULL, NULL), 0);
    assert_int_equal(cfg.rate, 131072);
    assert_int_equal(cfg.frames, 128);
    assert_string_equal(cfg.out, "mprofile.%p.%n.snap");
    assert_int_equal(cfg.signal, SIGUSR2);
    assert_int_equal(cfg.at_exit, 1);
    assert_int_equal(cfg.has_seed, 0);
}

static void
test_config__good_values(void **state)
{
    mp_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, "MPROFILE_RATE=512k", "MPROFILE_SIGNAL=SIGUSR1"), 0);
    assert_int_equal(cfg.rate, 512 * 1024);
    assert_int_equal(cfg.signal, SIGUSR1);
    assert_int_equal(parse(&cfg, err, "MPROFILE_RATE=2M", "MPROFILE_SIGNAL=none"), 0);
    assert_int_equal(cfg.rate, 2 * 1024 * 1024);
    assert_int_equal(cfg.signal, 0);
    assert_int_equal(parse(&cfg, err, "MPROFILE_RATE=1", "MPROFILE_SEED=12345"), 0);
    assert_int_equal(cfg.rate, 1);
    assert_int_equal(cfg.seed, 12345);
    assert_int_equal(parse(&cfg, err, "MPROFILE_FRAMES=65535", "MPROFILE_SIGNAL=12"), 0);
    assert_int_equal(cfg.frames, 65535);
    assert_int_equal(cfg.signal, 12);
    assert_int_equal(parse(&cfg, err, "MPROFILE_AT_EXIT=0", "MPROFILE_LOG=debug"), 0);
    assert_int_equal(cfg.at_exit, 0);
    assert_int_equal(cfg.log_level, MP_LOG_DEBUG);
    assert_int_equal(cfg.mixed, 0);
    assert_int_equal(cfg.native_frames, MP_DEFAULT_NATIVE_FRAMES);
    assert_int_equal(parse(&cfg, err, "MPROFILE_STACKS=mixed", "MPROFILE_NATIVE_FRAMES=128"), 0);
    assert_int_equal(cfg.mixed, 1);
    assert_int_equal(cfg.native_frames, 128);
    assert_int_equal(parse(&cfg, err, "MPROFILE_STACKS=python", "MPROFILE_NATIVE_FRAMES=1"), 0);
    assert_int_equal(cfg.mixed, 0);
    assert_int_equal(cfg.native_frames, 1);
}

static void
expect_bad(const char *setting, const char *variable)
{
    mp_config_t cfg;
    char err[256] = "";
    assert_int_equal(parse(&cfg, err, setting, NULL), -1);
    /* The message names the variable. */
    assert_non_null(strstr(err, variable));
}

static void
test_config__peak_and_periodic_snapshots(void **state)
{
    mp_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, NULL, NULL), 0);
    assert_int_equal(cfg.peak, 1);
    assert_true(cfg.interval == 0);
    assert_int_equal(cfg.dump_growth, 0);
    assert_int_equal(cfg.max_files, MP_DEFAULT_MAX_FILES);
    assert_int_equal(parse(&cfg, err, "MPROFILE_PEAK=0", "MPROFILE_INTERVAL=0.5"), 0);
    assert_int_equal(cfg.peak, 0);
    assert_true(cfg.interval == 0.5);
    assert_int_equal(parse(&cfg, err, "MPROFILE_INTERVAL=60", "MPROFILE_DUMP_GROWTH=64m"), 0);
    assert_true(cfg.interval == 60);
    assert_int_equal(cfg.dump_growth, 64u << 20);
    assert_int_equal(parse(&cfg, err, "MPROFILE_INTERVAL=0", "MPROFILE_MAX_FILES=3"), 0);
    assert_true(cfg.interval == 0);
    assert_int_equal(cfg.max_files, 3);
    expect_bad("MPROFILE_PEAK=sometimes", "MPROFILE_PEAK");
    expect_bad("MPROFILE_INTERVAL=0.05", "MPROFILE_INTERVAL");
    expect_bad("MPROFILE_INTERVAL=-1", "MPROFILE_INTERVAL");
    expect_bad("MPROFILE_INTERVAL=10s", "MPROFILE_INTERVAL");
    expect_bad("MPROFILE_INTERVAL=nan", "MPROFILE_INTERVAL");
    expect_bad("MPROFILE_INTERVAL=", "MPROFILE_INTERVAL");
    expect_bad("MPROFILE_DUMP_GROWTH=lots", "MPROFILE_DUMP_GROWTH");
    expect_bad("MPROFILE_MAX_FILES=0", "MPROFILE_MAX_FILES");
    expect_bad("MPROFILE_MAX_FILES=100001", "MPROFILE_MAX_FILES");
    expect_bad("MPROFILE_MAX_FILES=1k", "MPROFILE_MAX_FILES");
}

static void
test_config__bad_values_name_the_variable(void **state)
{
    expect_bad("MPROFILE_RATE=abc", "MPROFILE_RATE");
    expect_bad("MPROFILE_RATE=", "MPROFILE_RATE");
    expect_bad("MPROFILE_RATE=-5", "MPROFILE_RATE");
    expect_bad("MPROFILE_RATE=12q", "MPROFILE_RATE");
    expect_bad("MPROFILE_RATE=99999999999999999999999", "MPROFILE_RATE");
    expect_bad("MPROFILE_FRAMES=0", "MPROFILE_FRAMES");
    expect_bad("MPROFILE_FRAMES=65536", "MPROFILE_FRAMES");
    expect_bad("MPROFILE_FRAMES=1k", "MPROFILE_FRAMES");
    expect_bad("MPROFILE_FRAMES=ten", "MPROFILE_FRAMES");
    expect_bad("MPROFILE_SIGNAL=USR3", "MPROFILE_SIGNAL");
    expect_bad("MPROFILE_SIGNAL=9", "MPROFILE_SIGNAL");
    expect_bad("MPROFILE_SIGNAL=0", "MPROFILE_SIGNAL");
    expect_bad("MPROFILE_SIGNAL=", "MPROFILE_SIGNAL");
    expect_bad("MPROFILE_AT_EXIT=maybe", "MPROFILE_AT_EXIT");
    expect_bad("MPROFILE_SEED=-1", "MPROFILE_SEED");
    expect_bad("MPROFILE_SEED=x", "MPROFILE_SEED");
    expect_bad("MPROFILE_LOG=loud", "MPROFILE_LOG");
    expect_bad("MPROFILE_OUT=snap.%q", "MPROFILE_OUT");
    expect_bad("MPROFILE_OUT=", "MPROFILE_OUT");
    expect_bad("MPROFILE_STACKS=native", "MPROFILE_STACKS");
    expect_bad("MPROFILE_STACKS=", "MPROFILE_STACKS");
    expect_bad("MPROFILE_NATIVE_FRAMES=0", "MPROFILE_NATIVE_FRAMES");
    expect_bad("MPROFILE_NATIVE_FRAMES=129", "MPROFILE_NATIVE_FRAMES");
}

static void
test_config__only_signals_safe_to_take_over(void **state)
{
    int sig = -1;
    /* Faults, termination, job control, children, timers: refused (-2), never taken over. */
    const char *refused[] = {"SEGV", "SIGBUS", "FPE", "ILL", "CHLD", "INT", "TERM", "HUP",
                             "QUIT", "ABRT", "PIPE", "ALRM", "KILL", "STOP", "TSTP", "11",
                             "15", "2", "PROF", "WINCH", "32", "33"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(mp_config_parse_signal(refused[i], &sig), -2);
    }
    const char *invalid[] = {"USR3", "", "0", "65", "RTMIN+99", "RTMAX+1", "RTMIN-1", "RTMIN+"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_int_equal(mp_config_parse_signal(invalid[i], &sig), -1);
    }
    assert_int_equal(mp_config_parse_signal("usr1", &sig), 0);
    assert_int_equal(sig, SIGUSR1);
    assert_int_equal(mp_config_parse_signal("SIGUSR2", &sig), 0);
    assert_int_equal(sig, SIGUSR2);
    assert_int_equal(mp_config_parse_signal("RTMIN", &sig), 0);
    assert_int_equal(sig, SIGRTMIN);
    assert_int_equal(mp_config_parse_signal("SIGRTMIN+3", &sig), 0);
    assert_int_equal(sig, SIGRTMIN + 3);
    assert_int_equal(mp_config_parse_signal("RTMAX-2", &sig), 0);
    assert_int_equal(sig, SIGRTMAX - 2);
    char number[16];
    snprintf(number, sizeof(number), "%d", SIGRTMIN);
    assert_int_equal(mp_config_parse_signal(number, &sig), 0);
    assert_int_equal(sig, SIGRTMIN);
    assert_int_equal(mp_config_parse_signal("none", &sig), 0);
    assert_int_equal(sig, 0);

    mp_config_t cfg;
    char err[256] = "";
    assert_int_equal(parse(&cfg, err, "MPROFILE_SIGNAL=SEGV", NULL), -1);
    assert_non_null(strstr(err, "MPROFILE_SIGNAL=SEGV is refused"));
}

static void
test_config__memory_budget(void **state)
{
    mp_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, NULL, NULL), 0);
    assert_true(cfg.max_memory == MP_DEFAULT_MAX_MEMORY);
    assert_int_equal(parse(&cfg, err, "MPROFILE_MAX_MEMORY=2g", NULL), 0);
    assert_true(cfg.max_memory == (uint64_t)2 << 30);
    assert_int_equal(parse(&cfg, err, "MPROFILE_MAX_MEMORY=4m", NULL), 0);
    assert_true(cfg.max_memory == (uint64_t)4 << 20);
    expect_bad("MPROFILE_MAX_MEMORY=3m", "MPROFILE_MAX_MEMORY");
    expect_bad("MPROFILE_MAX_MEMORY=lots", "MPROFILE_MAX_MEMORY");
}

static int getenv_calls;

static const char *
counting_getenv(const char *name)
{
    getenv_calls++;
    return fake_getenv(name);
}

/* A setuid or setgid program: its environment belongs to whoever started it, so nothing of it
 * is read and the profiler stays dormant. */
static void
test_config__setuid_reads_nothing(void **state)
{
    mp_config_t cfg;
    char err[256];
    memset(fake_env, 0, sizeof(fake_env));
    fake_env[0] = "MPROFILE_RATE=1";
    fake_env[1] = "MPROFILE_OUT=/etc/passwd";
    getenv_calls = 0;
    assert_int_equal(mp_config_load(&cfg, 1, counting_getenv, err, sizeof(err)), 1);
    assert_int_equal(getenv_calls, 0);
    assert_int_equal(mp_config_load(&cfg, 0, counting_getenv, err, sizeof(err)), 0);
    assert_true(getenv_calls > 0);
    assert_int_equal(cfg.rate, 1);
}

static void
test_config__out_made_absolute(void **state)
{
    mp_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, "MPROFILE_OUT=snaps/x.%n.snap", "MPROFILE_AT_EXIT=1"), 0);
    assert_int_equal(cfg.at_exit_given, 1);
    assert_int_equal(mp_config_absolute_out(&cfg, "/srv/app"), 0);
    assert_string_equal(cfg.out, "/srv/app/snaps/x.%n.snap");
    assert_int_equal(mp_config_absolute_out(&cfg, "/elsewhere"), 0); /* already absolute */
    assert_string_equal(cfg.out, "/srv/app/snaps/x.%n.snap");
    assert_int_equal(parse(&cfg, err, "MPROFILE_OUT=y.snap", NULL), 0);
    assert_int_equal(cfg.at_exit_given, 0);
    assert_int_equal(mp_config_absolute_out(&cfg, "/"), 0);
    assert_string_equal(cfg.out, "/y.snap");
    /* A directory whose name has a percent sign stays literal. */
    assert_int_equal(parse(&cfg, err, "MPROFILE_OUT=y.%n.snap", NULL), 0);
    assert_int_equal(mp_config_absolute_out(&cfg, "/data/100%"), 0);
    assert_string_equal(cfg.out, "/data/100%%/y.%n.snap");
    char out[64];
    assert_int_equal(mp_config_expand_path(cfg.out, 1, 2, 3, out, sizeof(out)), 0);
    assert_string_equal(out, "/data/100%/y.2.snap");
}

static void
test_config__expand_path(void **state)
{
    char out[64];
    assert_int_equal(mp_config_expand_path("mp.%p.%n.%t.%%.snap", 42, 3, 1700000000, out, sizeof(out)), 0);
    assert_string_equal(out, "mp.42.3.1700000000.%.snap");
    assert_int_equal(mp_config_expand_path("%x", 1, 1, 1, out, sizeof(out)), -1);
    assert_int_equal(mp_config_expand_path("trailing%", 1, 1, 1, out, sizeof(out)), -1);
    assert_int_equal(mp_config_expand_path("0123456789", 1, 1, 1, out, 5), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults),
        cmocka_unit_test(test_config__good_values),
        cmocka_unit_test(test_config__peak_and_periodic_snapshots),
        cmocka_unit_test(test_config__bad_values_name_the_variable),
        cmocka_unit_test(test_config__expand_path),
        cmocka_unit_test(test_config__only_signals_safe_to_take_over),
        cmocka_unit_test(test_config__memory_budget),
        cmocka_unit_test(test_config__setuid_reads_nothing),
        cmocka_unit_test(test_config__out_made_absolute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
