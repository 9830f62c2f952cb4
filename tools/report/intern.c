#include "intern.h"

#include <stdlib.h>
#include <string.h>

/* Open addressing tables of ids; slots hold id + 1 so 0 means empty. */
typedef struct table {
    uint32_t *slots;
    size_t mask, count;
} table;

struct intern {
    /* files: names stored back to back in one buffer */
    char *names;
    size_t names_len, names_cap;
    size_t *name_off, *name_len;
    size_t nfiles, capfiles;
    table file_tab;
    /* frames */
    int32_t *frame_file;
    int64_t *frame_lineno;
    int32_t *frame_name; /* string id (in the file table) + 1 of the function; 0: unknown */
    size_t nframes, capframes;
    table frame_tab;
    /* stacks: frame ids back to back */
    int32_t *stack_items;
    size_t items_len, items_cap;
    size_t *stack_off, *stack_n;
    uint64_t *stack_hash;
    size_t nstacks, capstacks;
    table stack_tab;
    /* ranks */
    int32_t *ranks;
    size_t ranks_valid_for;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    h ^= 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

intern *intern_new(void)
{
    return calloc(1, sizeof(intern));
}

void intern_free(intern *in)
{
    if (!in)
        return;
    free(in->names);
    free(in->name_off);
    free(in->name_len);
    free(in->file_tab.slots);
    free(in->frame_file);
    free(in->frame_lineno);
    free(in->frame_name);
    free(in->frame_tab.slots);
    free(in->stack_items);
    free(in->stack_off);
    free(in->stack_n);
    free(in->stack_hash);
    free(in->stack_tab.slots);
    free(in->ranks);
    free(in);
}

/* Ensure room for one more entry; rehash with the caller's hash function. */
typedef uint64_t (*hash_of_id)(const intern *in, uint32_t id);

static int table_reserve(intern *in, table *t, hash_of_id h)
{
    if (t->slots && (t->count + 1) * 4 < (t->mask + 1) * 3)
        return 0;
    size_t ncap = t->slots ? (t->mask + 1) * 2 : 256;
    uint32_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++) {
            if (!t->slots[i])
                continue;
            size_t j = h(in, t->slots[i] - 1) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = t->slots[i];
        }
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return 0;
}

static uint64_t file_hash(const intern *in, uint32_t id)
{
    return hash_bytes(in->names + in->name_off[id], in->name_len[id], 0);
}

static uint64_t frame_hash_v(int32_t file, int64_t lineno)
{
    return mix((uint64_t)(uint32_t)file * 0x9e3779b97f4a7c15ull ^ mix((uint64_t)lineno));
}

static uint64_t frame_hash(const intern *in, uint32_t id)
{
    return frame_hash_v(in->frame_file[id], in->frame_lineno[id]);
}

static uint64_t stack_hash(const intern *in, uint32_t id)
{
    return in->stack_hash[id];
}

int32_t intern_file(intern *in, const char *name, size_t len)
{
    if (table_reserve(in, &in->file_tab, file_hash) < 0)
        return -1;
    uint64_t h = hash_bytes(name, len, 0);
    size_t j = h & in->file_tab.mask;
    for (uint32_t s; (s = in->file_tab.slots[j]) != 0; j = (j + 1) & in->file_tab.mask) {
        if (in->name_len[s - 1] == len && memcmp(in->names + in->name_off[s - 1], name, len) == 0)
            return (int32_t)(s - 1);
    }
    if (in->nfiles >= INT32_MAX - 1 ||
        grow((void **)&in->names, &in->names_cap, in->names_len + len + 1, 1) < 0 ||
        grow((void **)&in->name_off, &in->capfiles, in->nfiles + 1, sizeof(size_t)) < 0)
        return -1;
    /* name_len shares capfiles: keep it in step. */
    size_t *nl = realloc(in->name_len, in->capfiles * sizeof(size_t));
    if (!nl)
        return -1;
    in->name_len = nl;
    memcpy(in->names + in->names_len, name, len);
    in->names[in->names_len + len] = '\0';
    in->name_off[in->nfiles] = in->names_len;
    in->name_len[in->nfiles] = len;
    in->names_len += len + 1;
    in->file_tab.slots[j] = (uint32_t)in->nfiles + 1;
    in->file_tab.count++;
    return (int32_t)in->nfiles++;
}

int32_t intern_frame(intern *in, int32_t file, int64_t lineno)
{
    if (table_reserve(in, &in->frame_tab, frame_hash) < 0)
        return -1;
    size_t j = frame_hash_v(file, lineno) & in->frame_tab.mask;
    for (uint32_t s; (s = in->frame_tab.slots[j]) != 0; j = (j + 1) & in->frame_tab.mask) {
        if (in->frame_file[s - 1] == file && in->frame_lineno[s - 1] == lineno)
            return (int32_t)(s - 1);
    }
    if (in->nframes >= INT32_MAX - 1)
        return -1;
    if (in->nframes == in->capframes) {
        size_t cap = in->capframes;
        if (grow((void **)&in->frame_file, &cap, in->nframes + 1, sizeof(int32_t)) < 0)
            return -1;
        int64_t *l = realloc(in->frame_lineno, cap * sizeof(int64_t));
        if (!l)
            return -1;
        in->frame_lineno = l;
        int32_t *n = realloc(in->frame_name, cap * sizeof(int32_t));
        if (!n)
            return -1;
        in->frame_name = n;
        in->capframes = cap;
    }
    in->frame_file[in->nframes] = file;
    in->frame_lineno[in->nframes] = lineno;
    in->frame_name[in->nframes] = 0;
    in->frame_tab.slots[j] = (uint32_t)in->nframes + 1;
    in->frame_tab.count++;
    return (int32_t)in->nframes++;
}

