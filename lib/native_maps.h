/*
 * Anonymous memory mappings in the native heap (MPROFILE_NATIVE=1), for allocators that bypass
 * malloc (mmap, mremap and munmap called through a GOT slot; the C library's own malloc maps
 * its large blocks internally, which is not seen twice).
 *
 * A sampled anonymous mapping is one trace of its length, keyed by its lowest mapped address.
 * Its pieces are kept in a short list, so that every change to the address space keeps the
 * trace exact:
 * - munmap of part of it: the trace shrinks to the pages still mapped (its weight scaled by
 *   the bytes left over the bytes before), and moves to its lowest mapped address; a munmap of
 *   all its pages removes it;
 * - a MAP_FIXED mapping over it: the same, for the pages replaced;
 * - mremap: the old range is unmapped as above and the result is a new mapping of the new
 *   length, sampled on the countdown (a realloc of pages);
 * - file-backed mappings, reservations (PROT_NONE, MAP_NORESERVE) and stacks (MAP_STACK) are
 *   not heap memory and are never sampled (they still cut a sampled range they replace with
 *   MAP_FIXED).
 * The list holds MP_NATIVE_MAPS_MAX pieces; a sampled mapping that finds it full is dropped
 * (counted as a dropped sample).
 */
#ifndef MP_NATIVE_MAPS_H
#define MP_NATIVE_MAPS_H

#define MP_NATIVE_MAPS_MAX 4096

/* Installs mmap, mmap64, mremap and munmap interposers (see native.h), in every object but the
 * one that contains allocator (the malloc the native heap wraps: its chunks are not counted
 * besides its blocks). Returns 0 or -1. */
int mp_native_maps_install(const void *allocator);

#endif
