/*
 * Merging a native stack with the Python frames (MPROFILE_STACKS=mixed): each frame of the
 * evaluation loop on the C stack is replaced by the Python frames that loop was running.
 *
 * The walk tells which Python frames ran in which C-level call of the evaluation loop and
 * gives, per call, an anchor: the address of something that call keeps on its own C stack
 * frame (pyapi.h). unw_backtrace gives return addresses only (unwind.h), so the call's native
 * frame is found from its anchor: the first word above the anchor that equals one of the
 * return addresses is the loop's own return address, saved at the top of its frame, and the
 * loop is the frame below that caller. That needs no symbol of the loop (Debian's interpreters
 * carry none for the cold part gcc splits off it), works the same for every version, and a
 * word found elsewhere would have to equal a return address of this very stack.
 */
#ifndef MP_MIXED_H
#define MP_MIXED_H

#include <stdint.h>

/* How far above an anchor the loop's return address may be looked for when no older anchor
 * bounds the search: the loop's frame is a few hundred bytes in every version. */
#define MP_MIXED_SCAN_BYTES 2048

/*
 * eval[g] = the index in pcs[0..npcs) (newest first) of the native frame that ran the call of
 * group g, or -1 when it was not found (no anchor, an anchor outside the calling thread's
 * stack [stack_lo, stack_hi), the stack cut short). Found indexes increase with g. Reads the
 * thread's stack between each anchor and the next one (the last one: up to
 * MP_MIXED_SCAN_BYTES), never outside [stack_lo, stack_hi). Slow path; reads memory only.
 */
void mp_mixed_place(const uintptr_t *pcs, int npcs, const uintptr_t *anchors, int ngroups,
                    uintptr_t stack_lo, uintptr_t stack_hi, int *eval);

/* One frame of a merged stack: native frame pcs[native], or every Python frame of group. */
typedef struct {
    int32_t native; /* -1 for a group */
    int32_t group;  /* -1 for a native frame */
} mp_mixed_item_t;

/*
 * The merged stack, newest first, into out[0..out_cap): native frames and groups in stack
 * order, a native frame that ran a group replaced by it, at most native_cap native frames (the
 * newest; the groups are all kept, unplaced ones where their neighbours put them). With
 * truncated (the walk stored fewer Python frames than there are), the stack ends with the last
 * group's call, as a Python stack cut at the traceback limit does. Returns the item count.
 * Any context (pure).
 */
int mp_mixed_order(int npcs, const int *eval, int ngroups, int native_cap, int truncated,
                   mp_mixed_item_t *out, int out_cap);

#endif
