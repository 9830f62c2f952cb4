#include "strtab.h"

#include <string.h>

#include "alloc.h"

#define CHUNK_SIZE (64 * 1024)
#define MAX_STRING (1u << 30)

struct mp_strtab_chunk {
    mp_strtab_chunk_t *next;
    size_t size;
    char data[];
};

void
mp_strtab_init(mp_strtab_t *t)
{
    memset(t, 0, sizeof(*t));
    mp_vec_init(&t->strings, sizeof(mp_str_t));
    mp_index_init(&t->index);
}

void
mp_strtab_destroy(mp_strtab_t *t)
{
    mp_strtab_chunk_t *c = t->chunks;
    while (c != NULL) {
        mp_strtab_chunk_t *next = c->next;
        mp_alloc_release(c, c->size);
        c = next;
    }
    mp_vec_destroy(&t->strings);
    mp_index_destroy(&t->index);
    mp_strtab_init(t);
}

struct lookup_key {
    const char *s;
    size_t len;
};

static int
string_equals(const void *key, uint32_t id, const void *owner)
{
    const struct lookup_key *k = key;
    const mp_str_t *str = mp_strtab_get(owner, id);
    return str->len == k->len && memcmp(str->data, k->s, k->len) == 0;
}

/* Room for len bytes plus the terminator, in the current chunk or a new one. */
static char *
reserve(mp_strtab_t *t, size_t len)
{
    size_t need = len + 1;
    if (t->chunks == NULL || t->chunk_used + need > t->chunks->size - sizeof(mp_strtab_chunk_t)) {
        size_t size = sizeof(mp_strtab_chunk_t) + need;
        if (size < CHUNK_SIZE) {
            size = CHUNK_SIZE;
        }
        mp_strtab_chunk_t *c = mp_alloc_zeroed(size);
        if (c == NULL) {
            return NULL;
        }
        c->size = size;
        c->next = t->chunks;
        t->chunks = c;
        t->chunk_used = 0;
    }
    char *p = t->chunks->data + t->chunk_used;
    t->chunk_used += need;
    return p;
}

int64_t
mp_strtab_intern(mp_strtab_t *t, const char *s, size_t len)
{
    if (len > MAX_STRING) {
        return -1;
    }
    struct lookup_key key = {s, len};
    uint64_t hash = mp_hash_bytes(s, len);
    int64_t id = mp_index_find(&t->index, hash, &key, string_equals, t);
    if (id >= 0) {
        return id;
    }
    char *copy = reserve(t, len);
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    int64_t new_id = mp_vec_push(&t->strings);
    if (new_id < 0) {
        return -1;
    }
    mp_str_t *str = mp_vec_at(&t->strings, (uint32_t)new_id);
    str->data = copy;
    str->len = (uint32_t)len;
    if (mp_index_add(&t->index, hash, (uint32_t)new_id) < 0) {
        /* Undo the push so the id is not visible without an index entry. */
        t->strings.len--;
        return -1;
    }
    return new_id;
}

