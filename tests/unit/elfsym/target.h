/* What tests/unit/elfsym/target.c tells test_elfsym about itself. */
#ifndef MP_TEST_ELFSYM_TARGET_H
#define MP_TEST_ELFSYM_TARGET_H

/* Run-time addresses of the functions that dlsym cannot give: the static ones, an IFUNC's
 * resolver (dlsym returns what it resolved to), the hand-made symbols. */
typedef struct {
    const void *local;    /* elfsym_local: static, so only in .symtab */
    const void *resolver; /* elfsym_resolve, static, the resolver of elfsym_ifunc */
    const void *outer;    /* elfsym_outer: 64 bytes, then a 16-byte gap no symbol covers */
    const void *inner;    /* elfsym_inner: 16 bytes at outer + 16 */
    const void *nosize;   /* elfsym_nosize: a function symbol of size 0 */
} elfsym_target_addresses_t;

void elfsym_target_addresses(elfsym_target_addresses_t *out);

#endif
