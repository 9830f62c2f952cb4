/* Merging native and Python stacks (lib/mixed.c): placing each evaluation call from its anchor,
 * and the order of the merged stack. The "stack" is an array laid out as a real one is: lower
 * addresses are newer frames, and each frame's return address is the last word it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mixed.h"

/* The instruction addresses of six frames, newest first, as unw_backtrace gives them: 0 leaf,
 * 1 eval (newer call), 2 dispatch, 3 eval (older call), 4 main, 5 start. For i > 0, pcs[i] is
 * the return address frame i - 1 saved when frame i called it. */
static const uintptr_t pcs[] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666};

/*
 * The words of a stack whose frame 1 (eval) holds an anchor at word 3 and saved its return
 * address into frame 2 (pcs[2]) at word 6, and whose frame 3 (eval) holds an anchor at word 10
 * and saved pcs[4] at word 13. Word 1, below the first anchor, is the leaf's saved return
 * address into the loop (pcs[1]): the search starts at the anchor and never sees it.
 */
static uintptr_t stack_words[20 + MP_MIXED_SCAN_BYTES / sizeof(uintptr_t)];

#define LO ((uintptr_t)&stack_words[0])
#define HI ((uintptr_t)&stack_words[sizeof(stack_words) / sizeof(stack_words[0])])

static void
lay_out(void)
{
    for (size_t i = 0; i < sizeof(stack_words) / sizeof(stack_words[0]); i++) {
        stack_words[i] = 0x7000 + (uintptr_t)i;
    }
    stack_words[1] = pcs[1];
    stack_words[6] = pcs[2];
    stack_words[13] = pcs[4];
}

static void
test_mixed__places_each_call_from_its_anchor(void **state)
{
    (void)state;
    lay_out();
    uintptr_t anchors[] = {(uintptr_t)&stack_words[3], (uintptr_t)&stack_words[10]};
    int eval[2];
    mp_mixed_place(pcs, 6, anchors, 2, LO, HI, eval);
    assert_int_equal(eval[0], 1);
    assert_int_equal(eval[1], 3);
}

static void
test_mixed__unknown_or_cut_groups_are_unplaced(void **state)
{
    (void)state;
    lay_out();
    /* No anchor for the newer call; the older one is still found. */
    uintptr_t anchors[] = {0, (uintptr_t)&stack_words[10]};
    int eval[2];
    mp_mixed_place(pcs, 6, anchors, 2, LO, HI, eval);
    assert_int_equal(eval[0], -1);
    assert_int_equal(eval[1], 3);
    /* The unwinder stopped after three frames: the older call's return address is not among
     * them. */
    anchors[0] = (uintptr_t)&stack_words[3];
    mp_mixed_place(pcs, 3, anchors, 2, LO, HI, eval);
    assert_int_equal(eval[0], 1);
    assert_int_equal(eval[1], -1);
    /* The stack's end bounds the search. */
    mp_mixed_place(pcs, 6, anchors, 2, LO, (uintptr_t)&stack_words[12], eval);
    assert_int_equal(eval[1], -1);
    /* An anchor off the stack is never read from. */
    mp_mixed_place(pcs, 6, anchors, 2, (uintptr_t)&stack_words[4], HI, eval);
    assert_int_equal(eval[0], -1);
    assert_int_equal(eval[1], 3);
    mp_mixed_place(pcs, 6, anchors, 2, LO, (uintptr_t)&stack_words[3], eval);
    assert_int_equal(eval[0], -1);
    assert_int_equal(eval[1], -1);
}

static void
test_mixed__order_replaces_loops_with_groups(void **state)
{
    (void)state;
    int eval[] = {1, 3};
    mp_mixed_item_t out[16];
    int n = mp_mixed_order(6, eval, 2, 64, 0, out, 16);
    /* leaf, group 0, dispatch, group 1, main, start */
    int expect_native[] = {0, -1, 2, -1, 4, 5};
    int expect_group[] = {-1, 0, -1, 1, -1, -1};
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].native, expect_native[i]);
        assert_int_equal(out[i].group, expect_group[i]);
    }
}

static void
test_mixed__order_caps_native_frames_only(void **state)
{
    (void)state;
    int eval[] = {1, 3};
    mp_mixed_item_t out[16];
    int n = mp_mixed_order(6, eval, 2, 1, 0, out, 16);
    /* leaf, group 0, group 1: the cap never drops a group. */
    assert_int_equal(n, 3);
    assert_int_equal(out[0].native, 0);
    assert_int_equal(out[1].group, 0);
    assert_int_equal(out[2].group, 1);
}

static void
test_mixed__order_truncated_ends_with_the_last_call(void **state)
{
    (void)state;
    int eval[] = {1, 3};
    mp_mixed_item_t out[16];
    int n = mp_mixed_order(6, eval, 2, 64, 1, out, 16);
    assert_int_equal(n, 4); /* leaf, group 0, dispatch, group 1: nothing older */
    assert_int_equal(out[3].group, 1);
}

static void
test_mixed__order_keeps_unplaced_groups_in_order(void **state)
{
    (void)state;
    /* Group 1 unplaced: it comes with group 2, where group 2's loop was. */
    int eval[] = {1, -1, 4};
    mp_mixed_item_t out[16];
    int n = mp_mixed_order(6, eval, 3, 64, 0, out, 16);
    int expect_native[] = {0, -1, 2, 3, -1, -1, 5};
    int expect_group[] = {-1, 0, -1, -1, 1, 2, -1};
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].native, expect_native[i]);
        assert_int_equal(out[i].group, expect_group[i]);
    }
    /* No group placed at all (the unwinder failed): every group after the native frames. */
    int none[] = {-1, -1};
    n = mp_mixed_order(2, none, 2, 64, 0, out, 16);
    assert_int_equal(n, 4);
    assert_int_equal(out[2].group, 0);
    assert_int_equal(out[3].group, 1);
    /* No native frame: the groups alone. */
    n = mp_mixed_order(0, none, 2, 64, 0, out, 16);
    assert_int_equal(n, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed__places_each_call_from_its_anchor),
        cmocka_unit_test(test_mixed__unknown_or_cut_groups_are_unplaced),
        cmocka_unit_test(test_mixed__order_replaces_loops_with_groups),
        cmocka_unit_test(test_mixed__order_caps_native_frames_only),
        cmocka_unit_test(test_mixed__order_truncated_ends_with_the_last_call),
        cmocka_unit_test(test_mixed__order_keeps_unplaced_groups_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
