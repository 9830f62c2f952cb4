/*
 * A C extension that allocates the way native code does: through each function of the C
 * library's heap, through anonymous mmap, and through PyTraceMalloc_Track, with no PyMem call
 * on the allocation itself. Built by the tests for the interpreter under test (nativeext.py).
 * Blocks are handed to Python as integers (their addresses) and freed on request.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

static PyObject *
address(void *p)
{
    if (p == NULL || p == MAP_FAILED) {
        return PyErr_NoMemory();
    }
    return PyLong_FromVoidPtr(p);
}

/* Touches the block, so that the compiler keeps every call and the pages are real. */
static void *
touched(void *p, size_t n)
{
    if (p != NULL && p != MAP_FAILED && n > 0) {
        memset(p, 1, n);
    }
    return p;
}

static PyObject *
ext_malloc(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    return address(touched(malloc((size_t)n), (size_t)n));
}

static PyObject *
ext_calloc(PyObject *self, PyObject *args)
{
    Py_ssize_t n, size;
    if (!PyArg_ParseTuple(args, "nn", &n, &size)) {
        return NULL;
    }
    return address(calloc((size_t)n, (size_t)size));
}

/* malloc(first), then realloc to second: one block of second bytes. */
static PyObject *
ext_realloc(PyObject *self, PyObject *args)
{
    Py_ssize_t first, second;
    if (!PyArg_ParseTuple(args, "nn", &first, &second)) {
        return NULL;
    }
    void *p = touched(malloc((size_t)first), (size_t)first);
    return address(touched(realloc(p, (size_t)second), (size_t)second));
}

static PyObject *
ext_reallocarray(PyObject *self, PyObject *args)
{
    Py_ssize_t n, size;
    if (!PyArg_ParseTuple(args, "nn", &n, &size)) {
        return NULL;
    }
    void *p = reallocarray(NULL, (size_t)n, (size_t)size);
    return address(touched(p, (size_t)(n * size)));
}

static PyObject *
ext_posix_memalign(PyObject *self, PyObject *args)
{
    Py_ssize_t alignment, n;
    if (!PyArg_ParseTuple(args, "nn", &alignment, &n)) {
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, (size_t)alignment, (size_t)n) != 0) {
        p = NULL;
    }
    return address(touched(p, (size_t)n));
}

static PyObject *
ext_aligned_alloc(PyObject *self, PyObject *args)
{
    Py_ssize_t alignment, n;
    if (!PyArg_ParseTuple(args, "nn", &alignment, &n)) {
        return NULL;
    }
    return address(touched(aligned_alloc((size_t)alignment, (size_t)n), (size_t)n));
}

static PyObject *
ext_memalign(PyObject *self, PyObject *args)
{
    Py_ssize_t alignment, n;
    if (!PyArg_ParseTuple(args, "nn", &alignment, &n)) {
        return NULL;
    }
    return address(touched(memalign((size_t)alignment, (size_t)n), (size_t)n));
}

static PyObject *
ext_valloc(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    return address(touched(valloc((size_t)n), (size_t)n));
}

static PyObject *
ext_pvalloc(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    return address(touched(pvalloc((size_t)n), (size_t)n));
}

static PyObject *
ext_free(PyObject *self, PyObject *args)
{
    PyObject *p;
    if (!PyArg_ParseTuple(args, "O", &p)) {
        return NULL;
    }
    free(PyLong_AsVoidPtr(p));
    Py_RETURN_NONE;
}

static PyObject *
ext_mmap(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    void *p = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return address(touched(p, (size_t)n));
}

/* mmap(old_len) then mremap to new_len, allowed to move. */
static PyObject *
ext_mremap(PyObject *self, PyObject *args)
{
    Py_ssize_t old_len, new_len;
    if (!PyArg_ParseTuple(args, "nn", &old_len, &new_len)) {
        return NULL;
    }
    void *p = mmap(NULL, (size_t)old_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        return PyErr_NoMemory();
    }
    return address(mremap(p, (size_t)old_len, (size_t)new_len, MREMAP_MAYMOVE));
}

/* A fixed anonymous mapping of n bytes at address (over whatever is there). */
static PyObject *
ext_mmap_fixed(PyObject *self, PyObject *args)
{
    PyObject *at;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &at, &n)) {
        return NULL;
    }
    void *p = mmap(PyLong_AsVoidPtr(at), (size_t)n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return address(p);
}

static PyObject *
ext_munmap(PyObject *self, PyObject *args)
{
    PyObject *at;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &at, &n)) {
        return NULL;
    }
    if (munmap(PyLong_AsVoidPtr(at), (size_t)n) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* malloc(n) reported as n bytes of domain, as numpy does with its arrays. */
static PyObject *
ext_malloc_tracked(PyObject *self, PyObject *args)
{
    unsigned int domain;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "In", &domain, &n)) {
        return NULL;
    }
    void *p = touched(malloc((size_t)n), (size_t)n);
    if (p == NULL) {
        return PyErr_NoMemory();
    }
    PyTraceMalloc_Track(domain, (uintptr_t)p, (size_t)n);
    return address(p);
}

static PyObject *
ext_track(PyObject *self, PyObject *args)
{
    unsigned int domain;
    PyObject *at;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "IOn", &domain, &at, &n)) {
        return NULL;
    }
    PyTraceMalloc_Track(domain, (uintptr_t)PyLong_AsVoidPtr(at), (size_t)n);
    Py_RETURN_NONE;
}

