#include "stacks.h"

#include <string.h>

#include "alloc.h"

int
mp_stacks_init(mp_stacks_t *s)
{
    memset(s, 0, sizeof(*s));
    mp_strtab_init(&s->strings);
    mp_vec_init(&s->frames, sizeof(mp_frame_t));
    mp_index_init(&s->frame_index);
    mp_vec_init(&s->nodes, sizeof(mp_node_t));
    mp_index_init(&s->node_index);
    /* Node 0 is the empty stack, the root of the trie. */
    return mp_vec_push(&s->nodes) == MP_STACKS_ROOT ? 0 : -1;
}

void
mp_stacks_destroy(mp_stacks_t *s)
{
    mp_strtab_destroy(&s->strings);
    mp_vec_destroy(&s->frames);
    mp_index_destroy(&s->frame_index);
    mp_vec_destroy(&s->nodes);
    mp_index_destroy(&s->node_index);
    mp_alloc_release(s->last_frames, (size_t)s->last_cap * sizeof(uint32_t));
    mp_alloc_release(s->last_nodes, (size_t)s->last_cap * sizeof(uint32_t));
    s->last_frames = s->last_nodes = NULL;
    s->last_n = s->last_cap = 0;
}

static int
frame_equals(const void *key, uint32_t id, const void *owner)
{
    const mp_frame_t *k = key;
    const mp_frame_t *f = mp_stacks_frame_at(owner, id);
    return f->filename == k->filename && f->lineno == k->lineno;
}

static int64_t frame_of(mp_stacks_t *s, mp_frame_t key);

int64_t
mp_stacks_frame(mp_stacks_t *s, const char *filename, size_t len, uint32_t lineno)
{
    int64_t name = mp_strtab_intern(&s->strings, filename, len);
    if (name < 0 || (name & MP_FRAME_NATIVE)) {
        return -1;
    }
    return frame_of(s, (mp_frame_t){(uint32_t)name, lineno, 0});
}

int
mp_stacks_name_frame(mp_stacks_t *s, uint32_t frame, const char *name, size_t len)
{
    mp_frame_t *f = mp_vec_at(&s->frames, frame);
    int64_t id = mp_strtab_intern(&s->strings, name, len);
    if (id < 0 || (uint64_t)id + 1 > UINT32_MAX) {
        return -1;
    }
    if (f->name != 0) {
        const mp_str_t *old = mp_strtab_get(&s->strings, f->name - 1);
        int c = memcmp(name, old->data, len < old->len ? len : old->len);
        if (c > 0 || (c == 0 && len >= old->len)) {
            return 0;
        }
    }
    /* Release: a reader that sees the id sees the interned string. */
    __atomic_store_n(&f->name, (uint32_t)id + 1, __ATOMIC_RELEASE);
    return 0;
}

int64_t
mp_stacks_native_frame(mp_stacks_t *s, uint32_t object, uint32_t offset)
{
    return frame_of(s, (mp_frame_t){MP_FRAME_NATIVE | object, offset, 0});
}

static int64_t
frame_of(mp_stacks_t *s, mp_frame_t key)
{
    uint64_t hash = mp_hash_u64(((uint64_t)key.filename << 32) | key.lineno);
    int64_t id = mp_index_find(&s->frame_index, hash, &key, frame_equals, s);
    if (id >= 0) {
        return id;
    }
    id = mp_vec_push(&s->frames);
    if (id < 0) {
        return -1;
    }
    *(mp_frame_t *)mp_vec_at(&s->frames, (uint32_t)id) = key;
    if (mp_index_add(&s->frame_index, hash, (uint32_t)id) < 0) {
        s->frames.len--;
        return -1;
    }
    return id;
}

static int
node_equals(const void *key, uint32_t id, const void *owner)
{
    const mp_node_t *k = key;
    const mp_node_t *n = mp_stacks_node(owner, id);
    return n->parent == k->parent && n->frame == k->frame;
}

static int64_t
child(mp_stacks_t *s, uint32_t parent, uint32_t frame)
{
    mp_node_t key = {parent, frame, 0};
    uint64_t hash = mp_hash_u64(((uint64_t)parent << 32) | frame);
    int64_t id = mp_index_find(&s->node_index, hash, &key, node_equals, s);
    if (id >= 0) {
        return id;
    }
    id = mp_vec_push(&s->nodes);
    if (id < 0) {
        return -1;
    }
    key.depth = mp_stacks_node(s, parent)->depth + 1;
    *(mp_node_t *)mp_vec_at(&s->nodes, (uint32_t)id) = key;
    if (mp_index_add(&s->node_index, hash, (uint32_t)id) < 0) {
        s->nodes.len--;
        return -1;
    }
    return id;
}

/* Room for n entries in the last-stack arrays; 0, or -1 when out of memory. */
static int
reserve_last(mp_stacks_t *s, uint32_t n)
{
    if (n <= s->last_cap) {
        return 0;
    }
    uint32_t cap = s->last_cap ? s->last_cap : 64;
    while (cap < n) {
        cap *= 2;
    }
    uint32_t *frames = mp_alloc_zeroed((size_t)cap * sizeof(uint32_t));
    uint32_t *nodes = mp_alloc_zeroed((size_t)cap * sizeof(uint32_t));
    if (frames == NULL || nodes == NULL) {
        mp_alloc_release(frames, (size_t)cap * sizeof(uint32_t));
        mp_alloc_release(nodes, (size_t)cap * sizeof(uint32_t));
        return -1;
    }
    if (s->last_n > 0) {
        memcpy(frames, s->last_frames, (size_t)s->last_n * sizeof(uint32_t));
        memcpy(nodes, s->last_nodes, (size_t)s->last_n * sizeof(uint32_t));
    }
    mp_alloc_release(s->last_frames, (size_t)s->last_cap * sizeof(uint32_t));
    mp_alloc_release(s->last_nodes, (size_t)s->last_cap * sizeof(uint32_t));
    s->last_frames = frames;
    s->last_nodes = nodes;
    s->last_cap = cap;
    return 0;
}

int64_t
mp_stacks_intern(mp_stacks_t *s, const uint32_t *frames, uint32_t n)
{
    int64_t node = MP_STACKS_ROOT;
    if (reserve_last(s, n) < 0) {
        /* The trie grows from the oldest frame, the last one in the array. */
        for (uint32_t i = n; i > 0 && node >= 0; i--) {
            node = child(s, (uint32_t)node, frames[i - 1]);
        }
        s->last_n = 0;
        return node;
    }
    /* The oldest frames this stack shares with the last one have their nodes already. */
    uint32_t k = 0;
    uint32_t common = n < s->last_n ? n : s->last_n;
    while (k < common && frames[n - 1 - k] == s->last_frames[k]) {
        k++;
    }
    if (k > 0) {
        node = s->last_nodes[k - 1];
    }
    for (; k < n; k++) {
        node = child(s, (uint32_t)node, frames[n - 1 - k]);
        if (node < 0) {
            break;
        }
        s->last_frames[k] = frames[n - 1 - k];
        s->last_nodes[k] = (uint32_t)node;
    }
    s->last_n = k;
    return node;
}

mp_stacks_extent_t
mp_stacks_extent(const mp_stacks_t *s)
{
    return (mp_stacks_extent_t){s->strings.strings.len, s->frames.len, s->nodes.len};
}
