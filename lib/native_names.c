#include "native_names.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "elfsym.h"
#include "fmt.h"

#define CHUNK_BYTES ((size_t)64 << 10)

struct mp_names_chunk {
    mp_names_chunk_t *next;
    size_t size, used;
    char data[];
};

/* Room for len bytes among the names, or NULL. */
static char *
room(mp_native_names_t *nn, size_t len)
{
    mp_names_chunk_t *c = nn->chunks;
    if (c == NULL || c->used + len > c->size) {
        size_t bytes = sizeof(*c) + (len > CHUNK_BYTES ? len : CHUNK_BYTES);
        c = mp_alloc_scratch(bytes);
        if (c == NULL) {
            return NULL;
        }
        c->size = bytes - sizeof(*c);
        c->next = nn->chunks;
        nn->chunks = c;
    }
    char *at = c->data + c->used;
    c->used += len;
    return at;
}

const char *
mp_native_names_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Stores "<native> " and the parts as frame's name; a is a symbol's name when symbol is set. */
static int
put_name(mp_native_names_t *nn, uint32_t frame, int symbol, const char *a, const char *b,
         const char *c, const char *d)
{
    const char *parts[] = {"<native> ", a, b, c, d};
    size_t lens[5], len = 1;
    for (size_t i = 0; i < 5; i++) {
        lens[i] = strlen(parts[i]);
        len += lens[i];
    }
    /* A symbol's version ("__libc_start_main@@GLIBC_2.34" in a .symtab) is not its name. */
    const char *at_version = symbol ? strchr(a, '@') : NULL;
    if (at_version != NULL && at_version != a) {
        len -= lens[1] - (size_t)(at_version - a);
        lens[1] = (size_t)(at_version - a);
    }
    char *at = room(nn, len);
    if (at == NULL) {
        return -ENOMEM;
    }
    nn->names[frame] = at;
    for (size_t i = 0; i < 5; i++) {
        memcpy(at, parts[i], lens[i]);
        at += lens[i];
    }
    *at = '\0';
    return 0;
}

static inline uint32_t
slot_of(const mp_frame_t *fr, uint32_t nobjects)
{
    uint32_t object = fr->filename & ~MP_FRAME_NATIVE;
    return object < nobjects ? object : nobjects;
}

/* Names the frames of one object, q[0..n) (tag: frame id, addr: the return address - 1). */
static int
name_object(mp_native_names_t *nn, const mp_objects_t *objects, uint32_t object,
            mp_elfsym_query_t *q, size_t n)
{
    const mp_object_t *obj = mp_objects_at(objects, object);
    const char *path = mp_strtab_get(&objects->paths, obj->path)->data;
    const char *base = mp_native_names_basename(path);
    mp_elfsym_file_t file;
    /* Only absolute paths: a relative one (dlopen("./x.so")) would be looked up in whatever
     * directory the program is in now, and the vDSO ("linux-vdso.so.1") has no file. */
    int opened = path[0] == '/' &&
                 mp_elfsym_open_best(&file, path, obj->build_id, obj->build_id_len) == 0;
    if (opened) {
        mp_elfsym_lookup(&file, q, n);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (opened && q[i].name != NULL) {
            rc = put_name(nn, q[i].tag, 1, q[i].name, " (", base, ")");
        } else {
            char offset[32];
            mp_fmt_t f;
            mp_fmt_init(&f, offset, sizeof(offset));
            mp_fmt_str(&f, "+0x");
            uint64_t v = q[i].addr + 1;
            int digits = 1;
            while (digits < 16 && (v >> (4 * digits)) != 0) {
                digits++;
            }
            mp_fmt_hex(&f, v, digits);
            mp_fmt_end(&f);
            rc = put_name(nn, q[i].tag, 0, base, offset, "", "");
        }
    }
    if (opened) {
        mp_elfsym_close(&file);
    }
    return rc;
}

int
mp_native_names_make(mp_native_names_t *nn, const mp_stacks_t *stacks,
                     mp_stacks_extent_t extent, const mp_objects_t *objects, uint32_t nobjects)
{
    memset(nn, 0, sizeof(*nn));
    nn->nframes = extent.frames;
    size_t names_bytes = (size_t)extent.frames * sizeof(char *) + 1;
    size_t starts_bytes = ((size_t)nobjects + 2) * sizeof(uint32_t);
    nn->names = mp_alloc_scratch(names_bytes);
    uint32_t *starts = mp_alloc_scratch(starts_bytes); /* per object, then the "no object" */
    mp_elfsym_query_t *q = NULL;
    size_t q_bytes = 0;
    int rc = nn->names == NULL || starts == NULL ? -ENOMEM : 0;

    /* The native frames by object: counts, where each object's queries begin, the queries.
     * Slot nobjects is "no object". */
    uint32_t total = 0;
    for (uint32_t f = 0; f < extent.frames && rc == 0; f++) {
        const mp_frame_t *fr = mp_stacks_frame_at(stacks, f);
        if (fr->filename & MP_FRAME_NATIVE) {
            starts[slot_of(fr, nobjects) + 1]++;
            total++;
        }
    }
    if (rc == 0 && total > 0) {
        q_bytes = (size_t)total * sizeof(*q);
        q = mp_alloc_scratch(q_bytes);
        rc = q == NULL ? -ENOMEM : 0;
    }
    if (rc == 0 && total > 0) {
        for (uint32_t o = 1; o <= nobjects + 1; o++) {
            starts[o] += starts[o - 1];
        }
        /* starts[o] is where slot o begins; it moves to where slot o ends as it fills, which
         * is where slot o + 1 begins. */
        for (uint32_t f = 0; f < extent.frames; f++) {
            const mp_frame_t *fr = mp_stacks_frame_at(stacks, f);
            if (fr->filename & MP_FRAME_NATIVE) {
                q[starts[slot_of(fr, nobjects)]++] =
                    (mp_elfsym_query_t){.addr = (uint64_t)fr->lineno - 1, .tag = f};
            }
        }
        uint32_t begin = 0;
        for (uint32_t o = 0; o < nobjects && rc == 0; o++) {
            if (starts[o] > begin) {
                rc = name_object(nn, objects, o, q + begin, starts[o] - begin);
            }
            begin = starts[o];
        }
        for (uint32_t i = begin; i < total && rc == 0; i++) {
            rc = put_name(nn, q[i].tag, 0, "??", "", "", "");
        }
    }
    mp_alloc_release_scratch(q, q_bytes);
    mp_alloc_release_scratch(starts, starts_bytes);
    return rc;
}

void
mp_native_names_release(mp_native_names_t *nn)
{
    while (nn->chunks != NULL) {
        mp_names_chunk_t *next = nn->chunks->next;
        mp_alloc_release_scratch(nn->chunks, sizeof(*nn->chunks) + nn->chunks->size);
        nn->chunks = next;
    }
    mp_alloc_release_scratch(nn->names, (size_t)nn->nframes * sizeof(char *) + 1);
    nn->names = NULL;
}
