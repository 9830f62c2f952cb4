/* The icicle tree of a flame graph: the stacks of a snapshot merged by
 * common prefix, root (oldest frame) first, each node holding the sums of
 * the stacks that pass through it.  With an old snapshot (--diff) a node
 * holds both snapshots' bytes.
 *
 * Nodes smaller than a fraction of the root are merged, per parent, into
 * one "others" node (FLAME_OTHERS) without children, so that a page drawing
 * the tree stays fast whatever the snapshot. */
#ifndef MPROFILE_REPORT_FLAME_H
#define MPROFILE_REPORT_FLAME_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"

enum { FLAME_ROOT = -1, FLAME_OTHERS = -2 };

typedef struct flame_node {
    int32_t frame;   /* frame id, FLAME_ROOT or FLAME_OTHERS */
    int32_t parent;  /* index of the parent in flame_tree.nodes, -1 for the root */
    int64_t size;    /* bytes of the snapshot (NEW with --diff) */
    int64_t old_size; /* --diff: bytes of OLD */
    /* Width: size; with --diff the sum over the node's stacks of
     * max(old, new), so that shrunk stacks stay visible and children
     * never outgrow their parent. */
    int64_t weight;
    double count;    /* estimated allocations (NEW) */
    double var;      /* variance of size (NEW) */
    int32_t merged;  /* FLAME_OTHERS: how many nodes it stands for */
} flame_node;

typedef struct flame_tree {
    flame_node *nodes; /* preorder: a parent before its children, children by weight descending */
    size_t n;
    size_t merged_nodes;  /* nodes merged into "others" nodes, over the whole tree */
    int64_t min_weight;   /* nodes below this weight were merged */
} flame_tree;

typedef struct flame_opts {
    const agg_opts *agg;   /* filters and domain filters, as for collapsed stacks */
    int python_only;       /* skip the native frames of mixed snapshots */
    double min_fraction;   /* merge nodes below this fraction of the root's weight */
} flame_opts;

/* Build the tree of snap (and old_snap when not NULL).  Returns 0, or -1
 * when out of memory.  flame_tree_free in both cases. */
int flame_build(flame_tree *t, intern *in, const snapshot *snap, const snapshot *old_snap,
                const flame_opts *opts);
void flame_tree_free(flame_tree *t);

#endif
