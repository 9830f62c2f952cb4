/*
 * What a sampled allocation sets off: the hooks report it here and know nothing else.
 */
#ifndef MP_SAMPLED_H
#define MP_SAMPLED_H

#include <stddef.h>
#include <stdint.h>

/* Slow path (the thread's busy flag raised): a sampled block of size bytes at ptr in domain
 * (GIL held unless RAW), sampled at rate. */
void mp_sampled(int domain, void *ptr, size_t size, uint64_t rate);

#endif
