/* The tree is built without materialising it: the listed stacks, each as
 * its frames root first (native frames dropped for the Python-only tree),
 * are sorted, so the stacks below any node form one run of the sorted list
 * and its children are the runs of equal frames at the next depth.  Only
 * the runs that are drawn are split further; the nodes under an "others"
 * node are only counted.  Memory is the frames of the stacks and one item
 * per stack, whatever the number of distinct prefixes, and nothing recurses:
 * a hostile snapshot may have stacks of any depth. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>

/* A listed stack: its frames at frames[off .. off + len), root first. */
typedef struct item {
    size_t off;
    size_t len;
    int64_t size, old_size, weight;
    double count, var;
} item;

typedef struct builder {
    int32_t *frames;
    size_t nframes, capframes;
    item *items;
    size_t n, cap;
} builder;

static int push_frame(builder *b, int32_t frame)
{
    if (b->nframes == b->capframes) {
        size_t c = b->capframes ? 2 * b->capframes : 1024;
        int32_t *p = realloc(b->frames, c * sizeof *p);
        if (!p)
            return -1;
        b->frames = p;
        b->capframes = c;
    }
    b->frames[b->nframes++] = frame;
    return 0;
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

/* Append one stack, root first, as an item. */
static int add_stack(builder *b, intern *in, const snapshot *snap, const snapshot *old_snap,
                     const flame_opts *o, int32_t stack, const stack_acc *now,
                     const stack_acc *before)
{
    if (b->n == b->cap) {
        size_t c = b->cap ? 2 * b->cap : 256;
        item *p = realloc(b->items, c * sizeof *p);
        if (!p)
            return -1;
        b->items = p;
        b->cap = c;
    }
    item *it = &b->items[b->n];
    *it = (item){.off = b->nframes, .size = now ? now->size : 0,
                 .old_size = before ? before->size : 0};
    it->weight = old_snap && it->old_size > it->size ? it->old_size : it->size;
    if (now) {
        it->count = now->count;
        it->var = now->var;
    }
    size_t nf;
    const int32_t *frames = intern_stack_frames(in, stack, &nf);
    for (size_t k = nf; k-- > 0;) {
        if (o->python_only && is_native(in, snap, old_snap, frames[k]))
            continue;
        if (push_frame(b, frames[k]) < 0)
            return -1;
    }
    if (b->nframes == it->off) {
        /* tracemalloc's frame of a block without (Python) frames. */
        int32_t file = intern_file(in, "<unknown>", 9);
        int32_t frame = file < 0 ? -1 : intern_frame(in, file, 0);
        if (frame < 0 || push_frame(b, frame) < 0)
            return -1;
    }
    it->len = b->nframes - it->off;
    b->n++;
    return 0;
}

static const int32_t *sort_frames;

/* Root first, frame by frame; a stack before the longer ones it is a
 * prefix of. */
static int cmp_items(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t k = 0; k < n; k++) {
        int32_t fa = sort_frames[a->off + k], fb = sort_frames[b->off + k];
        if (fa != fb)
            return fa < fb ? -1 : 1;
    }
    return (a->len > b->len) - (a->len < b->len);
}

static void add_sums(flame_node *n, const item *it)
{
    n->size += it->size;
    n->old_size += it->old_size;
    n->weight += it->weight;
    n->count += it->count;
    n->var += it->var;
}

/* A run of sorted items below depth: the node of their common prefix of
 * length depth + 1. */
typedef struct run {
    size_t lo, hi;
    flame_node node;
} run;

static const run *sort_runs;

/* Heaviest first; equal weights by frame id, for a stable page. */
static int cmp_runs(const void *pa, const void *pb)
{
    const flame_node *a = &((const run *)pa)->node, *b = &((const run *)pb)->node;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return (a->frame > b->frame) - (a->frame < b->frame);
}

/* The distinct prefixes longer than depth among the sorted items
 * [lo, hi): the nodes an others node hides. */
static size_t distinct_nodes(const builder *b, size_t lo, size_t hi, size_t depth)
{
    size_t n = 0;
    for (size_t i = lo; i < hi; i++) {
        const item *it = &b->items[i];
        size_t common = depth;
        if (i > lo) {
            const item *prev = &b->items[i - 1];
            size_t max = prev->len < it->len ? prev->len : it->len;
            while (common < max && b->frames[prev->off + common] == b->frames[it->off + common])
                common++;
        }
        n += it->len > common ? it->len - common : 0;
    }
    return n;
}

