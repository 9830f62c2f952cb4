#include "relocs.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "callerdl.h"

#define MAX_HOOKS 32
#define MAX_SEEN  2048

typedef struct {
    mp_reloc_hook_t hook;
    uintptr_t not_in;  /* load address of the object whose slots stay, or UINTPTR_MAX */
    uintptr_t only_in; /* load address of the one object whose slots change, or UINTPTR_MAX */
} hook_t;

/*
 * patch_lock guards the hooks, the objects seen, and every slot write (so that two threads
 * never change one page's protection at once). It is never held while calling into the loader
 * (dlopen, dlsym, dl_iterate_phdr), whose lock a constructor's nested dlopen holds while it
 * reaches hook_dlopen: the two locks are never nested.
 */
static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;
static hook_t hooks[MAX_HOOKS];
static int nhooks;
/* Objects already patched, by load address; valid while no object has been unloaded since
 * (seen_subs), as a later object may take an unloaded one's address. */
static uintptr_t seen[MAX_SEEN];
static size_t nseen;
static unsigned long long seen_subs;
static unsigned long long done_adds; /* the loader's count of loads when all were patched */
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

#define MAX_WRITABLE 8

typedef struct {
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    uintptr_t base;
    uintptr_t relro_lo, relro_hi; /* the pages the loader made read-only */
    uintptr_t writable[MAX_WRITABLE][2]; /* PT_LOAD segments mapped writable */
    int nwritable;
    long page;
    const ElfW(Rela) *tables[2]; /* DT_JMPREL (when of type DT_RELA) and DT_RELA */
    size_t table_bytes[2];
} object_t;

static void
read_segments(const ElfW(Phdr) *phdr, int phnum, object_t *o, const ElfW(Dyn) **dyn)
{
    uintptr_t mask = ~((uintptr_t)o->page - 1);
    for (int i = 0; i < phnum; i++) {
        const ElfW(Phdr) *ph = &phdr[i];
        if (ph->p_type == PT_DYNAMIC) {
            *dyn = (const ElfW(Dyn) *)(o->base + ph->p_vaddr);
        } else if (ph->p_type == PT_GNU_RELRO) {
            /* The loader protects whole pages only: a last page shared with writable data
             * stays writable, and must stay so. */
            o->relro_lo = (o->base + ph->p_vaddr) & mask;
            o->relro_hi = (o->base + ph->p_vaddr + ph->p_memsz) & mask;
        } else if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && o->nwritable < MAX_WRITABLE) {
            o->writable[o->nwritable][0] = o->base + ph->p_vaddr;
            o->writable[o->nwritable][1] = o->base + ph->p_vaddr + ph->p_memsz;
            o->nwritable++;
        }
    }
}

/* Reads what the patching needs from an object's program headers and dynamic section.
 * Returns 0, or -1 for an object without dynamic symbols. Reads memory only. */
