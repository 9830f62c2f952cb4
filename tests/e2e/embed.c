/*
 * An application that embeds CPython. Under the preload it must be profiled like python itself.
 * "native-thread": a thread with no Python state allocates through PyMem_RawMalloc while the
 * interpreter runs; the block stays live until exit.
 */
#include <Python.h>
#include <pthread.h>
#include <string.h>

static void *native_block;

static void *
native_thread(void *arg)
{
    (void)arg;
    native_block = PyMem_RawMalloc(123457);
    return NULL;
}

int
main(int argc, char **argv)
{
    Py_Initialize();
    if (argc > 1 && strcmp(argv[1], "native-thread") == 0) {
        pthread_t t;
        Py_BEGIN_ALLOW_THREADS
        pthread_create(&t, NULL, native_thread, NULL);
        pthread_join(t, NULL);
        Py_END_ALLOW_THREADS
    }
    PyRun_SimpleString("keep = [bytearray(10000) for _ in range(100)]\n");
    return Py_FinalizeEx() < 0 ? 1 : 0;
}
