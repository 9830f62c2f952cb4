/*
 * Native stacks, unwound with libunwind (MPROFILE_STACKS=mixed). libunwind is loaded with
 * dlopen, RTLD_LOCAL, only when mixed stacks are asked for: a process that does not ask never
 * maps it, and its exported backtrace() never interposes on the C library's.
 *
 * unw_backtrace() is libunwind's fast path: it caches, per thread, how each return address
 * finds its caller's frame, and measured about 7 ns a frame here, where a cursor walk with
 * unw_step() and unw_get_reg() took 2 us a frame (it blocks and restores signals around every
 * lookup). It returns return addresses only, no stack pointers; mixed.c places the
 * interpreter's frames without them (see there).
 */
#ifndef MP_UNWIND_H
#define MP_UNWIND_H

#include <stddef.h>
#include <stdint.h>

/* Loads libunwind, and follows through the GOT (relocs.h) dlclose calls, after which
 * libunwind forgets what it cached about the code of unloaded objects, whose addresses another
 * object may reuse, and libunwind's own pipe calls (unwind.c). Returns 0, or -1 with the
 * reason in why. Constructor or API. */
int mp_unwind_load(char *why, size_t why_size);

/* Registers the fork handlers that keep a child from inheriting the loader's list lock held
 * (unwind.c). After every other fork handler of the profiler's that takes a lock, so that its
 * prepare handler runs before they do: a thread inside dl_iterate_phdr may be waiting for one
 * of those locks (its callback allocates or maps). Constructor or API. */
void mp_unwind_follow_forks(void);

/* Whether mp_unwind_load succeeded. Any context. */
int mp_unwind_loaded(void);

/* Return addresses unwound per sample at most: the native frames kept (MPROFILE_NATIVE_FRAMES)
 * plus those the interpreter's frames replace. They live on the allocating thread's stack. */
#define MP_UNWIND_MAX 192

/* A function whose frames, at the top of a stack, are the allocator's and not the program's
 * (PyObject_Malloc and its kin, which call the hooks): not recorded, as malloc's own frame is
 * not. Constructor or API, before sampling starts; at most 16. */
void mp_unwind_skip_function(const void *fn);

/* Slow path: brackets everything that may call dl_iterate_phdr (mp_unwind_capture, the object
 * list's poll). mp_unwind_enter returns -1, and the sample keeps its Python frames only, while
 * a fork is being prepared (unwind.c). */
int mp_unwind_enter(void);
void mp_unwind_leave(void);

/*
 * Slow path (the thread's busy flag raised, no lock of the profiler's held: libunwind may take
 * the loader's lock): the return addresses of the calling thread, newest first, into pcs[0..max),
 * from the first frame that is neither the profiler's nor a skipped function's: that is, the
 * caller of the allocation function. Returns how many.
 */
int mp_unwind_capture(uintptr_t *pcs, int max);



/*
 * Slow path: where the caller's callers' frames are, [*lo, *hi): from the calling frame up to
 * the top of the thread's stack (unwind.c). Returns 0, or -1 when it is unknown.
 */
int mp_unwind_thread_stack(uintptr_t *lo, uintptr_t *hi);

#endif
