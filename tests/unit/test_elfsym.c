/*
 * elfsym.c: naming link-time addresses from ELF files. The purpose-built object
 * (tests/unit/elfsym/target.c, with a fixed build id) is loaded with dlopen, so that its
 * addresses are found as the profiler finds them: a run-time address minus the load bias. The
 * build also makes a copy stripped of .symtab and a separate debug file laid out as under
 * /usr/lib/debug. The C library is the real case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsym.h"
#include "target.h"

typedef struct {
    uintptr_t bias; /* the loaded target's */
    uint8_t id[MP_ELFSYM_BUILD_ID_MAX];
    size_t id_len;
    uint64_t global, zeta, local, resolver, outer, inner, nosize; /* link-time addresses */
} target_t;

static target_t target;

static size_t
parse_hex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < max) {
        unsigned byte;
        if (sscanf(hex, "%2x", &byte) != 1)
            break;
        out[n++] = (uint8_t)byte;
        hex += 2;
    }
    return n;
}

static uint64_t
link_addr(const void *p)
{
    return (uint64_t)((uintptr_t)p - target.bias);
}

static int
setup(void **state)
{
    void *h = dlopen(MP_ELFSYM_TARGET, RTLD_NOW);
    if (!h) {
        print_error("%s\n", dlerror());
        return -1;
    }
    struct link_map *lm;
    void (*addresses)(elfsym_target_addresses_t *) = dlsym(h, "elfsym_target_addresses");
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !addresses)
        return -1;
    target.bias = lm->l_addr;
    target.id_len = parse_hex(MP_ELFSYM_BUILD_ID, target.id, sizeof(target.id));
    elfsym_target_addresses_t a;
    addresses(&a);
    target.global = link_addr(dlsym(h, "elfsym_global"));
    target.zeta = link_addr(dlsym(h, "elfsym_zeta"));
    target.local = link_addr(a.local);
    target.resolver = link_addr(a.resolver);
    target.outer = link_addr(a.outer);
    target.inner = link_addr(a.inner);
    target.nosize = link_addr(a.nosize);
    /* The object stays loaded: the tests read its notes in memory. */
    return 0;
}

static void
check_name(const mp_elfsym_file_t *f, uint64_t addr, const char *want)
{
    mp_elfsym_query_t q = {.addr = addr};
    mp_elfsym_lookup(f, &q, 1);
    if (want ? !q.name || strcmp(q.name, want) != 0 : q.name != NULL) {
        print_error("address %#llx: named %s, expected %s\n", (unsigned long long)addr,
                    q.name ? q.name : "(none)", want ? want : "(none)");
        fail();
    }
    assert_int_equal(q.sym_index == 0, q.name == NULL);
}

/* What both the full object and its stripped copy name: the exported functions. */
static void
check_exported(const mp_elfsym_file_t *f)
{
    /* A weak alias (and in .symtab a local one) of the same size: the global name wins. */
    check_name(f, target.global, "elfsym_global");
    check_name(f, target.global + 1, "elfsym_global");
    /* Two global names: the first in strcmp order. */
    check_name(f, target.zeta + 1, "elfsym_alpha");
    /* The IFUNC symbol is global, its resolver local: same address and size. */
    check_name(f, target.resolver + 1, "elfsym_ifunc");
    /* Nested symbols: the smaller one contains the address. */
    check_name(f, target.outer, "elfsym_outer");
    check_name(f, target.outer + 15, "elfsym_outer");
    check_name(f, target.inner, "elfsym_inner");
    check_name(f, target.inner + 15, "elfsym_inner");
    check_name(f, target.outer + 32, "elfsym_outer");
    check_name(f, target.outer + 63, "elfsym_outer");
    /* Past the end of elfsym_outer, in the gap: nothing, not the function before. */
    check_name(f, target.outer + 64, NULL);
    check_name(f, target.outer + 79, NULL);
    /* A symbol of size 0 names nothing, not even its own address. */
    check_name(f, target.nosize, NULL);
    check_name(f, target.nosize + 8, NULL);
    check_name(f, 0, NULL);
    check_name(f, UINT64_MAX, NULL);
}

static void
test_elfsym__names_from_symtab(void **state)
{
    mp_elfsym_file_t f;
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_TARGET, target.id, target.id_len), 0);
    check_exported(&f);
    check_name(&f, target.local, "elfsym_local");
    check_name(&f, target.local + 1, "elfsym_local");

    mp_elfsym_query_t q = {.addr = target.inner + 3, .tag = 7};
    mp_elfsym_lookup(&f, &q, 1);
    assert_int_equal(q.sym_addr, target.inner);
    assert_int_equal(q.tag, 7);
    assert_true(q.name > f.map && q.name < f.map + f.size);
    mp_elfsym_close(&f);
    assert_null(f.map);
    mp_elfsym_close(&f); /* an empty one: nothing to do */
}

