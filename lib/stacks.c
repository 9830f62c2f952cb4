#include "stacks.h"

#include <string.h>

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
}

static int
frame_equals(const void *key, uint32_t id, const void *owner)
{
    const mp_frame_t *k = key;
    const mp_frame_t *f = mp_stacks_frame_at(owner, id);
    return f->filename == k->filename && f->lineno == k->lineno;
}

int64_t
mp_stacks_frame(mp_stacks_t *s, const char *filename, size_t len, uint32_t lineno)
{
    int64_t name = mp_strtab_intern(&s->strings, filename, len);
    if (name < 0) {
        return -1;
    }
    mp_frame_t key = {(uint32_t)name, lineno};
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

int64_t
mp_stacks_intern(mp_stacks_t *s, const uint32_t *frames, uint32_t n)
{
    int64_t node = MP_STACKS_ROOT;
    /* The trie grows from the oldest frame, the last one in the array. */
    for (uint32_t i = n; i > 0 && node >= 0; i--) {
        node = child(s, (uint32_t)node, frames[i - 1]);
    }
    return node;
}

size_t
mp_stacks_memory(const mp_stacks_t *s)
{
    return mp_strtab_memory(&s->strings) + mp_index_memory(&s->frame_index) +
           mp_index_memory(&s->node_index) + (size_t)s->frames.len * sizeof(mp_frame_t) +
           (size_t)s->nodes.len * sizeof(mp_node_t);
}

mp_stacks_extent_t
mp_stacks_extent(const mp_stacks_t *s)
{
    return (mp_stacks_extent_t){s->strings.strings.len, s->frames.len, s->nodes.len};
}
