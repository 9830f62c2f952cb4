#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
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
        cmocka_unit_test(test_config__bad_values_name_the_variable),
        cmocka_unit_test(test_config__expand_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
