#include "elfsym.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"

/* The objects this process can load: its own machine, class and byte order. */
#if defined(__x86_64__)
# define MACHINE EM_X86_64
#elif defined(__aarch64__)
# define MACHINE EM_AARCH64
#elif defined(__powerpc64__)
# define MACHINE EM_PPC64
#elif defined(__riscv) && __riscv_xlen == 64
# define MACHINE EM_RISCV
#elif defined(__s390x__)
# define MACHINE EM_S390
#else
# error "elfsym.c reads ELF64 objects: no machine number for this target"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
# define DATA ELFDATA2LSB
#else
# define DATA ELFDATA2MSB
#endif

#define DEBUG_DIR "/usr/lib/debug"

/* Whether len bytes at off lie inside the mapping (written so that nothing can overflow). */
static int
in_map(const mp_elfsym_file_t *f, uint64_t off, uint64_t len)
{
    return off <= f->size && len <= f->size - off;
}

/* The section header table, or NULL (then *n is 0). Tables are read in place, so their
 * offsets must be aligned for their types, as every linker writes them. */
static const Elf64_Shdr *
sections(const mp_elfsym_file_t *f, const Elf64_Ehdr *eh, size_t *n)
{
    *n = 0;
    if (eh->e_shnum == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % 8 != 0 ||
        !in_map(f, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
        return NULL;
    *n = eh->e_shnum;
    return (const Elf64_Shdr *)(f->map + eh->e_shoff);
}

static const Elf64_Phdr *
segments(const mp_elfsym_file_t *f, const Elf64_Ehdr *eh, size_t *n)
{
    *n = 0;
    if (eh->e_phnum == 0 || eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff % 8 != 0 ||
        !in_map(f, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
        return NULL;
    *n = eh->e_phnum;
    return (const Elf64_Phdr *)(f->map + eh->e_phoff);
}

/* Whether the section's content is in the file. Callers test the type first, and so never
 * take the sections a separate debug file left out for content: it keeps their headers, with
 * their offsets but of type SHT_NOBITS (.dynsym among them). */
static int
has_content(const mp_elfsym_file_t *f, const Elf64_Shdr *s)
{
    return in_map(f, s->sh_offset, s->sh_size);
}

/* The file's build id: the first in its note sections, else in its note segments (the
 * sections first, since a separate debug file keeps its notes' sections but its segments may
 * point where the content no longer is). */
static size_t
file_build_id(const mp_elfsym_file_t *f, const Elf64_Ehdr *eh, const Elf64_Shdr *sh, size_t nsh,
              uint8_t *out)
{
    for (size_t i = 0; i < nsh; i++) {
        if (sh[i].sh_type == SHT_NOTE && has_content(f, &sh[i])) {
            size_t n = mp_elfsym_build_id(f->map + sh[i].sh_offset, sh[i].sh_size, out,
                                          MP_ELFSYM_BUILD_ID_MAX);
            if (n > 0)
                return n;
        }
    }
    size_t nph;
    const Elf64_Phdr *ph = segments(f, eh, &nph);
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].p_type == PT_NOTE && in_map(f, ph[i].p_offset, ph[i].p_filesz)) {
            size_t n = mp_elfsym_build_id(f->map + ph[i].p_offset, ph[i].p_filesz, out,
                                          MP_ELFSYM_BUILD_ID_MAX);
            if (n > 0)
                return n;
        }
    }
    return 0;
}

/* Takes the first symbol table of the given type that is valid, with its string table: both
 * in the file, the symbols aligned, the strings ending with a NUL (so that every name read
 * from there is terminated inside the mapping). Returns whether one was found. */
static int
use_symbols(mp_elfsym_file_t *f, const Elf64_Shdr *sh, size_t nsh, uint32_t type)
{
    for (size_t i = 0; i < nsh; i++) {
        const Elf64_Shdr *s = &sh[i];
        if (s->sh_type != type || s->sh_entsize != sizeof(Elf64_Sym) || s->sh_offset % 8 != 0 ||
            !has_content(f, s) || s->sh_size / sizeof(Elf64_Sym) > UINT32_MAX || s->sh_link >= nsh)
            continue;
        const Elf64_Shdr *str = &sh[s->sh_link];
        if (str->sh_type != SHT_STRTAB || str->sh_size == 0 || !has_content(f, str) ||
            f->map[str->sh_offset + str->sh_size - 1] != '\0')
            continue;
        f->syms = (const Elf64_Sym *)(f->map + s->sh_offset);
        f->nsyms = (uint32_t)(s->sh_size / sizeof(Elf64_Sym));
        f->strtab = f->map + str->sh_offset;
        f->strsz = str->sh_size;
        return 1;
    }
    return 0;
}

int
mp_elfsym_parse(mp_elfsym_file_t *f, const void *map, size_t size, const uint8_t *build_id,
                size_t build_id_len)
{
    mp_elfsym_file_t img = {.map = map, .size = size};
    memset(f, 0, sizeof(*f));
    if (size < sizeof(Elf64_Ehdr))
        return -ENOEXEC;
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != DATA || eh->e_ident[EI_VERSION] != EV_CURRENT ||
        eh->e_machine != MACHINE || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
        return -ENOEXEC;
    size_t nsh;
    const Elf64_Shdr *sh = sections(&img, eh, &nsh);
    if (build_id_len > 0) {
        uint8_t id[MP_ELFSYM_BUILD_ID_MAX];
        size_t n = file_build_id(&img, eh, sh, nsh, id);
        if (n != build_id_len || memcmp(id, build_id, n) != 0)
            return -ESTALE;
    }
    /* .symtab has every function, static ones included; .dynsym only the exported ones. */
    if (!use_symbols(&img, sh, nsh, SHT_SYMTAB) && !use_symbols(&img, sh, nsh, SHT_DYNSYM))
        return -ENOEXEC;
    *f = img;
    return 0;
}

int
mp_elfsym_open(mp_elfsym_file_t *f, const char *path, const uint8_t *build_id, size_t build_id_len)
{
    memset(f, 0, sizeof(*f));
    /* O_NONBLOCK: a FIFO planted at the path must not block the dump writer in open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    void *map = MAP_FAILED;
    int rc = -ENOEXEC;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
    } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size >= sizeof(Elf64_Ehdr)) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        rc = map == MAP_FAILED ? -errno : 0;
    }
    close(fd); /* the mapping keeps the file */
    if (rc < 0)
        return rc;
    rc = mp_elfsym_parse(f, map, (size_t)st.st_size, build_id, build_id_len);
    if (rc < 0)
        munmap(map, (size_t)st.st_size);
    return rc;
}

int
mp_elfsym_open_best_in(mp_elfsym_file_t *f, const char *debug_dir, const char *path,
                       const uint8_t *build_id, size_t build_id_len)
{
    if (build_id_len >= 2) {
        /* DEBUG_DIR/.build-id/XX/YYYY.debug, XX the first byte of the id in hexadecimal and
         * YYYY the others; a name that does not fit is no debug file. */
        char name[256];
        mp_fmt_t p;
        mp_fmt_init(&p, name, sizeof(name));
        mp_fmt_str(&p, debug_dir);
        mp_fmt_str(&p, "/.build-id/");
        mp_fmt_hex(&p, build_id[0], 2);
        mp_fmt_str(&p, "/");
        for (size_t i = 1; i < build_id_len; i++)
            mp_fmt_hex(&p, build_id[i], 2);
        mp_fmt_str(&p, ".debug");
        if (mp_fmt_end(&p) == 0 && mp_elfsym_open(f, name, build_id, build_id_len) == 0)
            return 0;
    }
    return mp_elfsym_open(f, path, build_id, build_id_len);
}

int
mp_elfsym_open_best(mp_elfsym_file_t *f, const char *path, const uint8_t *build_id,
                    size_t build_id_len)
{
    return mp_elfsym_open_best_in(f, DEBUG_DIR, path, build_id, build_id_len);
}

void
mp_elfsym_close(mp_elfsym_file_t *f)
{
    if (f->map)
        munmap((void *)f->map, f->size);
    memset(f, 0, sizeof(*f));
}

size_t
mp_elfsym_build_id(const void *notes, size_t len, uint8_t *out, size_t max)
{
    const unsigned char *p = notes;
    uint64_t off = 0;
    /* Each turn moves past a 12-byte header at least, or returns. */
    while (len - off >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p + off, sizeof(nh)); /* the area may be unaligned */
        off += sizeof(nh);
        /* The name and the description are each padded to 4 bytes; the sizes are 32-bit, so
         * their sums here cannot overflow 64 bits. */
        uint64_t name = off;
        uint64_t name_padded = ((uint64_t)nh.n_namesz + 3) & ~(uint64_t)3;
        if (name_padded > len - off)
            return 0;
        off += name_padded;
        if (nh.n_descsz > len - off)
            return 0;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof("GNU") &&
            memcmp(p + name, "GNU", sizeof("GNU")) == 0) {
            if (nh.n_descsz == 0 || nh.n_descsz > max)
                return 0;
            memcpy(out, p + off, nh.n_descsz);
            return nh.n_descsz;
        }
        uint64_t desc_padded = ((uint64_t)nh.n_descsz + 3) & ~(uint64_t)3;
        if (desc_padded > len - off)
            return 0;
        off += desc_padded;
    }
    return 0;
}

