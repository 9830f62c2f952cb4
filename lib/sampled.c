#include "sampled.h"

#include "profiler.h"
#include "pyexit.h"

void
mp_sampled(int domain, void *ptr, size_t size, uint64_t rate)
{
    mp_profiler_record((unsigned)domain, (uintptr_t)ptr, size, rate);
    /* The GIL is held on MEM and OBJ: a safe moment for the exit-dump set-up. */
    if (domain != MP_DOMAIN_RAW) {
        mp_pyexit_on_sample();
    }
}
