#include "strtab.h"

#include <stdlib.h>
#include <string.h>

void strtab_free(strtab *t)
{
    free(t->pool);
    free(t->off);
    free(t->len);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* FNV-1a, 64 bits. */
static uint64_t hash_bytes(const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static uint32_t *slot_of(const strtab *t, const void *s, size_t len, uint64_t h)
{
    size_t mask = t->nslots - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t *slot = &t->slots[i];
        if (!*slot)
            return slot;
        size_t k = *slot - 1;
        if (t->len[k] == len && (len == 0 || memcmp(t->pool + t->off[k], s, len) == 0))
            return slot;
        i = (i + 1) & mask;
    }
}

/* Doubles the slots when the table would be half full. */
static int grow_slots(strtab *t)
{
    if (2 * (t->n + 1) <= t->nslots)
        return 0;
    size_t nslots = t->nslots ? 2 * t->nslots : 64;
    uint32_t *old = t->slots;
    size_t oldn = t->nslots;
    t->slots = calloc(nslots, sizeof *t->slots);
    if (!t->slots) {
        t->slots = old;
        return -1;
    }
    t->nslots = nslots;
    for (size_t i = 0; i < oldn; i++) {
        if (old[i]) {
            size_t k = old[i] - 1;
            const char *s = t->pool + t->off[k];
            *slot_of(t, s, t->len[k], hash_bytes(s, t->len[k])) = old[i];
        }
    }
    free(old);
    return 0;
}

int64_t strtab_add(strtab *t, const void *s, size_t len)
{
    if (t->n >= UINT32_MAX - 1 || grow_slots(t) < 0)
        return -1;
    uint32_t *slot = slot_of(t, s, len, hash_bytes(s, len));
    if (*slot)
        return *slot - 1;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        size_t *off = realloc(t->off, cap * sizeof *off);
        if (!off)
            return -1;
        t->off = off;
        size_t *ln = realloc(t->len, cap * sizeof *ln);
        if (!ln)
            return -1;
        t->len = ln;
        t->cap = cap;
    }
    if (len > t->pool_cap - t->pool_len) {
        size_t cap = t->pool_cap ? t->pool_cap : 4096;
        while (cap - t->pool_len < len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *pool = realloc(t->pool, cap);
        if (!pool)
            return -1;
        t->pool = pool;
        t->pool_cap = cap;
    }
    if (len)
        memcpy(t->pool + t->pool_len, s, len);
    t->off[t->n] = t->pool_len;
    t->len[t->n] = len;
    t->pool_len += len;
    *slot = (uint32_t)(t->n + 1);
    return (int64_t)t->n++;
}

size_t strtab_count(const strtab *t)
{
    return t->n;
}

const char *strtab_get(const strtab *t, size_t i, size_t *len)
{
    *len = t->len[i];
    return t->pool + t->off[i];
}