static void
swap(mp_elfsym_query_t *a, mp_elfsym_query_t *b)
{
    mp_elfsym_query_t t = *a;
    *a = *b;
    *b = t;
}

static void
sift_down(mp_elfsym_query_t *q, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && q[child + 1].addr > q[child].addr)
            child++;
        if (q[root].addr >= q[child].addr)
            return;
        swap(&q[root], &q[child]);
        root = child;
    }
}

/* A heap sort: in place, no allocation, O(n log n) whatever the input. */
static void
sort_by_addr(mp_elfsym_query_t *q, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(q, i, n);
    for (size_t end = n; end-- > 1;) {
        swap(&q[0], &q[end]);
        sift_down(q, 0, end);
    }
}

/* The first query at or above addr (n when none). */
static size_t
first_from(const mp_elfsym_query_t *q, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int
bind_rank(unsigned char info)
{
    switch (ELF64_ST_BIND(info)) {
    case STB_GLOBAL:
        return 0;
    case STB_WEAK:
        return 1;
    case STB_LOCAL:
        return 2;
    default:
        return 3;
    }
}

/* Leading underscores of a name: an alias with fewer is the public one (malloc, not
 * __libc_malloc; printf, not _IO_printf). */
static size_t
underscores(const char *name)
{
    size_t n = 0;
    while (name[n] == '_') {
        n++;
    }
    return n;
}

/* Whether a names an address that both contain better than b (the order of mp_elfsym_lookup;
 * on a tie b, the lower index, stays). */
static int
better(const mp_elfsym_file_t *f, const Elf64_Sym *a, const Elf64_Sym *b)
{
    if (a->st_size != b->st_size)
        return a->st_size < b->st_size;
    int ra = bind_rank(a->st_info), rb = bind_rank(b->st_info);
    if (ra != rb)
        return ra < rb;
    if (a->st_value != b->st_value)
        return a->st_value < b->st_value;
    const char *na = f->strtab + a->st_name, *nb = f->strtab + b->st_name;
    size_t ua = underscores(na), ub = underscores(nb);
    if (ua != ub)
        return ua < ub;
    return strcmp(na, nb) < 0;
}

void
mp_elfsym_lookup(const mp_elfsym_file_t *f, mp_elfsym_query_t *q, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        q[j].sym_index = 0;
        q[j].name = NULL;
        q[j].sym_addr = 0;
    }
    sort_by_addr(q, n);
    /* Index 0 is the null symbol (STN_UNDEF), which also stands for "unnamed" in sym_index. */
    for (uint32_t i = 1; i < f->nsyms; i++) {
        const Elf64_Sym *s = &f->syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_size == 0 ||
            s->st_shndx == SHN_UNDEF || s->st_name >= f->strsz || f->strtab[s->st_name] == '\0' ||
            s->st_value > UINT64_MAX - s->st_size)
            continue;
        uint64_t end = s->st_value + s->st_size;
        for (size_t j = first_from(q, n, s->st_value); j < n && q[j].addr < end; j++) {
            if (q[j].sym_index == 0 || better(f, s, &f->syms[q[j].sym_index]))
                q[j].sym_index = i;
        }
    }
    for (size_t j = 0; j < n; j++) {
        if (q[j].sym_index != 0) {
            const Elf64_Sym *s = &f->syms[q[j].sym_index];
            q[j].name = f->strtab + s->st_name;
            q[j].sym_addr = s->st_value;
        }
    }
}