static int
read_object(uintptr_t base, const ElfW(Phdr) *phdr, int phnum, object_t *o)
{
    memset(o, 0, sizeof(*o));
    o->base = base;
    o->page = sysconf(_SC_PAGESIZE);
    const ElfW(Dyn) *dyn = NULL;
    read_segments(phdr, phnum, o, &dyn);
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

typedef int (*slot_visitor_t)(const object_t *o, const char *name, int imported, void **slot,
                              void *arg);

/* Calls visit on each GOT slot of o (R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT) with its symbol's
 * name, and whether the symbol is undefined in o (imported) or o's own (a call of o to itself
 * through its GOT, as glibc makes to malloc); stops when visit returns nonzero, and returns
 * that. */
static int
each_slot(const object_t *o, slot_visitor_t visit, void *arg)
{
    for (int t = 0; t < 2; t++) {
        const ElfW(Rela) *rela = o->tables[t];
        for (size_t i = 0; rela != NULL && i < o->table_bytes[t] / sizeof(ElfW(Rela)); i++) {
            unsigned type = (unsigned)ELF64_R_TYPE(rela[i].r_info);
            size_t sym = ELF64_R_SYM(rela[i].r_info);
            if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || sym == 0) {
                continue;
            }
            size_t name_at = o->symtab[sym].st_name;
            if (name_at == 0 || (o->strsz != 0 && name_at >= o->strsz)) {
                continue;
            }
            int rc = visit(o, o->strtab + name_at, o->symtab[sym].st_shndx == SHN_UNDEF,
                           (void **)(o->base + rela[i].r_offset), arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int
writable(const object_t *o, uintptr_t at)
{
    for (int i = 0; i < o->nwritable; i++) {
        if (at >= o->writable[i][0] && at + sizeof(void *) <= o->writable[i][1]) {
            return 1;
        }
    }
    return 0;
}

/* Under patch_lock. */
static void
write_slot(const object_t *o, void **slot, void *value)
{
    if (__atomic_load_n(slot, __ATOMIC_RELAXED) == value) {
        return;
    }
    uintptr_t at = (uintptr_t)slot;
    int read_only = at >= o->relro_lo && at < o->relro_hi;
    if (!read_only && !writable(o, at)) {
        return; /* not where a GOT can be: left alone */
    }
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

/* each_slot visitor, under patch_lock: a slot of one of the hooked symbols gets its
 * replacement. */
static int
patch_slot(const object_t *o, const char *name, int imported, void **slot, void *arg)
{
    (void)imported;
    (void)arg;
    for (int h = 0; h < nhooks; h++) {
        const mp_reloc_hook_t *hook = &hooks[h].hook;
        if (name[0] == hook->name[0] && strcmp(name, hook->name) == 0) {
            if (hooks[h].not_in != o->base &&
                (hooks[h].only_in == UINTPTR_MAX || hooks[h].only_in == o->base)) {
                write_slot(o, slot, hook->replacement);
            }
            break;
        }
    }
    return 0;
}

/* Objects never patched: the profiler itself (its calls must reach the real functions), the
 * loader and the vDSO (nothing of theirs calls the hooked symbols through a GOT), and the
 * sanitizers' runtimes, which must keep calling their own allocator. */
static int
skipped(uintptr_t base, const char *name)
{
    return base == self_base || base == getauxval(AT_BASE) ||
           (getauxval(AT_SYSINFO_EHDR) != 0 && base == getauxval(AT_SYSINFO_EHDR)) || strstr(name, "linux-vdso") != NULL ||
           strstr(name, "libclang_rt.") != NULL || strstr(name, "/libasan.") != NULL ||
           strstr(name, "/libtsan.") != NULL || strstr(name, "/libubsan.") != NULL;
}

/* Under patch_lock. */
static int
was_seen(uintptr_t base)
{
    for (size_t i = 0; i < nseen; i++) {
        if (seen[i] == base) {
            return 1;
        }
    }
    return 0;
}

/* An object as dl_iterate_phdr listed it; its name is copied (the object may go meanwhile). */
typedef struct {
    uintptr_t base;
    const ElfW(Phdr) *phdr;
    int phnum;
    char *name;
} listed_t;

typedef struct {
    listed_t *objects;
    size_t n, cap;
    unsigned long long adds, subs;
    int failed;
} listing_t;

static int
list_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    listing_t *l = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        l->adds = info->dlpi_adds;
        l->subs = info->dlpi_subs;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        listed_t *grown = realloc(l->objects, cap * sizeof(*grown));
        if (grown == NULL) {
            l->failed = 1;
            return 1;
        }
        l->objects = grown;
        l->cap = cap;
    }
    const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
    char *copy = strdup(name);
    if (copy == NULL) {
        l->failed = 1;
        return 1;
    }
    l->objects[l->n++] = (listed_t){info->dlpi_addr, info->dlpi_phdr, info->dlpi_phnum, copy};
    return 0;
}

/* The loaded objects in the loader's search order (the executable first). Calls the loader
 * (its lock inside dl_iterate_phdr); malloc'ed (release with unlist). */
static void
list_objects(listing_t *l)
{
    memset(l, 0, sizeof(*l));
    dl_iterate_phdr(list_object, l);
}

static void
unlist(listing_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->objects[i].name);
    }
    free(l->objects);
}

/*
 * A handle that keeps a listed object loaded, once the loader has finished with it: an object
 * is listed as soon as it is mapped, before it is relocated (a dlopen in progress on another
 * thread), and a slot written then would be overwritten by the loader, or a page made
 * read-only before the loader wrote it. dlopen with RTLD_NOLOAD takes the loader's lock, so it
 * waits for a load in progress, and refuses one that was rolled back. NULL when the object is
 * gone or not the one listed.
 */
static void *
pin(const listed_t *o, int executable)
{
    void *handle = dlopen(executable ? NULL : o->name, RTLD_LAZY | RTLD_NOLOAD);
    struct link_map *map = NULL;
    if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL ||
        map->l_addr != o->base) {
        (void)dlerror();
        if (handle != NULL) {
            dlclose(handle);
        }
        return NULL;
    }
    return handle;
}

/* Patches the objects not patched yet. Normal context; takes the loader's lock and patch_lock,
 * never one inside the other. */
static void
patch_new_objects(void)
{
    listing_t l;
    list_objects(&l);
    pthread_mutex_lock(&patch_lock);
    if (l.subs != seen_subs) {
        seen_subs = l.subs;
        nseen = 0;
    }
    int nothing_new = nhooks == 0 || (l.adds == done_adds && nseen > 0 && !l.failed);
    pthread_mutex_unlock(&patch_lock);
    if (nothing_new) {
        unlist(&l);
        return;
    }
    int complete = !l.failed;
    for (size_t i = 0; i < l.n; i++) {
        listed_t *o = &l.objects[i];
        if (skipped(o->base, o->name)) {
            continue;
        }
        pthread_mutex_lock(&patch_lock);
        int seen_before = was_seen(o->base);
        pthread_mutex_unlock(&patch_lock);
        if (seen_before) {
            continue;
        }
        void *handle = pin(o, i == 0);
        if (handle == NULL) {
            complete = 0;
            continue;
        }
        object_t parsed;
        pthread_mutex_lock(&patch_lock);
        if (!was_seen(o->base) && read_object(o->base, o->phdr, o->phnum, &parsed) == 0) {
            each_slot(&parsed, patch_slot, NULL);
        }
        if (!was_seen(o->base) && nseen < MAX_SEEN) {
            seen[nseen++] = o->base;
        }
        pthread_mutex_unlock(&patch_lock);
        dlclose(handle);
    }
    if (complete) {
        pthread_mutex_lock(&patch_lock);
        done_adds = l.adds;
        pthread_mutex_unlock(&patch_lock);
    }
    unlist(&l);
}

