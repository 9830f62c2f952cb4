/* The tree is built in two passes: every listed stack is walked root
 * first into a raw tree (children found through a hash of (parent, frame)),
 * then the raw tree is written out in preorder with small children merged.
 * Both passes are iterative: a hostile snapshot may have stacks of any
 * depth. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>

typedef struct raw_node {
    flame_node n;
    int32_t first_child, next_sibling;
    int32_t descendants; /* nodes below it, for the merged count */
} raw_node;

typedef struct builder {
    raw_node *nodes;
    size_t n, cap;
    int32_t *slots; /* open addressing: node index + 1, 0 = empty */
    size_t nslots;
} builder;

static size_t slot_of(const builder *b, int32_t parent, int32_t frame)
{
    uint64_t h = ((uint64_t)(uint32_t)parent << 32 | (uint32_t)frame) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (b->nslots - 1);
}

static int grow_slots(builder *b)
{
    size_t n = b->nslots ? 2 * b->nslots : 1024;
    int32_t *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    free(b->slots);
    b->slots = s;
    b->nslots = n;
    for (size_t i = 1; i < b->n; i++) {
        size_t k = slot_of(b, b->nodes[i].n.parent, b->nodes[i].n.frame);
        while (b->slots[k])
            k = (k + 1) & (n - 1);
        b->slots[k] = (int32_t)i + 1;
    }
    return 0;
}

static int32_t add_node(builder *b, int32_t parent, int32_t frame)
{
    if (b->n == b->cap) {
        size_t c = b->cap ? 2 * b->cap : 256;
        raw_node *p = realloc(b->nodes, c * sizeof *p);
        if (!p)
            return -1;
        b->nodes = p;
        b->cap = c;
    }
    int32_t i = (int32_t)b->n++;
    b->nodes[i] = (raw_node){.n = {.frame = frame, .parent = parent}, .first_child = -1,
                             .next_sibling = -1};
    if (parent >= 0) {
        b->nodes[i].next_sibling = b->nodes[parent].first_child;
        b->nodes[parent].first_child = i;
    }
    return i;
}

/* The child of parent for frame, created when missing. */
static int32_t child(builder *b, int32_t parent, int32_t frame)
{
    if (2 * b->n >= b->nslots && grow_slots(b) < 0)
        return -1;
    size_t k = slot_of(b, parent, frame);
    for (; b->slots[k]; k = (k + 1) & (b->nslots - 1)) {
        const flame_node *n = &b->nodes[b->slots[k] - 1].n;
        if (n->parent == parent && n->frame == frame)
            return b->slots[k] - 1;
    }
    int32_t i = add_node(b, parent, frame);
    if (i >= 0)
        b->slots[k] = i + 1;
    return i;
}

static void add_sums(flame_node *n, int64_t size, int64_t old_size, int64_t weight,
                     const stack_acc *acc)
{
    n->size += size;
    n->old_size += old_size;
    n->weight += weight;
    if (acc) {
        n->count += acc->count;
        n->var += acc->var;
    }
}

static const stack_acc *listed(const acc_view *v, const uint8_t *pass, size_t st)
{
    if (!v || !pass || st >= v->nacc || !v->acc[st].traces || !pass[st])
        return NULL;
    return &v->acc[st];
}

static int is_native(intern *in, const snapshot *snap, const snapshot *old_snap, int32_t frame)
{
    int32_t file = intern_frame_file(in, frame);
    return snapshot_native_file(snap, in, file) ||
           (old_snap && snapshot_native_file(old_snap, in, file));
}

/* Walk one stack from its root into the raw tree. */
static int add_stack(builder *b, intern *in, const snapshot *snap, const snapshot *old_snap,
                     const flame_opts *o, int32_t stack, const stack_acc *now,
                     const stack_acc *before)
{
    int64_t size = now ? now->size : 0, old_size = before ? before->size : 0;
    int64_t weight = old_snap && old_size > size ? old_size : size;
    size_t nf;
    const int32_t *frames = intern_stack_frames(in, stack, &nf);
    int32_t at = 0, kept = 0;
    add_sums(&b->nodes[0].n, size, old_size, weight, now);
    for (size_t k = nf; k-- > 0;) {
        if (o->python_only && is_native(in, snap, old_snap, frames[k]))
            continue;
        if ((at = child(b, at, frames[k])) < 0)
            return -1;
        add_sums(&b->nodes[at].n, size, old_size, weight, now);
        kept++;
    }
    if (kept == 0) {
        /* tracemalloc's frame of a block without (Python) frames. */
        int32_t file = intern_file(in, "<unknown>", 9);
        int32_t frame = file < 0 ? -1 : intern_frame(in, file, 0);
        if (frame < 0 || (at = child(b, 0, frame)) < 0)
            return -1;
        add_sums(&b->nodes[at].n, size, old_size, weight, now);
    }
    return 0;
}

static const raw_node *sort_nodes;

