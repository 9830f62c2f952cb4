#include "relocs.h"

#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_HOOKS 32
#define MAX_SEEN  2048

/* Under patch_lock. */
static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;
static mp_reloc_hook_t hooks[MAX_HOOKS];
static int nhooks;
/* Objects already patched, by load address; valid while no object has been unloaded since
 * (seen_subs), as a later object may take an unloaded one's address. */
static uintptr_t seen[MAX_SEEN];
static size_t nseen;
static unsigned long long seen_subs;
static uintptr_t self_base;

static atomic_ulong patched;
static void *(*real_dlopen)(const char *file, int flags);

unsigned long
mp_relocs_patched(void)
{
    return atomic_load(&patched);
}

/* The dynamic section's addresses: glibc has already relocated them in place, except in an
 * object whose section it could not write; both forms occur. */
static uintptr_t
dyn_address(uintptr_t base, ElfW(Addr) value)
{
    return value < base ? base + value : value;
}

typedef struct {
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    uintptr_t base;
    uintptr_t relro_lo, relro_hi; /* the pages the loader made read-only */
    long page;
    const ElfW(Rela) *tables[2]; /* DT_JMPREL (when of type DT_RELA) and DT_RELA */
    size_t table_bytes[2];
} object_t;

/* Reads what the patching needs from an object's program headers and dynamic section.
 * Returns 0, or -1 for an object without dynamic symbols. */
static int
read_object(const struct dl_phdr_info *info, object_t *o)
{
    memset(o, 0, sizeof(*o));
    o->base = info->dlpi_addr;
    o->page = sysconf(_SC_PAGESIZE);
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(o->base + ph->p_vaddr);
        } else if (ph->p_type == PT_GNU_RELRO) {
            /* The loader protects whole pages only: a last page shared with writable data
             * stays writable, and must stay so. */
            uintptr_t mask = ~((uintptr_t)o->page - 1);
            o->relro_lo = (o->base + ph->p_vaddr) & mask;
            o->relro_hi = (o->base + ph->p_vaddr + ph->p_memsz) & mask;
        }
    }
    int plt_is_rela = 1;
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t at = dyn_address(o->base, dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            o->symtab = (const ElfW(Sym) *)at;
            break;
        case DT_STRTAB:
            o->strtab = (const char *)at;
            break;
        case DT_STRSZ:
            o->strsz = dyn->d_un.d_val;
            break;
        case DT_JMPREL:
            o->tables[0] = (const ElfW(Rela) *)at;
            break;
        case DT_PLTRELSZ:
            o->table_bytes[0] = dyn->d_un.d_val;
            break;
        case DT_PLTREL:
            plt_is_rela = dyn->d_un.d_val == DT_RELA;
            break;
        case DT_RELA:
            o->tables[1] = (const ElfW(Rela) *)at;
            break;
        case DT_RELASZ:
            o->table_bytes[1] = dyn->d_un.d_val;
            break;
        }
    }
    if (!plt_is_rela) {
        o->tables[0] = NULL;
    }
    return o->symtab != NULL && o->strtab != NULL ? 0 : -1;
}

/* Calls visit on each GOT slot of o with the name of its imported symbol; stops when visit
 * returns nonzero, and returns that. */