/* dlopen as the caller would have it (callerdl.h), then the new objects are patched. Reached
 * through the callers' GOT slots, so its return address is in the caller. */
static void *
hook_dlopen(const char *file, int flags)
{
    void *handle = mp_callerdl_open(real_dlopen, file, flags, __builtin_return_address(0));
    if (handle != NULL) {
        int saved_errno = errno;
        patch_new_objects();
        errno = saved_errno;
    }
    return handle;
}

static int
imports_name(const object_t *o, const char *name, int imported, void **slot, void *arg)
{
    (void)o;
    (void)slot;
    return imported && strcmp(name, arg) == 0;
}

/*
 * The definition of name that the program's callers reach: in the loader's search order, the
 * first object that defines it itself, the profiler excepted. dlsym(RTLD_DEFAULT) is not it when
 * the executable takes the function's address: the executable then carries a canonical PLT
 * entry under that name, which jumps through its own GOT slot, the slot about to point at the
 * replacement. Such an executable both imports the name and seems to define it; it is skipped.
 * Returns the address and, in *owner, the load address of the object that defines it.
 */
static void *
definition(const listing_t *l, const char *name, uintptr_t *owner)
{
    for (size_t i = 0; i < l->n; i++) {
        const listed_t *o = &l->objects[i];
        if (o->base == self_base) {
            continue;
        }
        void *handle = pin(o, i == 0);
        if (handle == NULL) {
            continue;
        }
        void *p = dlsym(handle, name);
        Dl_info info;
        struct link_map *map = NULL;
        int own = p != NULL && dladdr1(p, &info, (void **)&map, RTLD_DL_LINKMAP) != 0 &&
                  map != NULL && map->l_addr == o->base;
        object_t parsed;
        if (own && i == 0 && read_object(o->base, o->phdr, o->phnum, &parsed) == 0 &&
            each_slot(&parsed, imports_name, (void *)name)) {
            own = 0;
        }
        (void)dlerror();
        dlclose(handle);
        if (own) {
            *owner = o->base;
            return p;
        }
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
set_up(void)
{
    Dl_info self;
    if (dladdr((const void *)mp_relocs_install, &self) != 0) {
        self_base = (uintptr_t)self.dli_fbase;
    }
    pthread_atfork(before_fork, after_fork, after_fork);
}

/* The load address of the object at addr, or UINTPTR_MAX. */
static uintptr_t
base_of(const void *addr)
{
    Dl_info info;
    if (addr != NULL && dladdr(addr, &info) != 0) {
        return (uintptr_t)info.dli_fbase;
    }
    return UINTPTR_MAX;
}

int
mp_relocs_install(const mp_reloc_hook_t *add, int n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_up);
    /* The originals first, without patch_lock (they ask the loader). */
    listing_t l;
    list_objects(&l);
    hook_t found[MAX_HOOKS];
    int nfound = 0;
    uintptr_t owner;
    if (real_dlopen == NULL) {
        real_dlopen = (void *(*)(const char *, int))definition(&l, "dlopen", &owner);
        if (real_dlopen != NULL) {
            found[nfound++] = (hook_t){{"dlopen", (void *)hook_dlopen, NULL, NULL, NULL},
                                       UINTPTR_MAX, UINTPTR_MAX};
        }
    }
    for (int i = 0; i < n && nfound < MAX_HOOKS; i++) {
        *add[i].original = definition(&l, add[i].name, &owner);
        if (*add[i].original == NULL) {
            continue;
        }
        uintptr_t only_in = base_of(add[i].only_in);
        if (add[i].only_in != NULL && only_in == UINTPTR_MAX) {
            continue; /* its one object is unknown: rewriting every object's slots is wrong */
        }
        found[nfound++] = (hook_t){add[i], base_of(add[i].not_in), only_in};
    }
    unlist(&l);

    pthread_mutex_lock(&patch_lock);
    int fits = nhooks + nfound <= MAX_HOOKS;
    if (fits) {
        memcpy(&hooks[nhooks], found, (size_t)nfound * sizeof(hook_t));
        nhooks += nfound;
        nseen = 0; /* every object again, for the new symbols */
    }
    pthread_mutex_unlock(&patch_lock);
    if (!fits) {
        return -1;
    }
    patch_new_objects();
    return 0;
}
