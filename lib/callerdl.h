/*
 * dlopen on behalf of another object. The loader resolves a file name without a slash through
 * the *calling* object's DT_RPATH or DT_RUNPATH, and "$ORIGIN" from the caller's directory; the
 * profiler's dlopen wrapper (relocs.c) would otherwise make itself the caller, and a library
 * that relies on its RUNPATH (manylinux wheels, CUDA loaders) would stop finding its
 * dependencies.
 */
#ifndef MP_CALLERDL_H
#define MP_CALLERDL_H

/*
 * Opens file with flags as the object that contains the address caller would. real is the C
 * library's dlopen. Normal context (the program's own dlopen call). What is reproduced and what
 * is not: see callerdl.c.
 */
void *mp_callerdl_open(void *(*real)(const char *file, int flags), const char *file, int flags,
                       const void *caller);

#endif