static int
each_import(const object_t *o, int (*visit)(const object_t *o, const char *name, void **slot,
                                             void *arg),
            void *arg)
{
    for (int t = 0; t < 2; t++) {
        const ElfW(Rela) *rela = o->tables[t];
        for (size_t i = 0; rela != NULL && i < o->table_bytes[t] / sizeof(ElfW(Rela)); i++) {
            unsigned type = (unsigned)ELF64_R_TYPE(rela[i].r_info);
            size_t sym = ELF64_R_SYM(rela[i].r_info);
            if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || sym == 0 ||
                o->symtab[sym].st_shndx != SHN_UNDEF) {
                continue;
            }
            size_t name_at = o->symtab[sym].st_name;
            if (name_at == 0 || (o->strsz != 0 && name_at >= o->strsz)) {
                continue;
            }
            int rc = visit(o, o->strtab + name_at, (void **)(o->base + rela[i].r_offset), arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* Under patch_lock, inside dl_iterate_phdr. */
static void
write_slot(const object_t *o, void **slot, void *value)
{
    if (__atomic_load_n(slot, __ATOMIC_RELAXED) == value) {
        return;
    }
    uintptr_t at = (uintptr_t)slot;
    int read_only = at >= o->relro_lo && at < o->relro_hi;
    void *page = (void *)(at & ~((uintptr_t)o->page - 1));
    if (read_only && mprotect(page, (size_t)o->page, PROT_READ | PROT_WRITE) != 0) {
        return; /* left as it is: the calls through it are not seen */
    }
    /* One aligned store: a thread calling through the slot sees the old or the new target. */
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    if (read_only) {
        mprotect(page, (size_t)o->page, PROT_READ);
    }
    atomic_fetch_add(&patched, 1);
}

/* each_import visitor: a slot of one of the hooked symbols gets its replacement. */
static int
patch_slot(const object_t *o, const char *name, void **slot, void *arg)
{
    (void)arg;
    for (int h = 0; h < nhooks; h++) {
        if (name[0] == hooks[h].name[0] && strcmp(name, hooks[h].name) == 0) {
            write_slot(o, slot, hooks[h].replacement);
            break;
        }
    }
    return 0;
}

/* Objects never patched: the profiler itself (its calls must reach the real functions), the
 * loader and the vDSO (nothing of theirs calls the hooked symbols through a GOT), and the
 * sanitizers' runtimes, which must keep calling their own allocator. */
static int
skipped(const struct dl_phdr_info *info)
{
    const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
    return info->dlpi_addr == self_base || info->dlpi_addr == getauxval(AT_BASE) ||
           info->dlpi_addr == getauxval(AT_SYSINFO_EHDR) || strstr(name, "linux-vdso") != NULL ||
           strstr(name, "libclang_rt.") != NULL || strstr(name, "/libasan.") != NULL ||
           strstr(name, "/libtsan.") != NULL || strstr(name, "/libubsan.") != NULL;
}

static int
already_seen(uintptr_t base)
{
    for (size_t i = 0; i < nseen; i++) {
        if (seen[i] == base) {
            return 1;
        }
    }
    if (nseen < MAX_SEEN) {
        seen[nseen++] = base;
    }
    return 0;
}

static int
patch_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (skipped(info) || already_seen(info->dlpi_addr)) {
        return 0;
    }
    object_t o;
    if (read_object(info, &o) == 0) {
        each_import(&o, patch_slot, NULL);
    }
    return 0;
}

/* Visits the objects not patched yet. Takes patch_lock, then the loader's lock. */
static void
patch_new_objects(void)
{
    pthread_mutex_lock(&patch_lock);
    if (nhooks > 0) {
        dl_iterate_phdr(patch_object, NULL);
    }
    pthread_mutex_unlock(&patch_lock);
}

/* Resets the objects seen when one was unloaded since (inside dl_iterate_phdr). */
static int
check_unloads(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs) &&
        info->dlpi_subs != seen_subs) {
        seen_subs = info->dlpi_subs;
        nseen = 0;
    }
    return 1; /* the counter is the same in every entry */
}

/* dlopen with the caller's own search rules (see open_as_caller), then the new objects are
 * patched. Reached through the callers' GOT slots, so its return address is in the caller. */
static void *open_as_caller(const char *file, int flags, const void *caller);

static void *
hook_dlopen(const char *file, int flags)
{
    void *handle = open_as_caller(file, flags, __builtin_return_address(0));
    if (handle != NULL) {
        pthread_mutex_lock(&patch_lock);
        dl_iterate_phdr(check_unloads, NULL);
        pthread_mutex_unlock(&patch_lock);
        patch_new_objects();
    }
    return handle;
}

/* A failed attempt of ours must not leave its message for the caller's dlerror(). */
static void *
attempt(const char *file, int flags)
{
    void *handle = real_dlopen(file, flags);
    if (handle == NULL) {
        (void)dlerror();
    }
    return handle;
}

/* Whether an object's dynamic section names search directories of its own. */
static int
has_search_path(const ElfW(Dyn) *dyn)
{
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_RPATH || dyn->d_tag == DT_RUNPATH) {
            return 1;
        }
    }
    return 0;
}

/* "$ORIGIN" and "${ORIGIN}" in file, from the caller's directory, into out. 0, or -1. */
static int
expand_origin(const char *file, struct link_map *caller, char *out, size_t size)
{
    char origin[PATH_MAX];
    if (dlinfo(caller, RTLD_DI_ORIGIN, origin) != 0) {
        return -1;
    }
    size_t used = 0;
    for (const char *p = file; *p != '\0';) {
        size_t skip = strncmp(p, "$ORIGIN", 7) == 0     ? 7
                      : strncmp(p, "${ORIGIN}", 9) == 0 ? 9
                                                         : 0;
        const char *piece = skip ? origin : p;
        size_t len = skip ? strlen(origin) : 1;
        if (used + len >= size) {
            return -1;
        }
        memcpy(out + used, piece, len);
        used += len;
        p += skip ? skip : 1;
    }
    out[used] = '\0';
    return 0;
}

/*
 * The loader resolves a name without a slash through the calling object's DT_RPATH or
 * DT_RUNPATH, and "$ORIGIN" from the caller's directory; called from here, the caller would be
 * the profiler. So: $ORIGIN is expanded for the caller; a bare name already loaded is taken as
 * it is; a caller with search directories of its own (or under an executable with DT_RPATH) has
 * them tried in the loader's order (dlinfo RTLD_DI_SERINFO: its RPATH, LD_LIBRARY_PATH, its
 * RUNPATH, the system directories); anything else is opened as given, which the loader then
 * resolves as for any caller without such directories (LD_LIBRARY_PATH, ld.so.cache, system
 * directories). The caller's namespace (dlmopen) is not reproduced.
 */
