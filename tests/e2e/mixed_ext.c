/*
 * A C extension whose allocations have a native stack of known shape, for mixed stacks
 * (MPROFILE_STACKS=mixed): chain() mallocs through outer -> middle -> leaf_malloc; callback()
 * calls back into Python from cb_outer -> cb_inner; dl_alloc() allocates inside a library it
 * dlopens and dlcloses; thread_chain() allocates on a thread without Python state. Built with
 * -fno-optimize-sibling-calls and noinline functions so that every frame exists.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Blocks stay live until the process ends: the exit snapshot sees them. */
static void *kept[4096];
static int nkept;

__attribute__((noinline)) void *
leaf_malloc(size_t n)
{
    void *p = malloc(n);
    if (p != NULL) {
        memset(p, 1, n);
        if (nkept < 4096) {
            kept[nkept++] = p;
        }
    }
    return p;
}

__attribute__((noinline)) void *
middle(size_t n)
{
    void *p = leaf_malloc(n);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return p;
}

__attribute__((noinline)) void *
outer(size_t n)
{
    void *p = middle(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

static PyObject *
ext_chain(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    return PyLong_FromVoidPtr(outer((size_t)n));
}

__attribute__((noinline)) PyObject *
cb_inner(PyObject *fn)
{
    PyObject *r = PyObject_CallObject(fn, NULL);
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) PyObject *
cb_outer(PyObject *fn)
{
    PyObject *r = cb_inner(fn);
    __asm__ volatile("" ::: "memory");
    return r;
}

static PyObject *
ext_callback(PyObject *self, PyObject *fn)
{
    return cb_outer(fn);
}

/* dlopen(path), lib_alloc(n) from it, dlclose: the block outlives the library's code. */
static PyObject *
ext_dl_alloc(PyObject *self, PyObject *args)
{
    const char *path;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "sn", &path, &n)) {
        return NULL;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        PyErr_SetString(PyExc_OSError, dlerror());
        return NULL;
    }
    void *(*lib_alloc)(size_t) = (void *(*)(size_t))dlsym(lib, "lib_alloc");
    void *p = lib_alloc != NULL ? lib_alloc((size_t)n) : NULL;
    if (dlclose(lib) != 0 || p == NULL) {
        PyErr_SetString(PyExc_OSError, "lib_alloc or dlclose failed");
        return NULL;
    }
    return PyLong_FromVoidPtr(p);
}

__attribute__((noinline)) static void *
thread_main(void *arg)
{
    return outer((size_t)arg);
}

static PyObject *
ext_thread_chain(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) {
        return NULL;
    }
    pthread_t t;
    void *p = NULL;
    if (pthread_create(&t, NULL, thread_main, (void *)(size_t)n) != 0 ||
        pthread_join(t, &p) != 0) {
        PyErr_SetString(PyExc_OSError, "thread");
        return NULL;
    }
    return PyLong_FromVoidPtr(p);
}

static PyMethodDef methods[] = {
    {"chain", ext_chain, METH_VARARGS, NULL},
    {"callback", ext_callback, METH_O, NULL},
    {"dl_alloc", ext_dl_alloc, METH_VARARGS, NULL},
    {"thread_chain", ext_thread_chain, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mixed_ext", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_mixed_ext(void)
{
    return PyModule_Create(&module);
}