static void
test_elfsym__stripped_has_only_exported_names(void **state)
{
    mp_elfsym_file_t f;
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_STRIPPED, target.id, target.id_len), 0);
    check_exported(&f);
    check_name(&f, target.local + 1, NULL);
    mp_elfsym_close(&f);
}

static char tmpdir[64];

static char *
tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void
write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void *
read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    void *buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static int
setup_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_elfsym.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_tmpdir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_elfsym__debug_file_first(void **state)
{
    mp_elfsym_file_t f;
    /* The debug file has .symtab, the static function included; the stripped file has not. */
    assert_int_equal(mp_elfsym_open_best_in(&f, MP_ELFSYM_DEBUG_DIR, MP_ELFSYM_STRIPPED, target.id,
                                            target.id_len),
                     0);
    check_exported(&f);
    check_name(&f, target.local + 1, "elfsym_local");
    mp_elfsym_close(&f);

    /* No debug file: the file itself. */
    assert_int_equal(
        mp_elfsym_open_best_in(&f, tmpdir, MP_ELFSYM_STRIPPED, target.id, target.id_len), 0);
    check_name(&f, target.local + 1, NULL);
    check_name(&f, target.global, "elfsym_global");
    mp_elfsym_close(&f);

    /* A debug file that is not ELF: the file itself too. */
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/.build-id", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/.build-id/%.2s", tmpdir, MP_ELFSYM_BUILD_ID);
    assert_int_equal(mkdir(dir, 0755), 0);
    char debug[256];
    snprintf(debug, sizeof(debug), "%s/%s.debug", dir, MP_ELFSYM_BUILD_ID + 2);
    write_file(debug, "not ELF", 7);
    assert_int_equal(
        mp_elfsym_open_best_in(&f, tmpdir, MP_ELFSYM_STRIPPED, target.id, target.id_len), 0);
    check_name(&f, target.local + 1, NULL);
    mp_elfsym_close(&f);

    /* Without a build id there is no debug file to look for. */
    assert_int_equal(mp_elfsym_open_best_in(&f, MP_ELFSYM_DEBUG_DIR, MP_ELFSYM_STRIPPED, NULL, 0),
                     0);
    check_name(&f, target.local + 1, NULL);
    mp_elfsym_close(&f);
}

static void
test_elfsym__build_id_must_match(void **state)
{
    mp_elfsym_file_t f;
    uint8_t other[MP_ELFSYM_BUILD_ID_MAX];
    memcpy(other, target.id, target.id_len);
    other[target.id_len - 1] ^= 1;
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_TARGET, other, target.id_len), -ESTALE);
    assert_null(f.map);
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_STRIPPED, other, target.id_len), -ESTALE);
    /* A prefix of the right id is not the id. */
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_TARGET, target.id, target.id_len - 1), -ESTALE);
    /* Both the debug file and the file are of another build. */
    assert_int_equal(
        mp_elfsym_open_best_in(&f, MP_ELFSYM_DEBUG_DIR, MP_ELFSYM_TARGET, other, target.id_len),
        -ESTALE);
    /* No id given: nothing to check. */
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_TARGET, NULL, 0), 0);
    mp_elfsym_close(&f);
}

static void
test_elfsym__bad_files(void **state)
{
    mp_elfsym_file_t f;
    assert_int_equal(mp_elfsym_open(&f, tmp_path("missing"), NULL, 0), -ENOENT);
    assert_null(f.map);
    assert_int_equal(mp_elfsym_open(&f, tmpdir, NULL, 0), -ENOEXEC);

    write_file(tmp_path("text"), "#!/bin/sh\necho this is no ELF object at all\n", 44);
    assert_int_equal(mp_elfsym_open(&f, tmp_path("text"), NULL, 0), -ENOEXEC);
    write_file(tmp_path("empty"), "", 0);
    assert_int_equal(mp_elfsym_open(&f, tmp_path("empty"), NULL, 0), -ENOEXEC);

    /* The section headers are at the end: without them there is no symbol table. */
    size_t len;
    uint8_t *elf = read_file(MP_ELFSYM_TARGET, &len);
    write_file(tmp_path("truncated"), elf, len / 2);
    assert_int_equal(mp_elfsym_open(&f, tmp_path("truncated"), NULL, 0), -ENOEXEC);
    write_file(tmp_path("header"), elf, sizeof(Elf64_Ehdr) - 1);
    assert_int_equal(mp_elfsym_open(&f, tmp_path("header"), NULL, 0), -ENOEXEC);

    /* The copy in memory is valid, and each change below makes it invalid. */
    assert_int_equal(mp_elfsym_parse(&f, elf, len, target.id, target.id_len), 0);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
    const Elf64_Ehdr saved = *eh;
    eh->e_ident[EI_CLASS] = ELFCLASS32;
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    eh->e_ident[EI_DATA] = ELFDATA2MSB;
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    eh->e_machine = EM_AARCH64 == eh->e_machine ? EM_X86_64 : EM_AARCH64;
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    eh->e_type = ET_REL;
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    eh->e_shoff = UINT64_MAX - 8;
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    eh->e_shnum = (uint16_t)(len / sizeof(Elf64_Shdr));
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    *eh = saved;
    /* The string tables no longer end with a NUL: .symtab and .dynsym are both refused. */
    Elf64_Shdr *sh = (Elf64_Shdr *)(elf + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB || sh[i].sh_type == SHT_DYNSYM) {
            const Elf64_Shdr *str = &sh[sh[i].sh_link];
            elf[str->sh_offset + str->sh_size - 1] = 'x';
        }
    }
    assert_int_equal(mp_elfsym_parse(&f, elf, len, NULL, 0), -ENOEXEC);
    free(elf);
}

