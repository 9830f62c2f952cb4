/* A library that mixed_ext.dl_alloc loads, calls and unloads before the snapshot is written. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *
lib_alloc(size_t n)
{
    void *p = malloc(n);
    if (p != NULL) {
        memset(p, 2, n);
    }
    return p;
}
