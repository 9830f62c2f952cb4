#include "domain.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Digits of base 10 or 16 up to the end of s; no sign, no spaces. */
static int parse_digits(const char *s, unsigned base, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && isxdigit((unsigned char)*s))
            d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
        else
            return -1;
        if (v > (limit - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

int domain_spec_parse(const char *spec, int inclusive, domain_spec *out)
{
    *out = (domain_spec){.inclusive = inclusive};
    if (strcmp(spec, "python") == 0) {
        out->domain = DOMAIN_PYTHON;
        return 0;
    }
    if (strcmp(spec, "native") == 0) {
        out->domain = DOMAIN_NATIVE;
        return 0;
    }
    if (strcmp(spec, "tracked") == 0) {
        out->tracked = 1;
        return 0;
    }
    const char *s = spec;
    int neg = *s == '-';
    s += neg;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    uint64_t v;
    if (parse_digits(s, base, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v) < 0)
        return -1;
    out->domain = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int spec_matches(const domain_spec *s, int64_t domain)
{
    if (s->tracked)
        return domain != DOMAIN_PYTHON && domain != DOMAIN_NATIVE;
    return domain == s->domain;
}

int domain_passes(const domain_spec *specs, size_t n, int64_t domain)
{
    int has_include = 0, included = 0;
    for (size_t i = 0; i < n; i++) {
        int m = spec_matches(&specs[i], domain);
        if (!specs[i].inclusive && m)
            return 0;
        has_include |= specs[i].inclusive;
        included |= specs[i].inclusive && m;
    }
    return !has_include || included;
}

void domain_name(char *buf, size_t buflen, int64_t domain)
{
    if (domain == DOMAIN_PYTHON)
        snprintf(buf, buflen, "python");
    else if (domain == DOMAIN_NATIVE)
        snprintf(buf, buflen, "native");
    else
        snprintf(buf, buflen, "tracked:%" PRId64, domain);
}
