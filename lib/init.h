/* Start-up of the profiler (init.c): the ELF constructor, and the late path of the C API. */
#ifndef MP_INIT_H
#define MP_INIT_H

/*
 * For mprofile_start() in a library that was loaded into a running interpreter (dlopen from the
 * mprofile module): sets up the tables and installs the hooks, once. The caller holds the GIL.
 * Returns 0, -ENOTSUP for an interpreter the profiler cannot read, or -ENOMEM.
 */
int mp_init_late_start(void);

#endif