typedef struct work {
    run r;
    size_t depth;      /* the node's prefix length (0 for the root) */
    int32_t out_parent;
    int others;        /* r.node is an others node: written as it is */
} work;

static int push_work(work **w, size_t *n, size_t *cap, work entry)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        work *p = realloc(*w, c * sizeof *p);
        if (!p)
            return -1;
        *w = p;
        *cap = c;
    }
    (*w)[(*n)++] = entry;
    return 0;
}

static int append_node(flame_tree *t, size_t *cap, flame_node n)
{
    if (t->n == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        flame_node *p = realloc(t->nodes, c * sizeof *p);
        if (!p)
            return -1;
        t->nodes = p;
        *cap = c;
    }
    t->nodes[t->n++] = n;
    return 0;
}

/* Write the tree in preorder from the sorted items, merging the children
 * lighter than t->min_weight into one others node per parent. */
static int write_tree(flame_tree *t, const builder *b, const flame_node *root)
{
    work *stack = NULL;
    size_t nstack = 0, capstack = 0, capnodes = 0;
    run *kids = NULL;
    size_t capkids = 0;
    int rc = -1;
    if (push_work(&stack, &nstack, &capstack,
                  (work){.r = {0, b->n, *root}, .depth = 0, .out_parent = -1}) < 0)
        goto out;
    while (nstack) {
        work w = stack[--nstack];
        int32_t me = (int32_t)t->n;
        w.r.node.parent = w.out_parent;
        if (append_node(t, &capnodes, w.r.node) < 0)
            goto out;
        if (w.others)
            continue;
        size_t i = w.r.lo, nk = 0;
        while (i < w.r.hi && b->items[i].len == w.depth)
            i++; /* stacks that end here: sorted first */
        while (i < w.r.hi) {
            if (nk == capkids) {
                size_t c = capkids ? 2 * capkids : 64;
                run *p = realloc(kids, c * sizeof *p);
                if (!p)
                    goto out;
                kids = p;
                capkids = c;
            }
            int32_t frame = b->frames[b->items[i].off + w.depth];
            run *k = &kids[nk++];
            *k = (run){.lo = i, .node = {.frame = frame}};
            for (; i < w.r.hi && b->frames[b->items[i].off + w.depth] == frame; i++)
                add_sums(&k->node, &b->items[i]);
            k->hi = i;
        }
        sort_runs = kids;
        if (nk > 1)
            qsort(kids, nk, sizeof *kids, cmp_runs);
        size_t big = 0;
        while (big < nk && kids[big].node.weight >= t->min_weight)
            big++;
        /* The others node is pushed first: it is written after the
         * subtrees of the kept children. */
        work others = {.r = {.node = {.frame = FLAME_OTHERS}}, .out_parent = me, .others = 1};
        for (size_t k = big; k < nk; k++) {
            flame_node *o = &others.r.node;
            const flame_node *n = &kids[k].node;
            o->size += n->size;
            o->old_size += n->old_size;
            o->weight += n->weight;
            o->count += n->count;
            o->var += n->var;
            o->merged++;
            t->merged_nodes += distinct_nodes(b, kids[k].lo, kids[k].hi, w.depth);
        }
        if (others.r.node.weight > 0 && push_work(&stack, &nstack, &capstack, others) < 0)
            goto out;
        for (size_t k = big; k-- > 0;)
            if (push_work(&stack, &nstack, &capstack,
                          (work){.r = kids[k], .depth = w.depth + 1, .out_parent = me}) < 0)
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
        (old_snap && aggregate_view(old_snap, o->agg, &vold) < 0))
        goto out;
    /* The pass arrays cover the stacks interned so far; walking interns
     * frames only, never stacks. */
    size_t nst = intern_nstacks(in);
    flame_node root = {.frame = FLAME_ROOT};
    for (size_t st = 0; st < nst; st++) {
        const stack_acc *now = listed(&vnew, pass_new, st);
        const stack_acc *before = old_snap ? listed(&vold, pass_old, st) : NULL;
        if (!now && !before)
            continue;
        if (add_stack(&b, in, snap, old_snap, o, (int32_t)st, now, before) < 0)
            goto out;
        add_sums(&root, &b.items[b.n - 1]);
    }
    sort_frames = b.frames;
    if (b.n > 1)
        qsort(b.items, b.n, sizeof *b.items, cmp_items);
    double min = (double)root.weight * o->min_fraction;
    t->min_weight = (int64_t)min + ((double)(int64_t)min < min);
    rc = write_tree(t, &b, &root);
out:
    free(b.frames);
    free(b.items);
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
