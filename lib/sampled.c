#include "sampled.h"

#include "periodic.h"
#include "profiler.h"
#include "pyexit.h"
#include "terminate.h"

void
mp_sampled(int domain, void *ptr, size_t size, uint64_t rate)
{
    mp_profiler_record((unsigned)domain, (uintptr_t)ptr, size, rate);
    /* The GIL is held on MEM and OBJ: a safe moment for the set-up that needs the running
     * interpreter (pending calls). */
    if (domain != MP_DOMAIN_RAW) {
        mp_pyexit_on_sample();
        mp_terminate_on_sample();
        mp_periodic_on_sample();
    }
}
