#include "pyexit.h"

#include <stdatomic.h>
#include <string.h>

#include "exit.h"
#include "log.h"
#include "mprofile/mprofile.h"
#include "profiler.h"

/* 0: not yet; 1: pending call queued; 2: atexit callback registered. */
static atomic_int exit_registration;

/* atexit callback (METH_NOARGS): Python runs it before it tears down modules. */
static void *
exit_callback(void *self, void *unused)
{
    (void)self;
    (void)unused;
    mp_exit_snapshot();
    mp_profiler.api.Py_IncRef(mp_profiler.api.Py_None);
    return mp_profiler.api.Py_None;
}

/* PyMethodDef, a stable part of the C API. */
static struct {
    const char *ml_name;
    void *(*ml_meth)(void *, void *);
    int ml_flags;
    const char *ml_doc;
} exit_method = {"_mprofile_exit_dump", exit_callback, 0x0004 /* METH_NOARGS */, NULL};

/* Whether importlib's bootstrap is on the calling thread's stack. */
static int
importing(void)
{
    static const char *markers[] = {"importlib._bootstrap", "importlib/_bootstrap"};
    mp_pyframe_t frames[256];
    int n = 0;
    mp_pyapi_walk(&mp_profiler.api, 256, frames, &n);
    for (int f = 0; f < n; f++) {
        char scratch[256];
        const char *name;
        size_t len;
        mp_pyapi_filename(&mp_profiler.api, frames[f].code, scratch, sizeof(scratch), &name, &len);
        for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
            size_t mlen = strlen(markers[m]);
            for (size_t i = 0; i + mlen <= len; i++) {
                if (memcmp(name + i, markers[m], mlen) == 0) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* The atexit module, imported only when that cannot disturb the program (NULL: try later). */
static void *
atexit_module(void)
{
    const mp_pyapi_t *api = &mp_profiler.api;
    void *modules = api->PyImport_GetModuleDict();
    void *module = modules ? api->PyDict_GetItemString(modules, "atexit") : NULL;
    if (module != NULL) {
        api->Py_IncRef(module); /* borrowed from sys.modules */
        return module;
    }
    /* A pending call can run in the middle of importlib's own bookkeeping (a module lock being
     * taken), and importing from there breaks the program's import. Wait for a later sample. */
    if (importing()) {
        return NULL;
    }
    module = api->PyImport_ImportModule("atexit");
    if (module == NULL) {
        api->PyErr_Clear();
    }
    return module;
}

/* Runs in the main thread with the GIL held, at a point where Python code may run. */
static int
register_exit_callback(void *arg)
{
    (void)arg;
    const mp_pyapi_t *api = &mp_profiler.api;
    void *module = atexit_module();
    if (module == NULL) {
        atomic_store(&exit_registration, 0);
        return 0;
    }
    void *reg = api->PyObject_GetAttrString(module, "register");
    void *fn = reg ? api->PyCFunction_NewEx(&exit_method, NULL, NULL) : NULL;
    void *result = fn ? api->PyObject_CallFunctionObjArgs(reg, fn, NULL) : NULL;
    if (result != NULL) {
        atomic_store(&exit_registration, 2);
        api->Py_DecRef(result);
    } else {
        /* Never let our failure surface as an exception in the program. */
        api->PyErr_Clear();
        mp_log(MP_LOG_DEBUG, "could not register the exit dump; the destructor will write it");
    }
    if (fn) {
        api->Py_DecRef(fn);
    }
    if (reg) {
        api->Py_DecRef(reg);
    }
    api->Py_DecRef(module);
    return 0;
}

void
mp_pyexit_on_sample(void)
{
    if (!mp_profiler.config.at_exit ||
        atomic_load_explicit(&exit_registration, memory_order_relaxed) != 0) {
        return;
    }
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->Py_AddPendingCall == NULL || api->PyImport_ImportModule == NULL ||
        api->PyImport_GetModuleDict == NULL || api->PyDict_GetItemString == NULL ||
        api->PyObject_GetAttrString == NULL || api->PyCFunction_NewEx == NULL ||
        api->PyObject_CallFunctionObjArgs == NULL || api->Py_DecRef == NULL ||
        api->Py_IncRef == NULL || api->PyErr_Clear == NULL || api->Py_None == NULL ||
        !api->Py_IsInitialized()) {
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&exit_registration, &expected, 1) &&
        api->Py_AddPendingCall(register_exit_callback, NULL) != 0) {
        atomic_store(&exit_registration, 0);
    }
}
