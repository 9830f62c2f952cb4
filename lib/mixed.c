#include "mixed.h"

#include <stddef.h>

/* A 512-bit filter of the return addresses: most words of a frame are no code address, and
 * the filter turns them down before the addresses are compared one by one. 64 bytes of stack:
 * this runs on whatever stack the allocating thread has. */
#define FILTER_WORDS 8

static inline unsigned
bit_of(uintptr_t w)
{
    return (unsigned)((w * 0x9e3779b97f4a7c15ULL) >> (64 - 9));
}

/* The search reads the thread's stack word by word, across frames of code built with
 * AddressSanitizer too, whose red zones are the reads' purpose to cross, not a fault. */
__attribute__((no_sanitize("address"))) void
mp_mixed_place(const uintptr_t *pcs, int npcs, const uintptr_t *anchors, int ngroups,
               uintptr_t stack_lo, uintptr_t stack_hi, int *eval)
{
    uint64_t filter[FILTER_WORDS] = {0};
    for (int g = 0; g < ngroups; g++) {
        eval[g] = -1;
    }
    if (npcs == 0) {
        return;
    }
    /* A return address as saved on the stack; libunwind versions that give the call's last
     * byte instead (the address minus one) are matched too. */
    for (int i = 0; i < npcs; i++) {
        for (uintptr_t d = 0; d < 2; d++) {
            unsigned b = bit_of(pcs[i] + d);
            filter[b >> 6] |= (uint64_t)1 << (b & 63);
        }
    }
    int below = -1; /* the frame of the previous group's call: later ones are older */
    for (int g = 0; g < ngroups; g++) {
        uintptr_t from = (anchors[g] + 7) & ~(uintptr_t)7;
        if (anchors[g] < stack_lo || from >= stack_hi) {
            continue; /* none, or not on this thread's stack: never read */
        }
        /* The next anchor is on an older frame, so the loop's own frame ends below it. */
        uintptr_t to = from + MP_MIXED_SCAN_BYTES;
        if (g + 1 < ngroups && anchors[g + 1] > from && anchors[g + 1] < to) {
            to = anchors[g + 1];
        }
        if (stack_hi < to) {
            to = stack_hi;
        }
        for (uintptr_t at = from; at + sizeof(uintptr_t) <= to && eval[g] < 0;
             at += sizeof(uintptr_t)) {
            uintptr_t w = *(const uintptr_t *)at;
            unsigned b = bit_of(w);
            if (!(filter[b >> 6] & ((uint64_t)1 << (b & 63)))) {
                continue;
            }
            /* The loop's caller: the oldest return addresses this stack holds below the
             * anchor are the loop's callees, so take the first match past them. */
            for (int j = below + 2; j < npcs; j++) {
                if (pcs[j] == w || pcs[j] + 1 == w) {
                    eval[g] = j - 1;
                    break;
                }
            }
        }
        if (eval[g] >= 0) {
            below = eval[g];
        }
    }
}

/* Appends an item if there is room. */
static inline void
put(mp_mixed_item_t *out, int out_cap, int *n, int native, int group)
{
    if (*n < out_cap) {
        out[(*n)++] = (mp_mixed_item_t){native, group};
    }
}

int
mp_mixed_order(int npcs, const int *eval, int ngroups, int native_cap, int truncated,
               mp_mixed_item_t *out, int out_cap)
{
    int n = 0, natives = 0, g = 0;
    for (int i = 0; i < npcs; i++) {
        /* A group placed here, and the unplaced ones before it. */
        int h = g;
        while (h < ngroups && eval[h] != i && (eval[h] < 0 || eval[h] < i)) {
            h++;
        }
        if (h < ngroups && eval[h] == i) {
            for (; g <= h; g++) {
                put(out, out_cap, &n, -1, g);
            }
            if (truncated && g == ngroups) {
                return n;
            }
            continue;
        }
        if (natives < native_cap) {
            put(out, out_cap, &n, i, -1);
            natives++;
        }
    }
    for (; g < ngroups; g++) {
        put(out, out_cap, &n, -1, g);
    }
    return n;
}