static void *
open_as_caller(const char *file, int flags, const void *caller)
{
    if (file == NULL || (strchr(file, '/') != NULL && strchr(file, '$') == NULL)) {
        return real_dlopen(file, flags);
    }
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL) {
        return real_dlopen(file, flags);
    }
    char path[PATH_MAX];
    if (strchr(file, '$') != NULL) {
        if (expand_origin(file, map, path, sizeof(path)) < 0) {
            return real_dlopen(file, flags);
        }
        file = path;
        if (strchr(file, '/') != NULL) {
            return real_dlopen(file, flags);
        }
    }
    const struct link_map *main_map = _r_debug.r_map; /* the executable comes first */
    if (!has_search_path(map->l_ld) && (main_map == NULL || !has_search_path(main_map->l_ld))) {
        return real_dlopen(file, flags);
    }
    void *handle = attempt(file, flags | RTLD_NOLOAD);
    if (handle != NULL) {
        return handle;
    }
    Dl_serinfo probe;
    union {
        Dl_serinfo info;
        char bytes[8192];
    } dirs;
    if (dlinfo(map, RTLD_DI_SERINFOSIZE, &probe) != 0 || probe.dls_size > sizeof(dirs)) {
        return real_dlopen(file, flags);
    }
    dirs.info.dls_size = probe.dls_size;
    dirs.info.dls_cnt = probe.dls_cnt;
    if (dlinfo(map, RTLD_DI_SERINFO, &dirs.info) != 0) {
        return real_dlopen(file, flags);
    }
    for (unsigned i = 0; i < dirs.info.dls_cnt; i++) {
        char candidate[PATH_MAX];
        int n = snprintf(candidate, sizeof(candidate), "%s/%s", dirs.info.dls_serpath[i].dls_name,
                         file);
        if (n > 0 && (size_t)n < sizeof(candidate) && access(candidate, F_OK) == 0 &&
            (handle = attempt(candidate, flags)) != NULL) {
            return handle;
        }
    }
    return real_dlopen(file, flags);
}

static int
is_name(const object_t *o, const char *name, void **slot, void *arg)
{
    (void)o;
    (void)slot;
    return strcmp(name, arg) == 0;
}

/* dl_iterate_phdr visitor for the executable (the first object): whether it imports a name. */
static int
executable_imports(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    object_t o;
    return read_object(info, &o) == 0 && each_import(&o, is_name, arg) ? 1 : -1;
}

/*
 * The definition of name that the program's callers reach: in the loader's search order, the
 * first object that defines it itself, the profiler excepted. dlsym(RTLD_DEFAULT) is not it when
 * the executable takes the function's address: the executable then carries a canonical PLT
 * entry under that name, which jumps through its own GOT slot, the slot about to point at the
 * replacement. Such an executable both imports the name and seems to define it; it is skipped.
 */
static void *
definition(const char *name)
{
    for (struct link_map *m = _r_debug.r_map; m != NULL; m = m->l_next) {
        /* A handle of the object's own (a link map is not one for dlsym). */
        int executable = m == _r_debug.r_map;
        void *handle = dlopen(executable ? NULL : m->l_name, RTLD_LAZY | RTLD_NOLOAD);
        if (handle == NULL) {
            (void)dlerror();
            continue;
        }
        void *p = dlsym(handle, name);
        dlclose(handle);
        Dl_info info;
        struct link_map *owner = NULL;
        if (p == NULL || dladdr1(p, &info, (void **)&owner, RTLD_DL_LINKMAP) == 0 || owner != m ||
            (uintptr_t)info.dli_fbase == self_base) {
            (void)dlerror();
            continue;
        }
        if (executable && dl_iterate_phdr(executable_imports, (void *)name) == 1) {
            continue;
        }
        return p;
    }
    return NULL;
}

/* Fork handlers: a child forked while another thread patched must not inherit patch_lock
 * held. */
static void
before_fork(void)
{
    pthread_mutex_lock(&patch_lock);
}

static void
after_fork(void)
{
    pthread_mutex_unlock(&patch_lock);
}

static void
register_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork, after_fork);
}

int
mp_relocs_install(const mp_reloc_hook_t *add, int n)
{
    static pthread_once_t fork_handlers = PTHREAD_ONCE_INIT;
    pthread_once(&fork_handlers, register_fork_handlers);
    pthread_mutex_lock(&patch_lock);
    if (self_base == 0) {
        Dl_info self;
        if (dladdr((const void *)mp_relocs_install, &self) != 0) {
            self_base = (uintptr_t)self.dli_fbase;
        }
    }
    int need_dlopen = real_dlopen == NULL;
    if (nhooks + n + need_dlopen > MAX_HOOKS) {
        pthread_mutex_unlock(&patch_lock);
        return -1;
    }
    if (need_dlopen) {
        real_dlopen = (void *(*)(const char *, int))definition("dlopen");
        if (real_dlopen != NULL) {
            hooks[nhooks++] = (mp_reloc_hook_t){"dlopen", (void *)hook_dlopen, NULL};
        }
    }
    for (int i = 0; i < n; i++) {
        void *original = definition(add[i].name);
        *add[i].original = original;
        if (original != NULL) {
            hooks[nhooks++] = add[i];
        }
    }
    nseen = 0; /* every object again, for the new symbols */
    pthread_mutex_unlock(&patch_lock);
    patch_new_objects();
    return 0;
}