/* Heaviest first; equal weights by frame id, for a stable page. */
static int cmp_weight(const void *pa, const void *pb)
{
    const flame_node *a = &sort_nodes[*(const int32_t *)pa].n;
    const flame_node *b = &sort_nodes[*(const int32_t *)pb].n;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return (a->frame > b->frame) - (a->frame < b->frame);
}

typedef struct work {
    int32_t raw;       /* raw node to write, or -1 for the others node below */
    int32_t out_parent;
    flame_node others;
} work;

static int push(work **w, size_t *n, size_t *cap, work item)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        work *p = realloc(*w, c * sizeof *p);
        if (!p)
            return -1;
        *w = p;
        *cap = c;
    }
    (*w)[(*n)++] = item;
    return 0;
}

/* Write the raw tree in preorder into t, merging the children lighter
 * than t->min_weight into one others node per parent. */
static int write_tree(flame_tree *t, builder *b)
{
    work *stack = NULL;
    size_t nstack = 0, capstack = 0;
    int32_t *kids = NULL;
    size_t capkids = 0;
    int rc = -1;
    t->nodes = malloc(b->n * sizeof *t->nodes);
    if (!t->nodes || push(&stack, &nstack, &capstack, (work){.raw = 0, .out_parent = -1}) < 0)
        goto out;
    sort_nodes = b->nodes;
    while (nstack) {
        work w = stack[--nstack];
        int32_t me = (int32_t)t->n;
        if (w.raw < 0) {
            w.others.parent = w.out_parent;
            t->nodes[t->n++] = w.others;
            continue;
        }
        t->nodes[t->n] = b->nodes[w.raw].n;
        t->nodes[t->n++].parent = w.out_parent;
        size_t nk = 0;
        for (int32_t c = b->nodes[w.raw].first_child; c >= 0; c = b->nodes[c].next_sibling) {
            if (nk == capkids) {
                size_t cap = capkids ? 2 * capkids : 64;
                int32_t *p = realloc(kids, cap * sizeof *p);
                if (!p)
                    goto out;
                kids = p;
                capkids = cap;
            }
            kids[nk++] = c;
        }
        if (nk > 1)
            qsort(kids, nk, sizeof *kids, cmp_weight);
        size_t big = 0;
        while (big < nk && b->nodes[kids[big]].n.weight >= t->min_weight)
            big++;
        /* The others node is pushed first: it is written after the
         * subtrees of the kept children. */
        work others = {.raw = -1, .out_parent = me, .others = {.frame = FLAME_OTHERS}};
        for (size_t k = big; k < nk; k++) {
            const raw_node *r = &b->nodes[kids[k]];
            stack_acc acc = {.count = r->n.count, .var = r->n.var};
            add_sums(&others.others, r->n.size, r->n.old_size, r->n.weight, &acc);
            others.others.merged++;
            t->merged_nodes += 1 + (size_t)r->descendants;
        }
        if (others.others.weight > 0 && push(&stack, &nstack, &capstack, others) < 0)
            goto out;
        for (size_t k = big; k-- > 0;)
            if (push(&stack, &nstack, &capstack, (work){.raw = kids[k], .out_parent = me}) < 0)
                goto out;
    }
    rc = 0;
out:
    free(stack);
    free(kids);
    return rc;
}

int flame_build(flame_tree *t, intern *in, const snapshot *snap, const snapshot *old_snap,
                const flame_opts *o)
{
    builder b = {0};
    uint8_t *pass_new = NULL, *pass_old = NULL;
    acc_view vnew = {0}, vold = {0};
    int rc = -1;
    *t = (flame_tree){0};
    if (aggregate_stack_filter(snap, in, o->agg, &pass_new) < 0 ||
        (old_snap && aggregate_stack_filter(old_snap, in, o->agg, &pass_old) < 0) ||
        aggregate_view(snap, o->agg, &vnew) < 0 ||
        (old_snap && aggregate_view(old_snap, o->agg, &vold) < 0) ||
        add_node(&b, -1, FLAME_ROOT) < 0)
        goto out;
    /* Stacks interned while walking (none: only frames are) would not
     * have a pass entry: the count is taken first. */
    size_t nst = intern_nstacks(in);
    for (size_t st = 0; st < nst; st++) {
        const stack_acc *now = listed(&vnew, pass_new, st);
        const stack_acc *before = old_snap ? listed(&vold, pass_old, st) : NULL;
        if ((now || before) &&
            add_stack(&b, in, snap, old_snap, o, (int32_t)st, now, before) < 0)
            goto out;
    }
    for (size_t i = b.n; i-- > 1;)
        b.nodes[b.nodes[i].n.parent].descendants += 1 + b.nodes[i].descendants;
    double min = (double)b.nodes[0].n.weight * o->min_fraction;
    t->min_weight = (int64_t)min + ((double)(int64_t)min < min);
    rc = write_tree(t, &b);
out:
    free(b.nodes);
    free(b.slots);
    free(pass_new);
    free(pass_old);
    aggregate_view_free(&vnew);
    aggregate_view_free(&vold);
    return rc;
}

void flame_tree_free(flame_tree *t)
{
    free(t->nodes);
    *t = (flame_tree){0};
}