static void
test_elfsym__queries_are_sorted_and_keep_their_tags(void **state)
{
    mp_elfsym_file_t f;
    assert_int_equal(mp_elfsym_open(&f, MP_ELFSYM_TARGET, NULL, 0), 0);
    const struct {
        uint64_t addr;
        const char *name;
    } want[] = {
        {target.inner + 2, "elfsym_inner"},
        {target.outer + 70, NULL},
        {target.global, "elfsym_global"},
        {target.local, "elfsym_local"},
        {target.outer + 1, "elfsym_outer"},
        {target.inner + 2, "elfsym_inner"},
        {target.nosize, NULL},
        {target.zeta, "elfsym_alpha"},
        {target.outer + 40, "elfsym_outer"},
        {target.global, "elfsym_global"},
        {target.resolver, "elfsym_ifunc"},
        {3, NULL},
    };
    enum { N = sizeof(want) / sizeof(want[0]) };
    mp_elfsym_query_t q[N];
    for (uint32_t i = 0; i < N; i++)
        q[i] = (mp_elfsym_query_t){.addr = want[i].addr, .tag = i};
    mp_elfsym_lookup(&f, q, N);
    int seen[N] = {0};
    for (size_t i = 0; i < N; i++) {
        if (i > 0)
            assert_true(q[i - 1].addr <= q[i].addr);
        assert_true(q[i].tag < N);
        seen[q[i].tag]++;
        assert_int_equal(q[i].addr, want[q[i].tag].addr);
        if (want[q[i].tag].name)
            assert_string_equal(q[i].name, want[q[i].tag].name);
        else
            assert_null(q[i].name);
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    mp_elfsym_lookup(&f, q, 0); /* nothing to name */
    mp_elfsym_close(&f);
}

/* Appends a note to buf at *len, padded to 4 bytes. */
static void
add_note(uint8_t *buf, size_t *len, uint32_t type, const char *name, const void *desc,
         uint32_t descsz)
{
    Elf64_Nhdr nh = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};
    memcpy(buf + *len, &nh, sizeof(nh));
    *len += sizeof(nh);
    memcpy(buf + *len, name, nh.n_namesz);
    *len += (nh.n_namesz + 3) & ~3u;
    memcpy(buf + *len, desc, descsz);
    *len += (descsz + 3) & ~3u;
}

static void
test_elfsym__build_id_notes(void **state)
{
    static const uint8_t id[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                   11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    static const uint8_t prop[16] = {2, 0, 0, 0xc0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    uint8_t buf[256] = {0}, out[MP_ELFSYM_BUILD_ID_MAX];
    size_t len = 1; /* an unaligned start */
    add_note(buf, &len, NT_GNU_PROPERTY_TYPE_0, "GNU", prop, sizeof(prop));
    add_note(buf, &len, NT_GNU_BUILD_ID, "Go", "not this one", 12);
    add_note(buf, &len, NT_GNU_ABI_TAG, "GNU", id, 16);
    add_note(buf, &len, NT_GNU_BUILD_ID, "GNU", id, sizeof(id));
    assert_int_equal(mp_elfsym_build_id(buf + 1, len - 1, out, sizeof(out)), sizeof(id));
    assert_memory_equal(out, id, sizeof(id));
    /* Too long for out: none. */
    assert_int_equal(mp_elfsym_build_id(buf + 1, len - 1, out, 19), 0);
    /* Cut anywhere before its end: none, and nothing read past the cut (ASan). */
    for (size_t cut = 0; cut < len - 1; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, buf + 1, cut);
        assert_int_equal(mp_elfsym_build_id(copy, cut, out, sizeof(out)), 0);
        free(copy);
    }
    /* A name size that runs past the area. */
    Elf64_Nhdr huge = {.n_namesz = UINT32_MAX, .n_descsz = UINT32_MAX, .n_type = NT_GNU_BUILD_ID};
    assert_int_equal(mp_elfsym_build_id(&huge, sizeof(huge), out, sizeof(out)), 0);
}

typedef struct {
    uintptr_t addr;
    uint8_t id[MP_ELFSYM_BUILD_ID_MAX];
    size_t len;
} notes_t;

static int
find_notes(struct dl_phdr_info *info, size_t size, void *arg)
{
    notes_t *n = arg;
    if (info->dlpi_addr != n->addr)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && n->len == 0; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_NOTE)
            n->len = mp_elfsym_build_id((const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz,
                                        n->id, sizeof(n->id));
    }
    return 1;
}

