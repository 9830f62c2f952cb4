/*
 * Rewriting the relocation slots through which loaded objects call a function, so that their
 * calls reach the profiler first (PyTraceMalloc_Track, and with MPROFILE_NATIVE=1 malloc and
 * its family). Symbol interposition through LD_PRELOAD cannot do this everywhere: on Debian's
 * python3.11 PyTraceMalloc_Track is defined in the executable, which the loader searches before
 * any preloaded library, and a library loaded with dlopen after start-up (mprofile.start() in a
 * running interpreter) interposes nothing. Every object's GOT slots for the named symbols
 * (R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT, imported or the object's own: glibc calls its own
 * malloc through its GOT) are set to the replacement, the read-only ones (RELRO) through
 * mprotect; objects loaded later are patched by a dlopen of the profiler's, itself installed in
 * the same way, which keeps the caller's search rules (callerdl.h). An object is patched once
 * the loader has finished with it. The profiler's own object, the loader and the sanitizers'
 * runtimes are never patched.
 *
 * What this cannot see, by construction: calls through a pointer obtained with dlsym, calls
 * inside one object that do not go through its GOT (a static allocator, a library built with
 * -Bsymbolic-functions calling itself), objects loaded with dlmopen into another namespace,
 * and raw system calls. See docs/design.md ("Native memory").
 */
#ifndef MP_RELOCS_H
#define MP_RELOCS_H

typedef struct {
    const char *name;   /* the symbol whose slots are rewritten */
    void *replacement;  /* what its slots will hold */
    void **original;    /* receives the definition callers reached before */
    const void *not_in; /* an address in an object whose slots stay as they are, or NULL */
    const void *only_in; /* an address in the one object whose slots change, or NULL: all */
} mp_reloc_hook_t;

/*
 * Adds hooks to the set and patches every loaded object now. The originals are looked up
 * first; a hook whose symbol has no definition is left out (its *original stays NULL). Returns
 * 0, or -1 when the set is full. Constructor or API (one thread at a time), not with a lock of
 * the loader's held.
 */
int mp_relocs_install(const mp_reloc_hook_t *hooks, int n);

/* How many slots have been rewritten so far (for tests and the debug log). Any context. */
unsigned long mp_relocs_patched(void);

#endif
