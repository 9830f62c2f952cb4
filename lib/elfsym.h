/*
 * Names for code addresses, read from ELF files, for the snapshot writer: the profiler records
 * a native return address as (object, link-time address), that is the pc minus the object's
 * load bias, directly comparable with a symbol's st_value; a snapshot turns those into
 * function names.
 *
 * Hand-written over <elf.h> rather than libelf or libdw because the snapshot writer runs in
 * restricted contexts (signal handlers, _exit; docs/design.md, "Execution contexts"), where
 * libc's allocator, stdio and locks are off limits, and those libraries allocate. Everything
 * here is system calls (open, fstat, mmap, munmap, close) over a read-only private mapping of
 * the whole file (mmap is lazy: a large file costs only the pages read), with no allocation and
 * no lock.
 *
 * Files may be corrupt or hostile: every offset, size, index and string is checked against the
 * mapping before it is read, and every loop advances. What cannot be checked: a file that is
 * truncated or rewritten in place while it is open (not replaced by a rename, which leaves the
 * mapping on the old inode) may raise SIGBUS or change under the reader, as it would for the
 * process that loaded it.
 *
 * Only ELF64 objects of this machine and byte order, executables (ET_EXEC) and shared objects
 * (ET_DYN); the symbols come from the section headers (an object stripped of them has no names
 * here).
 */
#ifndef MP_ELFSYM_H
#define MP_ELFSYM_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* The longest build id handled: GNU ld writes 16 (md5, uuid) or 20 bytes (sha1). */
#define MP_ELFSYM_BUILD_ID_MAX 64

typedef struct {
    const char *map; /* the whole file, a read-only private mapping (its fd is already closed) */
    size_t size;
    const Elf64_Sym *syms; /* .symtab when it is valid, else .dynsym: checked to lie in map */
    uint32_t nsyms;
    const char *strtab; /* their string table: in map, its last byte a NUL */
    size_t strsz;
} mp_elfsym_file_t;

/*
 * Opens path, an ELF64 object of this machine. If build_id_len > 0, the file's GNU build id
 * (the first NT_GNU_BUILD_ID note in its SHT_NOTE sections, else in its PT_NOTE segments) must
 * equal build_id. Returns 0 (close f with mp_elfsym_close), -errno of open(2) or mmap(2) such
 * as -ENOENT or -EACCES, -ENOEXEC (not a regular file, not such an object, corrupt, or no
 * valid symbol table), or -ESTALE (the build id differs or is missing: the file was replaced
 * since the object was loaded). Dump writer; may change errno.
 */
int mp_elfsym_open(mp_elfsym_file_t *f, const char *path, const uint8_t *build_id,
                   size_t build_id_len);

/*
 * Like mp_elfsym_open, but first tries the separate debug file named by the build id,
 * /usr/lib/debug/.build-id/XX/YYYY.debug (Debian's -dbgsym packages), whose .symtab also has
 * the static functions, and falls back to path when that file is missing, unusable or of
 * another build. Without a build id (fewer than 2 bytes) it is mp_elfsym_open. Dump writer.
 */
int mp_elfsym_open_best(mp_elfsym_file_t *f, const char *path, const uint8_t *build_id,
                        size_t build_id_len);

/* mp_elfsym_open_best with another directory in place of /usr/lib/debug, for tests. */
int mp_elfsym_open_best_in(mp_elfsym_file_t *f, const char *debug_dir, const char *path,
                           const uint8_t *build_id, size_t build_id_len);

/*
 * Validates an ELF image already in memory (size bytes at map, 8-byte aligned) as
 * mp_elfsym_open does a file's. f then borrows map: it is valid while map is, and is not to be
 * given to mp_elfsym_close. For the fuzzer and tests. Any context.
 */
int mp_elfsym_parse(mp_elfsym_file_t *f, const void *map, size_t size, const uint8_t *build_id,
                    size_t build_id_len);

typedef struct {
    uint64_t addr;      /* in: the link-time address to name (a return address - 1) */
    uint32_t tag;       /* in: the caller's, kept with its query through the sort */
    uint32_t sym_index; /* out: the naming symbol's index in the table, 0 when unnamed */
    const char *name;   /* out: NUL-terminated, inside f->map; NULL when unnamed */
    uint64_t sym_addr;  /* out: the symbol's st_value when named */
} mp_elfsym_query_t;

/*
 * Names each query with an STT_FUNC or STT_GNU_IFUNC symbol, defined (st_shndx not SHN_UNDEF)
 * and named, with st_value <= addr < st_value + st_size (a corrupt symbol whose end passes
 * UINT64_MAX names nothing). Symbols of size 0 name nothing: their extent is unknown, and a name
 * that might be wrong is worse than none. Among the symbols that contain addr (aliases such as
 * malloc and __libc_malloc, nested functions), the choice is deterministic: the smallest
 * st_size, then STB_GLOBAL before STB_WEAK before STB_LOCAL (before any other binding), then the
 * lowest st_value, then the name with fewer leading underscores (the public alias: malloc, not
 * __libc_malloc), then the name first in strcmp order, then the lowest index.
 *
 * Sorts q by addr in place (a heap sort: no allocation), so that each symbol finds the queries
 * it contains by binary search: O(symbols * log(n)) plus one step per (query, containing
 * symbol) pair, which a hostile file of many overlapping symbols can make O(symbols * n), never
 * more. Dump writer (any context, in fact: no system call).
 */
void mp_elfsym_lookup(const mp_elfsym_file_t *f, mp_elfsym_query_t *q, size_t n);

/* Unmaps what mp_elfsym_open mapped; f is then empty. Closing an empty f does nothing. Dump
 * writer. */
void mp_elfsym_close(mp_elfsym_file_t *f);

/*
 * The GNU build id in a note area of len bytes (the content of a PT_NOTE segment or an SHT_NOTE
 * section): copies it to out and returns its length, or returns 0 when there is none or it is
 * longer than max. Notes are read with 4-byte padding, the gABI's (for ELF64 too). A segment
 * aligned to 8 pads to 8, which reads the same up to the build id as long as the notes before
 * it have sizes that are multiples of 8, as GNU property notes do; linkers put the build id in
 * a segment aligned to 4 anyway. Any context (bounds-checked, no allocation, any alignment):
 * the profiler also calls it on loaded objects' PT_NOTE segments in memory.
 */
size_t mp_elfsym_build_id(const void *notes, size_t len, uint8_t *out, size_t max);

#endif
