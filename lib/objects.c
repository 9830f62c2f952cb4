#include "objects.h"

#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "alloc.h"
#include "elfsym.h"

static char exe_path[4096];

void
mp_objects_init(mp_objects_t *o)
{
    memset(o, 0, sizeof(*o));
    mp_strtab_init(&o->paths);
    mp_vec_init(&o->objects, sizeof(mp_object_t));
    /* Counters that no scan has: the first poll always reads the list. */
    atomic_store(&o->adds, UINT64_MAX);
    if (exe_path[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        exe_path[n > 0 ? n : 0] = '\0';
    }
    /* Without /proc (a chroot), the name the program was started by. */
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    if (exe_path[0] == '\0' && execfn != NULL && strlen(execfn) < sizeof(exe_path)) {
        memcpy(exe_path, execfn, strlen(execfn) + 1);
    }
}

typedef struct {
    mp_objects_scan_t *scan;
    size_t entries_cap, names_cap;
    size_t names_used;
    int counting;
} walk_t;

static const char *
name_of(const struct dl_phdr_info *info)
{
    return info->dlpi_name != NULL && info->dlpi_name[0] != '\0' ? info->dlpi_name : exe_path;
}

/* Called with the loader's lock held: the object cannot go away while its headers are read. */
static int
list_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    walk_t *w = arg;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        return 1;
    }
    w->scan->adds = info->dlpi_adds;
    w->scan->subs = info->dlpi_subs;
    const char *name = name_of(info);
    size_t len = strlen(name);
    if (w->counting) {
        w->scan->n++;
        w->names_used += len + 1;
        return 0;
    }
    if (w->scan->n == w->entries_cap || w->names_used + len + 1 > w->names_cap) {
        return 1; /* loaded between the passes: the counters tell, and the scan is retried */
    }
    mp_objects_entry_t *e = &w->scan->entries[w->scan->n++];
    memset(e, 0, sizeof(*e));
    e->bias = info->dlpi_addr;
    e->lo = UINTPTR_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            e->lo = start < e->lo ? start : e->lo;
            e->hi = start + ph->p_memsz > e->hi ? start + ph->p_memsz : e->hi;
        } else if (ph->p_type == PT_NOTE && e->build_id_len == 0) {
            e->build_id_len = (uint8_t)mp_elfsym_build_id((const void *)start, ph->p_filesz,
                                                          e->build_id, MP_BUILD_ID_MAX);
        }
    }
    if (e->hi == 0) {
        e->lo = 0;
    }
    e->name_at = (uint32_t)w->names_used;
    e->name_len = (uint32_t)len;
    memcpy(w->scan->names + w->names_used, name, len + 1);
    w->names_used += len + 1;
    return 0;
}

/* Reads the loader's counters only. */
static int
counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    uint64_t *out = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        out[0] = info->dlpi_adds;
        out[1] = info->dlpi_subs;
    }
    return 1;
}

int
mp_objects_poll(const mp_objects_t *o, mp_objects_scan_t *scan)
{
    uint64_t now[2] = {0, 0};
    dl_iterate_phdr(counters, now);
    if (now[0] == atomic_load_explicit(&o->adds, memory_order_relaxed) &&
        now[1] == atomic_load_explicit(&o->subs, memory_order_relaxed)) {
        return 0;
    }
    for (int attempt = 0; attempt < 4; attempt++) {
        memset(scan, 0, sizeof(*scan));
        walk_t w = {.scan = scan, .counting = 1};
        dl_iterate_phdr(list_object, &w);
        uint64_t adds = scan->adds, subs = scan->subs;
        w.entries_cap = scan->n + 8;
        w.names_cap = w.names_used + 8 * 256;
        scan->mem_size = w.entries_cap * sizeof(mp_objects_entry_t) + w.names_cap;
        scan->mem = mp_alloc_scratch(scan->mem_size);
        if (scan->mem == NULL) {
            return -1;
        }
        scan->entries = scan->mem;
        scan->names = (char *)scan->mem + w.entries_cap * sizeof(mp_objects_entry_t);
        scan->n = 0;
        w.counting = 0;
        w.names_used = 0;
        dl_iterate_phdr(list_object, &w);
        if (scan->adds == adds && scan->subs == subs) {
            return 1;
        }
        mp_objects_scan_release(scan);
    }
    return -1;
}

void
mp_objects_scan_release(mp_objects_scan_t *scan)
{
    mp_alloc_release_scratch(scan->mem, scan->mem_size);
    memset(scan, 0, sizeof(*scan));
}

/* Whether obj is the object the entry lists: the same file (path and build id) at the same
 * place. */
static int
same_object(const mp_objects_t *o, const mp_object_t *obj, const mp_objects_scan_t *scan,
            const mp_objects_entry_t *e)
{
    const mp_str_t *path = mp_strtab_get(&o->paths, obj->path);
    return obj->bias == e->bias && obj->lo == e->lo && obj->hi == e->hi &&
           path->len == e->name_len &&
           memcmp(path->data, scan->names + e->name_at, e->name_len) == 0 &&
           obj->build_id_len == e->build_id_len &&
           memcmp(obj->build_id, e->build_id, e->build_id_len) == 0;
}

