/* Loaded by test_relocs with dlopen after the hooks were installed: its calls must be hooked
 * too, and its own dlopen of a bare name must still use its RUNPATH ($ORIGIN). */
#include <dlfcn.h>
#include <unistd.h>

pid_t
target_getppid(void)
{
    return getppid();
}

void *
target_open_dep(void)
{
    return dlopen("libmp_relocs_dep.so", RTLD_NOW);
}
