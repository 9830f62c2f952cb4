#include "index.h"

#include <string.h>

#include "alloc.h"

#define INITIAL_CAPACITY 1024

void
mp_index_init(mp_index_t *ix)
{
    memset(ix, 0, sizeof(*ix));
}

void
mp_index_destroy(mp_index_t *ix)
{
    mp_alloc_release(ix->slots, ix->capacity * sizeof(mp_index_slot_t));
    mp_index_init(ix);
}

int64_t
mp_index_find(const mp_index_t *ix, uint64_t hash, const void *key, mp_index_eq_fn eq,
              const void *owner)
{
    if (ix->capacity == 0) {
        return -1;
    }
    size_t mask = ix->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const mp_index_slot_t *s = &ix->slots[i];
        if (s->id_plus_one == 0) {
            return -1;
        }
        if (s->hash == hash && eq(key, s->id_plus_one - 1, owner)) {
            return s->id_plus_one - 1;
        }
    }
}

static void
insert_slot(mp_index_slot_t *slots, size_t capacity, uint64_t hash, uint32_t id_plus_one)
{
    size_t mask = capacity - 1;
    size_t i = hash & mask;
    while (slots[i].id_plus_one != 0) {
        i = (i + 1) & mask;
    }
    slots[i].hash = hash;
    slots[i].id_plus_one = id_plus_one;
}

static int
grow(mp_index_t *ix)
{
    size_t capacity = ix->capacity ? ix->capacity * 2 : INITIAL_CAPACITY;
    mp_index_slot_t *slots = mp_alloc_zeroed(capacity * sizeof(*slots));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < ix->capacity; i++) {
        if (ix->slots[i].id_plus_one != 0) {
            insert_slot(slots, capacity, ix->slots[i].hash, ix->slots[i].id_plus_one);
        }
    }
    mp_alloc_release(ix->slots, ix->capacity * sizeof(*slots));
    ix->slots = slots;
    ix->capacity = capacity;
    return 0;
}

int
mp_index_add(mp_index_t *ix, uint64_t hash, uint32_t id)
{
    /* Keep the load at or below one half so probes stay short. */
    if ((ix->count + 1) * 2 > ix->capacity && grow(ix) < 0) {
        return -1;
    }
    insert_slot(ix->slots, ix->capacity, hash, id + 1);
    ix->count++;
    return 0;
}

uint64_t
mp_hash_bytes(const void *data, size_t len)
{
    /* FNV-1a over 8-byte words, then mixed: strings here are short file names. */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h = (h ^ tail) * 0x100000001b3ULL;
    return mp_hash_u64(h);
}
