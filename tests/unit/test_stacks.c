#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "stacks.h"

static int
setup(void **state)
{
    static mp_stacks_t s;
    assert_int_equal(mp_stacks_init(&s), 0);
    *state = &s;
    return 0;
}

static int
teardown(void **state)
{
    mp_stacks_destroy(*state);
    return 0;
}

static uint32_t
frame(mp_stacks_t *s, const char *file, uint32_t line)
{
    int64_t id = mp_stacks_frame(s, file, strlen(file), line);
    assert_true(id >= 0);
    return (uint32_t)id;
}

static void
test_stacks__frames_are_interned(void **state)
{
    mp_stacks_t *s = *state;
    uint32_t a = frame(s, "a.py", 1);
    assert_int_equal(frame(s, "a.py", 1), a);
    assert_int_not_equal(frame(s, "a.py", 2), a);
    assert_int_not_equal(frame(s, "b.py", 1), a);
    const mp_frame_t *f = mp_stacks_frame_at(s, a);
    assert_string_equal(mp_strtab_get(&s->strings, f->filename)->data, "a.py");
    assert_int_equal(f->lineno, 1);
}

static void
test_stacks__unwinding_gives_newest_first(void **state)
{
    mp_stacks_t *s = *state;
    uint32_t frames[3] = {frame(s, "leaf.py", 30), frame(s, "mid.py", 20), frame(s, "main.py", 10)};
    int64_t node = mp_stacks_intern(s, frames, 3);
    assert_true(node > 0);
    assert_int_equal(mp_stacks_node(s, (uint32_t)node)->depth, 3);
    uint32_t at = (uint32_t)node;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mp_stacks_node(s, at)->frame, frames[i]);
        at = mp_stacks_node(s, at)->parent;
    }
    assert_int_equal(at, MP_STACKS_ROOT);
    assert_int_equal(mp_stacks_intern(s, frames, 3), node);
}

static void
test_stacks__common_callers_share_nodes(void **state)
{
    mp_stacks_t *s = *state;
    uint32_t main_f = frame(s, "main.py", 1), mid = frame(s, "mid.py", 2);
    uint32_t one[3] = {frame(s, "x.py", 3), mid, main_f};
    uint32_t two[3] = {frame(s, "y.py", 4), mid, main_f};
    int64_t a = mp_stacks_intern(s, one, 3), b = mp_stacks_intern(s, two, 3);
    assert_int_not_equal(a, b);
    assert_int_equal(mp_stacks_node(s, (uint32_t)a)->parent, mp_stacks_node(s, (uint32_t)b)->parent);
    /* root + main + mid + x + y */
    assert_int_equal(mp_stacks_extent(s).nodes, 5);
}

static void
test_stacks__empty_stack_is_the_root(void **state)
{
    mp_stacks_t *s = *state;
    assert_int_equal(mp_stacks_intern(s, NULL, 0), MP_STACKS_ROOT);
}

static void
test_stacks__deep_stacks(void **state)
{
    mp_stacks_t *s = *state;
    static uint32_t frames[5000];
    for (uint32_t i = 0; i < 5000; i++) {
        frames[i] = frame(s, "rec.py", i % 7);
    }
    int64_t node = mp_stacks_intern(s, frames, 5000);
    assert_true(node > 0);
    assert_int_equal(mp_stacks_node(s, (uint32_t)node)->depth, 5000);
}

static const char *
name_of(mp_stacks_t *s, uint32_t f)
{
    int64_t id = mp_stacks_frame_name(s, f);
    return id < 0 ? NULL : mp_strtab_get(&s->strings, (uint32_t)id)->data;
}

static void
test_stacks__frames_keep_the_first_name_in_byte_order(void **state)
{
    mp_stacks_t *s = *state;
    uint32_t f = frame(s, "app.py", 7);
    assert_null(name_of(s, f));
    assert_int_equal(mp_stacks_name_frame(s, f, "outer.<locals>.<lambda>", 23), 0);
    assert_string_equal(name_of(s, f), "outer.<locals>.<lambda>");
    /* A prefix comes first, whichever order the code objects ran in. */
    assert_int_equal(mp_stacks_name_frame(s, f, "outer", 5), 0);
    assert_string_equal(name_of(s, f), "outer");
    assert_int_equal(mp_stacks_name_frame(s, f, "outer.<locals>.<lambda>", 23), 0);
    assert_int_equal(mp_stacks_name_frame(s, f, "zeta", 4), 0);
    assert_string_equal(name_of(s, f), "outer");
    /* The name is not part of the frame's identity. */
    assert_int_equal(frame(s, "app.py", 7), f);
    assert_null(name_of(s, frame(s, "app.py", 8)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stacks__frames_are_interned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks__unwinding_gives_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks__common_callers_share_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks__empty_stack_is_the_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks__deep_stacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks__frames_keep_the_first_name_in_byte_order, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
