/*
 * relocs.c: rewriting other objects' GOT slots. The module is built into a library of its own
 * (libmp_relocs_hooks.so), so that this executable is one of the "other objects": it is linked
 * with full RELRO (-z relro -z now), so its slots are read-only and rewritten through mprotect.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "relocs.h"

#define FAKE_PPID 123457

static pid_t (*original_getppid)(void);

static pid_t
fake_getppid(void)
{
    return FAKE_PPID;
}

static void
install(void)
{
    static int done;
    if (!done) {
        mp_reloc_hook_t hooks[] = {
            {"getppid", (void *)fake_getppid, (void **)&original_getppid, NULL, NULL},
        };
        assert_int_equal(mp_relocs_install(hooks, 1), 0);
        done = 1;
    }
}

static void
test_loaded_objects_are_patched(void **state)
{
    (void)state;
    install();
    /* This executable's call goes through its (read-only) GOT slot. */
    assert_int_equal(getppid(), FAKE_PPID);
    /* The original is the C library's function, not a canonical PLT entry leading back here. */
    assert_non_null(original_getppid);
    assert_int_equal(original_getppid(), (pid_t)syscall(SYS_getppid));
    assert_true(mp_relocs_patched() >= 1);
}

static void
test_objects_loaded_later_are_patched(void **state)
{
    (void)state;
    install();
    void *target = dlopen(MP_RELOCS_TARGET, RTLD_NOW);
    assert_non_null(target);
    pid_t (*target_getppid)(void) = (pid_t(*)(void))dlsym(target, "target_getppid");
    assert_non_null(target_getppid);
    assert_int_equal(target_getppid(), FAKE_PPID);
}

static void
test_dlopen_keeps_the_callers_search_path(void **state)
{
    (void)state;
    install();
    void *target = dlopen(MP_RELOCS_TARGET, RTLD_NOW);
    assert_non_null(target);
    void *(*open_dep)(void) = (void *(*)(void))dlsym(target, "target_open_dep");
    void *dep = open_dep(); /* a bare name, found through the target's RUNPATH only */
    assert_non_null(dep);
    int (*answer)(void) = (int (*)(void))dlsym(dep, "relocs_dep_answer");
    assert_non_null(answer);
    assert_int_equal(answer(), 42);
    /* A name that exists nowhere still fails, with the loader's message. */
    assert_null(dlopen("libmp-relocs-no-such-library.so", RTLD_NOW));
    assert_non_null(dlerror());
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_objects_are_patched),
        cmocka_unit_test(test_objects_loaded_later_are_patched),
        cmocka_unit_test(test_dlopen_keeps_the_callers_search_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
