/* A table of distinct byte strings, numbered 0, 1, 2, ... in order of
 * first insertion: pprof's string table, and any other set of keys that
 * needs dense ids in a deterministic order. */
#ifndef MPROFILE_REPORT_STRTAB_H
#define MPROFILE_REPORT_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct strtab {
    char *pool; /* the strings, back to back */
    size_t pool_len, pool_cap;
    size_t *off, *len; /* per index */
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t nslots;
} strtab;

/* A zeroed strtab is empty; strtab_free releases it. */
void strtab_free(strtab *t);
/* The index of s (len bytes, any bytes), added when new.  -1 when out of memory. */
int64_t strtab_add(strtab *t, const void *s, size_t len);
size_t strtab_count(const strtab *t);
/* String i (not NUL-terminated) and its length. */
const char *strtab_get(const strtab *t, size_t i, size_t *len);

#endif