/* The build id of the loaded object whose load bias is bias, from its notes in memory. */
static size_t
loaded_build_id(uintptr_t bias, uint8_t *out)
{
    notes_t n = {.addr = bias};
    dl_iterate_phdr(find_notes, &n);
    memcpy(out, n.id, n.len);
    return n.len;
}

static void
test_elfsym__build_id_of_loaded_object(void **state)
{
    uint8_t id[MP_ELFSYM_BUILD_ID_MAX];
    assert_int_equal(loaded_build_id(target.bias, id), target.id_len);
    assert_memory_equal(id, target.id, target.id_len);
}

/* The build id readelf -n prints for path. */
static size_t
readelf_build_id(const char *path, uint8_t *out)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof(cmd), "readelf -n '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    while (fgets(line, sizeof(line), p)) {
        const char *at = strstr(line, "Build ID: ");
        if (at)
            n = parse_hex(at + strlen("Build ID: "), out, MP_ELFSYM_BUILD_ID_MAX);
    }
    pclose(p);
    return n;
}

/*
 * The C library, loaded in this process: its malloc, found with dlsym, minus its load bias,
 * plus a few bytes, is named malloc or one of its aliases, from its .dynsym (Debian strips it)
 * and from its debug file when libc6-dbg is installed.
 */
static void
test_elfsym__names_malloc_in_libc(void **state)
{
    /* Through libc's handle, not RTLD_DEFAULT: a sanitizer's malloc comes first there. */
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    void *malloc_addr = dlsym(h, "malloc");
    struct link_map *lm;
    assert_int_equal(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
    assert_non_null(malloc_addr);
    const char *path = lm->l_name;
    uint64_t at = (uint64_t)((uintptr_t)malloc_addr - lm->l_addr);

    uint8_t id[MP_ELFSYM_BUILD_ID_MAX], expected[MP_ELFSYM_BUILD_ID_MAX];
    size_t id_len = loaded_build_id(lm->l_addr, id);
    assert_true(id_len > 0);
    assert_int_equal(readelf_build_id(path, expected), id_len);
    assert_memory_equal(id, expected, id_len);

    /* Its aliases (__libc_malloc, ...) have the same size and binding: the public name. */
    static const char *const accepted[] = {"malloc"};
    for (int best = 0; best < 2; best++) {
        mp_elfsym_file_t f;
        int rc =
            best ? mp_elfsym_open_best(&f, path, id, id_len) : mp_elfsym_open(&f, path, id, id_len);
        assert_int_equal(rc, 0);
        mp_elfsym_query_t q = {.addr = at + 4};
        mp_elfsym_lookup(&f, &q, 1);
        assert_non_null(q.name);
        int ok = 0;
        for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
            ok |= strcmp(q.name, accepted[i]) == 0;
        if (!ok)
            print_error("malloc + 4 is named %s\n", q.name);
        assert_true(ok);
        assert_int_equal(q.sym_addr, at);
        mp_elfsym_close(&f);
    }
    dlclose(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elfsym__names_from_symtab),
        cmocka_unit_test(test_elfsym__stripped_has_only_exported_names),
        cmocka_unit_test_setup_teardown(test_elfsym__debug_file_first, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test(test_elfsym__build_id_must_match),
        cmocka_unit_test_setup_teardown(test_elfsym__bad_files, setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test(test_elfsym__queries_are_sorted_and_keep_their_tags),
        cmocka_unit_test(test_elfsym__build_id_notes),
        cmocka_unit_test(test_elfsym__build_id_of_loaded_object),
        cmocka_unit_test(test_elfsym__names_malloc_in_libc),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
