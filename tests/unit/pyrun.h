/* Test helper: runs a Python snippet on a file and captures its first output line. */
#ifndef MP_TEST_PYRUN_H
#define MP_TEST_PYRUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes len bytes to a temporary file; returns its path (static buffer). */
static inline const char *
pyrun_write_temp(const void *data, size_t len)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/mp_unit_%d.pickle", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        return NULL;
    }
    fclose(f);
    return path;
}

/* Runs MP_TEST_PYTHON with code (sys.argv[1] = path) and returns its stdout (static). */
static inline const char *
pyrun(const char *code, const char *path)
{
    static char out[4096];
    const char *python = getenv("MP_TEST_PYTHON");
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s -c \"%s\" %s", python && *python ? python : "python3", code, path);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return "";
    }
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

#endif
