/*
 * The exit snapshot from Python's atexit, so that it shows what the program held rather than
 * what survived the interpreter's teardown. Once the interpreter is up, a sampled allocation on
 * MEM or OBJ (the GIL is held there) queues a pending call, in which the main thread registers
 * an atexit callback at a point where Python code may run.
 */
#ifndef MP_PYEXIT_H
#define MP_PYEXIT_H

/* Slow path, GIL held: registers the callback the first time it can. */
void mp_pyexit_on_sample(void);

#endif
