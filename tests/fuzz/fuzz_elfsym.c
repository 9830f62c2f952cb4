/* libFuzzer target: any byte string as an ELF file for lib/elfsym.c (validation, the build id
 * check, the lookup) and as a note area for mp_elfsym_build_id. It must never crash, hang or
 * read outside the input, and every name it gives must satisfy the lookup's contract. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elfsym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NQUERIES 16

/* Queries worth asking: at the start, in the middle and just past the end of the first
 * function symbols, and the extremes. */
static size_t
make_queries(const mp_elfsym_file_t *f, mp_elfsym_query_t *q)
{
    static const uint64_t fixed[] = {0, 1, UINT64_MAX};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        q[n++] = (mp_elfsym_query_t){.addr = fixed[i]};
    for (uint32_t i = 1; i < f->nsyms && n + 3 <= NQUERIES; i++) {
        const Elf64_Sym *s = &f->syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        q[n++] = (mp_elfsym_query_t){.addr = s->st_value};
        q[n++] = (mp_elfsym_query_t){.addr = s->st_value + s->st_size / 2};
        q[n++] = (mp_elfsym_query_t){.addr = s->st_value + s->st_size};
    }
    for (size_t i = 0; i < n; i++)
        q[i].tag = (uint32_t)i;
    return n;
}

/* Whether a comes before b in the lookup's order of preference. */
static int
precedes(const mp_elfsym_file_t *f, const Elf64_Sym *a, const Elf64_Sym *b)
{
    /* By binding: global, weak, local, then the others (4 bits). */
    static const int rank[16] = {2, 0, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    int ra = rank[ELF64_ST_BIND(a->st_info)], rb = rank[ELF64_ST_BIND(b->st_info)];
    if (a->st_size != b->st_size)
        return a->st_size < b->st_size;
    if (ra != rb)
        return ra < rb;
    if (a->st_value != b->st_value)
        return a->st_value < b->st_value;
    const char *na = f->strtab + a->st_name, *nb = f->strtab + b->st_name;
    size_t ua = strspn(na, "_"), ub = strspn(nb, "_");
    if (ua != ub)
        return ua < ub;
    return strcmp(na, nb) < 0;
}

/* The lookup's contract, the slow way: the index of the symbol that names addr, every symbol
 * tried in turn (ties keep the lower index). */
static uint32_t
naive_lookup(const mp_elfsym_file_t *f, uint64_t addr)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < f->nsyms; i++) {
        const Elf64_Sym *s = &f->syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
            s->st_name >= f->strsz || f->strtab[s->st_name] == '\0' ||
            s->st_value > UINT64_MAX - s->st_size || addr < s->st_value ||
            addr >= s->st_value + s->st_size)
            continue;
        if (best == 0 || precedes(f, s, &f->syms[best]))
            best = i;
    }
    return best;
}

static void
check_lookup(const mp_elfsym_file_t *f)
{
    mp_elfsym_query_t q[NQUERIES];
    uint64_t asked[NQUERIES];
    size_t n = make_queries(f, q);
    for (size_t i = 0; i < n; i++)
        asked[i] = q[i].addr;
    mp_elfsym_lookup(f, q, n);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && q[i - 1].addr > q[i].addr) || q[i].tag >= n || asked[q[i].tag] != q[i].addr ||
            (seen >> q[i].tag & 1))
            abort(); /* not a sorted permutation of the queries */
        seen |= 1u << q[i].tag;
        if (q[i].sym_index != naive_lookup(f, q[i].addr))
            abort(); /* not the symbol the contract names */
        if (q[i].sym_index == 0 ? q[i].name != NULL
                                : q[i].name != f->strtab + f->syms[q[i].sym_index].st_name ||
                                      q[i].sym_addr != f->syms[q[i].sym_index].st_value)
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The image must be 8-byte aligned, as a mapping is: a copy, exactly as long as the input,
     * so that the sanitizer sees any read past its end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);

    /* The input as a note area too. */
    uint8_t id[MP_ELFSYM_BUILD_ID_MAX];
    if (mp_elfsym_build_id(copy, size, id, sizeof(id)) > sizeof(id))
        abort();

    mp_elfsym_file_t f;
    int rc = mp_elfsym_parse(&f, copy, size, NULL, 0);
    if (rc == 0)
        check_lookup(&f);
    else if (rc != -ENOEXEC)
        abort();
    /* The seeds' build id (tests/fuzz/make_elfsym_corpus.sh), so that mutants of them reach
     * the symbols past the build id check. */
    static const uint8_t seed_id[20] = {0x5e, 0x1f, 0x5e, 0x1f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    rc = mp_elfsym_parse(&f, copy, size, seed_id, sizeof(seed_id));
    if (rc == 0)
        check_lookup(&f);
    else if (rc != -ENOEXEC && rc != -ESTALE)
        abort();
    free(copy);
    return 0;
}