int32_t intern_stack(intern *in, const int32_t *frames, size_t nframes)
{
    if (table_reserve(in, &in->stack_tab, stack_hash) < 0)
        return -1;
    uint64_t h = mix(hash_bytes(frames, nframes * sizeof *frames, nframes));
    size_t j = h & in->stack_tab.mask;
    for (uint32_t s; (s = in->stack_tab.slots[j]) != 0; j = (j + 1) & in->stack_tab.mask) {
        uint32_t id = s - 1;
        if (in->stack_hash[id] == h && in->stack_n[id] == nframes &&
            memcmp(in->stack_items + in->stack_off[id], frames, nframes * sizeof *frames) == 0)
            return (int32_t)id;
    }
    if (in->nstacks >= INT32_MAX - 1 ||
        grow((void **)&in->stack_items, &in->items_cap, in->items_len + nframes, sizeof(int32_t)) < 0)
        return -1;
    if (in->nstacks == in->capstacks) {
        size_t cap = in->capstacks;
        if (grow((void **)&in->stack_off, &cap, in->nstacks + 1, sizeof(size_t)) < 0)
            return -1;
        size_t *n = realloc(in->stack_n, cap * sizeof(size_t));
        if (!n)
            return -1;
        in->stack_n = n;
        uint64_t *hh = realloc(in->stack_hash, cap * sizeof(uint64_t));
        if (!hh)
            return -1;
        in->stack_hash = hh;
        in->capstacks = cap;
    }
    if (nframes)
        memcpy(in->stack_items + in->items_len, frames, nframes * sizeof *frames);
    in->stack_off[in->nstacks] = in->items_len;
    in->stack_n[in->nstacks] = nframes;
    in->stack_hash[in->nstacks] = h;
    in->items_len += nframes;
    in->stack_tab.slots[j] = (uint32_t)in->nstacks + 1;
    in->stack_tab.count++;
    return (int32_t)in->nstacks++;
}

size_t intern_nfiles(const intern *in) { return in->nfiles; }
size_t intern_nframes(const intern *in) { return in->nframes; }
size_t intern_nstacks(const intern *in) { return in->nstacks; }

const char *intern_file_name(const intern *in, int32_t file, size_t *len)
{
    *len = in->name_len[file];
    return in->names + in->name_off[file];
}

int32_t intern_frame_file(const intern *in, int32_t frame) { return in->frame_file[frame]; }
int64_t intern_frame_lineno(const intern *in, int32_t frame) { return in->frame_lineno[frame]; }

static int compare_names(const intern *in, int32_t x, int32_t y)
{
    size_t lx = in->name_len[x], ly = in->name_len[y];
    int c = memcmp(in->names + in->name_off[x], in->names + in->name_off[y], lx < ly ? lx : ly);
    if (c)
        return c;
    return lx < ly ? -1 : lx > ly;
}

int intern_set_frame_name(intern *in, int32_t frame, const char *name, size_t len)
{
    /* Names share the file names' table: both are strings interned by content, and a name is
     * never a frame's file, so nothing else sees them. */
    int32_t id = intern_file(in, name, len);
    if (id < 0)
        return -1;
    int32_t old = in->frame_name[frame] - 1;
    if (old < 0 || compare_names(in, id, old) < 0)
        in->frame_name[frame] = id + 1;
    return 0;
}

const char *intern_frame_name(const intern *in, int32_t frame, size_t *len)
{
    int32_t id = in->frame_name[frame] - 1;
    if (id < 0) {
        *len = 0;
        return NULL;
    }
    return intern_file_name(in, id, len);
}

const int32_t *intern_stack_frames(const intern *in, int32_t stack, size_t *n)
{
    *n = in->stack_n[stack];
    return in->stack_items + in->stack_off[stack];
}

static const intern *sort_ctx;

static int cmp_files(const void *a, const void *b)
{
    return compare_names(sort_ctx, *(const int32_t *)a, *(const int32_t *)b);
}

const int32_t *intern_file_ranks(intern *in)
{
    if (in->ranks && in->ranks_valid_for == in->nfiles)
        return in->ranks;
    free(in->ranks);
    in->ranks = NULL;
    size_t n = in->nfiles;
    int32_t *order = malloc((n ? n : 1) * sizeof *order);
    int32_t *ranks = malloc((n ? n : 1) * sizeof *ranks);
    if (!order || !ranks) {
        free(order);
        free(ranks);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    sort_ctx = in;
    qsort(order, n, sizeof *order, cmp_files);
    for (size_t i = 0; i < n; i++)
        ranks[order[i]] = (int32_t)i;
    free(order);
    in->ranks = ranks;
    in->ranks_valid_for = n;
    return ranks;
}
