#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "pyrun.h"
#include "snapshot.h"

static uint32_t
frame(mp_stacks_t *s, const char *file, uint32_t line)
{
    int64_t id = mp_stacks_frame(s, file, strlen(file), line);
    assert_true(id >= 0);
    return (uint32_t)id;
}

/* Loads the snapshot with tracemalloc and prints what a user would look at. */
static const char *CHECK =
    "import tracemalloc,sys; s=tracemalloc.Snapshot.load(sys.argv[1]); "
    "print(s.sample_rate, s.traceback_limit, s.pid, s.live_bytes, s.dropped_samples, s.python_version); "
    "print([str(x) for x in s.statistics('lineno')]); "
    "print([str(x) for x in s.statistics('traceback')[0].traceback.format()]); "
    "print(len(s.filter_traces([tracemalloc.Filter(True, 'leaf.py')]).traces))";

static void
test_snapshot__tracemalloc_loads_it(void **state)
{
    mp_stacks_t stacks;
    assert_int_equal(mp_stacks_init(&stacks), 0);
    uint32_t a[2] = {frame(&stacks, "leaf.py", 7), frame(&stacks, "main.py", 1)};
    uint32_t b[1] = {frame(&stacks, "main.py", 2)};
    uint32_t na = (uint32_t)mp_stacks_intern(&stacks, a, 2);
    uint32_t nb = (uint32_t)mp_stacks_intern(&stacks, b, 1);
    mp_block_t blocks[3] = {
        {.ptr = 1, .weight = 1000, .node = na, .total_nframe = 2},
        {.ptr = 2, .weight = 3000, .node = na, .total_nframe = 2},
        {.ptr = 3, .weight = 500, .node = nb, .total_nframe = 1},
    };
    mp_snapshot_meta_t meta = {.sample_rate = 131072, .traceback_limit = 128, .pid = 77,
                               .python_version = "3.11.2", .live_bytes = 4500,
                               .dropped_samples = 2};
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    assert_int_equal(mp_snapshot_write(&p, &stacks, mp_stacks_extent(&stacks), blocks, 3, &meta), 0);
    void *buf;
    size_t len;
    assert_int_equal(mp_pickle_finish(&p, &buf, &len), 0);
    const char *path = pyrun_write_temp(buf, len);
    free(buf);
    const char *out = pyrun(CHECK, path);
    unlink(path);
    assert_string_equal(out,
                        "131072 128 77 4500 2 3.11.2\n"
                        "['leaf.py:7: size=4000 B, count=2, average=2000 B', "
                        "'main.py:2: size=500 B, count=1, average=500 B']\n"
                        "['  File \"main.py\", line 1', '  File \"leaf.py\", line 7']\n"
                        "2\n");
    mp_stacks_destroy(&stacks);
}

static void
test_snapshot__empty_snapshot_loads(void **state)
{
    mp_stacks_t stacks;
    assert_int_equal(mp_stacks_init(&stacks), 0);
    mp_snapshot_meta_t meta = {.sample_rate = 1, .traceback_limit = 1};
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    assert_int_equal(mp_snapshot_write(&p, &stacks, mp_stacks_extent(&stacks), NULL, 0, &meta), 0);
    void *buf;
    size_t len;
    assert_int_equal(mp_pickle_finish(&p, &buf, &len), 0);
    const char *path = pyrun_write_temp(buf, len);
    free(buf);
    assert_string_equal(pyrun("import tracemalloc,sys; s=tracemalloc.Snapshot.load(sys.argv[1]); "
                              "print(len(s.traces), s.statistics('filename'))",
                              path),
                        "0 []\n");
    unlink(path);
    mp_stacks_destroy(&stacks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot__tracemalloc_loads_it),
        cmocka_unit_test(test_snapshot__empty_snapshot_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