/* The loaded object this entry is, if the table has it. */
static int64_t
known(const mp_objects_t *o, const mp_objects_scan_t *scan, const mp_objects_entry_t *e)
{
    for (uint32_t i = 0; i < o->nloaded; i++) {
        if (same_object(o, mp_objects_at(o, o->by_address[i]), scan, e)) {
            return o->by_address[i];
        }
    }
    return -1;
}

/* Whether a new object's code lies where an unloaded object's was, and it is not that same
 * file reloaded at the same place (then the code at each address is what it was). */
static int
over_unloaded(const mp_objects_t *o, const mp_objects_scan_t *scan, const mp_objects_entry_t *e)
{
    for (uint32_t id = 0; id < o->objects.len; id++) {
        const mp_object_t *obj = mp_objects_at(o, id);
        if (!obj->loaded && obj->lo < e->hi && e->lo < obj->hi &&
            !same_object(o, obj, scan, e)) {
            return 1;
        }
    }
    return 0;
}

int
mp_objects_apply(mp_objects_t *o, const mp_objects_scan_t *scan)
{
    uint64_t adds = atomic_load_explicit(&o->adds, memory_order_relaxed);
    uint64_t subs = atomic_load_explicit(&o->subs, memory_order_relaxed);
    if (adds != UINT64_MAX && scan->adds <= adds && scan->subs <= subs) {
        return 0; /* another thread brought the table this far already */
    }
    if (scan->n > o->cap) {
        size_t cap = scan->n * 2;
        uint32_t *by = mp_alloc_zeroed(cap * sizeof(uint32_t));
        if (by == NULL) {
            return -1;
        }
        if (o->nloaded > 0) {
            memcpy(by, o->by_address, o->nloaded * sizeof(uint32_t));
        }
        mp_alloc_release(o->by_address, o->cap * sizeof(uint32_t));
        o->by_address = by;
        o->cap = (uint32_t)cap;
    }
    /* The ids of this scan's objects, old or new, written after the old list was read. */
    uint32_t n = 0;
    uint32_t *ids = mp_alloc_scratch(scan->n * sizeof(uint32_t) + 1);
    if (ids == NULL) {
        return -1;
    }
    /* Every object counts as unloaded until the scan lists it (the sort below marks those it
     * does), so that a new object over the code of one unloaded since the last scan is seen. */
    for (uint32_t i = 0; i < o->nloaded; i++) {
        ((mp_object_t *)mp_vec_at(&o->objects, o->by_address[i]))->loaded = 0;
    }
    for (size_t i = 0; i < scan->n; i++) {
        const mp_objects_entry_t *e = &scan->entries[i];
        if (e->hi == 0) {
            continue; /* no code */
        }
        int64_t id = known(o, scan, e);
        if (id < 0 && over_unloaded(o, scan, e)) {
            atomic_store(&o->reused, 1);
        }
        if (id < 0) {
            int64_t path = mp_strtab_intern(&o->paths, scan->names + e->name_at, e->name_len);
            id = path < 0 ? -1 : mp_vec_push(&o->objects);
            if (id < 0 || id >= MP_OBJECTS_NONE) {
                continue; /* out of memory: this object's frames are "no object" */
            }
            mp_object_t *obj = mp_vec_at(&o->objects, (uint32_t)id);
            *obj = (mp_object_t){.bias = e->bias, .lo = e->lo, .hi = e->hi,
                                 .path = (uint32_t)path, .build_id_len = e->build_id_len};
            memcpy(obj->build_id, e->build_id, e->build_id_len);
        }
        ids[n++] = (uint32_t)id;
    }
    /* By lo, for the binary search (insertion sort: a few hundred objects at most). */
    for (uint32_t i = 0; i < n; i++) {
        mp_object_t *obj = mp_vec_at(&o->objects, ids[i]);
        obj->loaded = 1;
        uint32_t j = i;
        while (j > 0 && mp_objects_at(o, o->by_address[j - 1])->lo > obj->lo) {
            o->by_address[j] = o->by_address[j - 1];
            j--;
        }
        o->by_address[j] = ids[i];
    }
    o->nloaded = n;
    mp_alloc_release_scratch(ids, scan->n * sizeof(uint32_t) + 1);
    atomic_store_explicit(&o->adds, scan->adds, memory_order_relaxed);
    atomic_store_explicit(&o->subs, scan->subs, memory_order_relaxed);
    return 0;
}

uint32_t
mp_objects_find(const mp_objects_t *o, uintptr_t addr)
{
    uint32_t lo = 0, hi = o->nloaded;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (mp_objects_at(o, o->by_address[mid])->lo <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return MP_OBJECTS_NONE;
    }
    uint32_t id = o->by_address[lo - 1];
    return addr < mp_objects_at(o, id)->hi ? id : MP_OBJECTS_NONE;
}
