/* tracemalloc domains: their names in reports and the --domain filters. */
#ifndef MPROFILE_REPORT_DOMAIN_H
#define MPROFILE_REPORT_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

/* Domain 0: tracemalloc's default domain, Python's allocators. */
#define DOMAIN_PYTHON 0
/* Native heap blocks recorded by libmprofile (MPROFILE_NATIVE=1):
 * MPROFILE_NATIVE_DOMAIN of include/mprofile/mprofile.h, which the tool
 * does not include (test_report_domain checks that both agree). */
#define DOMAIN_NATIVE ((int64_t)0x4D504E41)

/* One --domain / --exclude-domain: a domain number, or with tracked set
 * every domain but python and native. */
typedef struct domain_spec {
    int tracked;
    int64_t domain;
    int inclusive;
} domain_spec;

/* "python", "native", "tracked" or a number (decimal, or hexadecimal with
 * 0x), any 64-bit integer.  Returns 0, or -1 when spec is none of those. */
int domain_spec_parse(const char *spec, int inclusive, domain_spec *out);
/* tracemalloc.Snapshot.filter_traces with DomainFilters: kept when it
 * matches at least one inclusive spec (if there is any) and no exclusive
 * one. */
int domain_passes(const domain_spec *specs, size_t n, int64_t domain);
/* "python", "native" or "tracked:N". */
void domain_name(char *buf, size_t buflen, int64_t domain);

#endif