static PyObject *
ext_untrack(PyObject *self, PyObject *args)
{
    unsigned int domain;
    PyObject *at;
    if (!PyArg_ParseTuple(args, "IO", &domain, &at)) {
        return NULL;
    }
    PyTraceMalloc_Untrack(domain, (uintptr_t)PyLong_AsVoidPtr(at));
    Py_RETURN_NONE;
}

static void *
thread_main(void *arg)
{
    return touched(malloc((size_t)arg), (size_t)arg);
}

/* n bytes malloc'ed by a thread of its own, with no Python state. */
static PyObject *
ext_thread_malloc(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    pthread_t thread;
    void *p = NULL;
    if (pthread_create(&thread, NULL, thread_main, (void *)(size_t)n) != 0) {
        return PyErr_NoMemory();
    }
    pthread_join(thread, &p);
    return address(p);
}

/* rounds of malloc, realloc, free, calloc and partial munmap, without the GIL: what a C
 * library does from a worker thread. */
static PyObject *
ext_churn(PyObject *self, PyObject *args)
{
    Py_ssize_t rounds;
    if (!PyArg_ParseTuple(args, "n", &rounds)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    void *held[64] = {0};
    for (Py_ssize_t i = 0; i < rounds; i++) {
        size_t slot = (size_t)i % 64;
        free(held[slot]);
        held[slot] = touched(malloc(16 + (size_t)(i * 7919) % 5000), 16);
        held[slot] = realloc(held[slot], 32 + (size_t)(i * 104729) % 9000);
        if (i % 16 == 0) {
            free(calloc(100, 10));
        }
        if (i % 64 == 0) {
            size_t page = 4096;
            char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (m != MAP_FAILED) {
                munmap(m + page, page);
                munmap(m, page);
                munmap(m + 2 * page, 2 * page);
            }
        }
    }
    for (size_t slot = 0; slot < 64; slot++) {
        free(held[slot]);
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* errno after a malloc and after a free that the profiler sees (both must leave it alone). */
static PyObject *
ext_errno_kept(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    errno = EILSEQ;
    void *p = touched(malloc((size_t)n), (size_t)n);
    int after_malloc = errno;
    errno = EILSEQ;
    free(p);
    int after_free = errno;
    return Py_BuildValue("ii", after_malloc == EILSEQ, after_free == EILSEQ);
}

/* A SIGALRM handler that maps and unmaps a page, every 200 microseconds, while this thread
 * allocates and frees: the handler lands inside the profiler at times. */
static void
on_alarm(int sig)
{
    (void)sig;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, 4096);
    }
}

static PyObject *
ext_alarm_churn(PyObject *self, PyObject *args)
{
    Py_ssize_t rounds;
    if (!PyArg_ParseTuple(args, "n", &rounds)) {
        return NULL;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval every = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    for (Py_ssize_t i = 0; i < rounds; i++) {
        free(touched(malloc(64 + (size_t)i % 4096), 8));
    }
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    Py_RETURN_NONE;
}

static void
map_a_page(void)
{
    on_alarm(0);
}

/* Fork handlers that map and unmap a page, as a library's own may. */
static PyObject *
ext_mapping_fork_handlers(PyObject *self, PyObject *args)
{
    pthread_atfork(map_a_page, map_a_page, map_a_page);
    Py_RETURN_NONE;
}

/* strdup of an n-byte string: the C library allocates it. */
static PyObject *
ext_strdup(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    char *text = PyMem_RawMalloc((size_t)n + 1);
    if (text == NULL) {
        return PyErr_NoMemory();
    }
    memset(text, 'x', (size_t)n);
    text[n] = '\0';
    char *copy = strdup(text);
    PyMem_RawFree(text);
    return address(copy);
}

static PyMethodDef methods[] = {
    {"alarm_churn", ext_alarm_churn, METH_VARARGS, NULL},
    {"mapping_fork_handlers", ext_mapping_fork_handlers, METH_NOARGS, NULL},
    {"strdup", ext_strdup, METH_VARARGS, NULL},
    {"errno_kept", ext_errno_kept, METH_VARARGS, NULL},
    {"churn", ext_churn, METH_VARARGS, NULL},
    {"malloc", ext_malloc, METH_VARARGS, NULL},
    {"calloc", ext_calloc, METH_VARARGS, NULL},
    {"realloc", ext_realloc, METH_VARARGS, NULL},
    {"reallocarray", ext_reallocarray, METH_VARARGS, NULL},
    {"posix_memalign", ext_posix_memalign, METH_VARARGS, NULL},
    {"aligned_alloc", ext_aligned_alloc, METH_VARARGS, NULL},
    {"memalign", ext_memalign, METH_VARARGS, NULL},
    {"valloc", ext_valloc, METH_VARARGS, NULL},
    {"pvalloc", ext_pvalloc, METH_VARARGS, NULL},
    {"free", ext_free, METH_VARARGS, NULL},
    {"mmap", ext_mmap, METH_VARARGS, NULL},
    {"mremap", ext_mremap, METH_VARARGS, NULL},
    {"mmap_fixed", ext_mmap_fixed, METH_VARARGS, NULL},
    {"munmap", ext_munmap, METH_VARARGS, NULL},
    {"malloc_tracked", ext_malloc_tracked, METH_VARARGS, NULL},
    {"track", ext_track, METH_VARARGS, NULL},
    {"untrack", ext_untrack, METH_VARARGS, NULL},
    {"thread_malloc", ext_thread_malloc, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "native_ext", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_native_ext(void)
{
    return PyModule_Create(&module);
}
