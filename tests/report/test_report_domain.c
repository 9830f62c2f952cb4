/* Unit tests of domain names and --domain specs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "domain.h"
#include "mprofile/mprofile.h"

static void test_domain__native_is_the_library_domain(void **state)
{
    (void)state;
    assert_true(DOMAIN_NATIVE == (int64_t)MPROFILE_NATIVE_DOMAIN);
    assert_true(DOMAIN_NATIVE == 1297108545);
}

static void test_domain__names(void **state)
{
    (void)state;
    char buf[32];
    domain_name(buf, sizeof buf, 0);
    assert_string_equal(buf, "python");
    domain_name(buf, sizeof buf, 1297108545);
    assert_string_equal(buf, "native");
    domain_name(buf, sizeof buf, 389047);
    assert_string_equal(buf, "tracked:389047");
    domain_name(buf, sizeof buf, 4294967295);
    assert_string_equal(buf, "tracked:4294967295");
    domain_name(buf, sizeof buf, -1);
    assert_string_equal(buf, "tracked:-1");
}

static void spec_is(const char *text, int tracked, int64_t domain)
{
    domain_spec s;
    assert_int_equal(domain_spec_parse(text, 1, &s), 0);
    assert_int_equal(s.tracked, tracked);
    if (!tracked)
        assert_true(s.domain == domain);
    assert_int_equal(s.inclusive, 1);
}

static void test_domain__parses_specs(void **state)
{
    (void)state;
    spec_is("python", 0, 0);
    spec_is("native", 0, 1297108545);
    spec_is("tracked", 1, 0);
    spec_is("0", 0, 0);
    spec_is("389047", 0, 389047);
    spec_is("4294967295", 0, 4294967295);
    spec_is("0x4D504E41", 0, 1297108545);
    spec_is("0xffffffff", 0, 4294967295);
    spec_is("-1", 0, -1);
    spec_is("9223372036854775807", 0, INT64_MAX);
    spec_is("-9223372036854775808", 0, INT64_MIN);
    static const char *const bad[] = {"", "Python", "natives", "tracked:1", "1x", "0x", "-",
                                      " 1", "1 ", "+1", "9223372036854775808", "0x1g", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        domain_spec s;
        if (domain_spec_parse(bad[i], 0, &s) != -1)
            fail_msg("'%s' accepted", bad[i]);
    }
}

static int passes(const char *const *specs, const int *inclusive, size_t n, int64_t domain)
{
    domain_spec s[8];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(domain_spec_parse(specs[i], inclusive[i], &s[i]), 0);
    return domain_passes(s, n, domain);
}

static void test_domain__filters_like_domain_filter(void **state)
{
    (void)state;
    /* No spec: everything. */
    assert_true(domain_passes(NULL, 0, 389047));
    /* Inclusive specs are ORed: DomainFilter(True, d) for each. */
    const char *inc[] = {"python", "389047"};
    const int yes[] = {1, 1};
    assert_true(passes(inc, yes, 2, 0));
    assert_true(passes(inc, yes, 2, 389047));
    assert_false(passes(inc, yes, 2, 1297108545));
    /* Exclusive specs: DomainFilter(False, d) each. */
    const char *exc[] = {"native", "5"};
    const int no[] = {0, 0};
    assert_true(passes(exc, no, 2, 0));
    assert_false(passes(exc, no, 2, 1297108545));
    assert_false(passes(exc, no, 2, 5));
    /* tracked: every domain but python and native. */
    const char *tr[] = {"tracked"};
    assert_true(passes(tr, yes, 1, 389047));
    assert_true(passes(tr, yes, 1, 4294967295));
    assert_false(passes(tr, yes, 1, 0));
    assert_false(passes(tr, yes, 1, 1297108545));
    assert_false(passes(tr, no, 1, 389047));
    assert_true(passes(tr, no, 1, 1297108545));
    /* Both kinds: included by one and excluded by none. */
    const char *mix[] = {"tracked", "389047"};
    const int mixed[] = {1, 0};
    assert_true(passes(mix, mixed, 2, 7));
    assert_false(passes(mix, mixed, 2, 389047));
    assert_false(passes(mix, mixed, 2, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain__native_is_the_library_domain),
        cmocka_unit_test(test_domain__names),
        cmocka_unit_test(test_domain__parses_specs),
        cmocka_unit_test(test_domain__filters_like_domain_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
