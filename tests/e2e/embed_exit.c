/*
 * An application that embeds CPython and leaves main() through pthread_exit(NULL) while a
 * thread of its own still runs Python code. The process ends, with status 0, when that last
 * thread returns: a thread kept alive by the profiler would keep it running forever.
 */
#include <Python.h>
#include <pthread.h>
#include <stdio.h>

static void *
worker(void *arg)
{
    (void)arg;
    PyGILState_STATE state = PyGILState_Ensure();
    PyRun_SimpleString("work = [bytearray(1000) for _ in range(2000)]\n"
                       "del work[::2]\n"
                       "print('worker done', len(work), flush=True)\n");
    PyGILState_Release(state);
    return NULL;
}

int
main(void)
{
    Py_Initialize();
    PyRun_SimpleString("keep = [bytearray(10000) for _ in range(100)]\n"
                       "print('main done', flush=True)\n");
    /* Let the worker take the GIL: main leaves holding no Python state. */
    PyEval_SaveThread();
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) {
        return 2;
    }
    pthread_exit(NULL);
}
