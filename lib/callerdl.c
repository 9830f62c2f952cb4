#include "callerdl.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The directories the loader searches for a bare name opened by map (dlinfo RTLD_DI_SERINFO),
 * in malloc'ed memory; NULL when unknown. */
static Dl_serinfo *
search_list(void *map)
{
    Dl_serinfo probe;
    if (dlinfo(map, RTLD_DI_SERINFOSIZE, &probe) != 0) {
        (void)dlerror();
        return NULL;
    }
    Dl_serinfo *list = malloc(probe.dls_size);
    if (list == NULL) {
        return NULL;
    }
    list->dls_size = probe.dls_size;
    list->dls_cnt = probe.dls_cnt;
    if (dlinfo(map, RTLD_DI_SERINFO, list) != 0) {
        (void)dlerror();
        free(list);
        return NULL;
    }
    return list;
}

static char *
join(const char *dir, const char *file)
{
    size_t size = strlen(dir) + strlen(file) + 2;
    char *path = malloc(size);
    if (path != NULL) {
        snprintf(path, size, "%s/%s", dir, file);
    }
    return path;
}

/* "$ORIGIN" and "${ORIGIN}" in file, from the caller's directory, in malloc'ed memory. */
static char *
expand_origin(const char *file, struct link_map *caller)
{
    char origin[4096];
    if (dlinfo(caller, RTLD_DI_ORIGIN, origin) != 0) {
        (void)dlerror();
        return NULL;
    }
    size_t size = strlen(file) * (strlen(origin) + 1) + 1;
    char *out = malloc(size);
    if (out == NULL) {
        return NULL;
    }
    size_t used = 0;
    for (const char *p = file; *p != '\0';) {
        size_t skip = strncmp(p, "$ORIGIN", 7) == 0     ? 7
                      : strncmp(p, "${ORIGIN}", 9) == 0 ? 9
                                                         : 0;
        const char *piece = skip ? origin : p;
        size_t len = skip ? strlen(origin) : 1;
        memcpy(out + used, piece, len);
        used += len;
        p += skip ? skip : 1;
    }
    out[used] = '\0';
    return out;
}

/*
 * A bare name, for the caller map. Already loaded (by file name or soname): that object, as
 * the loader would take it. Else the directories only the caller has are searched first: both
 * the caller's and the profiler's search lists end with the same directories (the system
 * ones, and LD_LIBRARY_PATH after a caller's RPATH), which the plain call searches anyway, with
 * ld.so.cache before the system directories, as the loader does; what precedes them in the
 * caller's list (its RPATH, LD_LIBRARY_PATH before its RUNPATH, its RUNPATH) is tried here, in
 * that order. The first file that exists is the one opened, loadable or not, as in the loader.
 */
static void *
open_bare(void *(*real)(const char *, int), const char *file, int flags, struct link_map *map,
          struct link_map *self)
{
    void *handle = real(file, flags | RTLD_NOLOAD);
    if (handle != NULL) {
        return handle;
    }
    (void)dlerror();
    Dl_serinfo *theirs = search_list(map);
    Dl_serinfo *ours = search_list(self);
    int found = 0;
    if (theirs != NULL && ours != NULL) {
        unsigned n = theirs->dls_cnt, m = ours->dls_cnt;
        while (n > 0 && m > 0 &&
               strcmp(theirs->dls_serpath[n - 1].dls_name, ours->dls_serpath[m - 1].dls_name) ==
                   0) {
            n--;
            m--;
        }
        for (unsigned i = 0; i < n && !found; i++) {
            char *candidate = join(theirs->dls_serpath[i].dls_name, file);
            if (candidate != NULL && access(candidate, F_OK) == 0) {
                handle = real(candidate, flags);
                found = 1;
            }
            free(candidate);
        }
    }
    free(theirs);
    free(ours);
    return found ? handle : real(file, flags);
}

/*
 * Not reproduced: the caller's namespace (dlmopen), and, for a caller with a RUNPATH in an
 * executable with an RPATH, the executable's RPATH that the plain call searches when the
 * caller's own directories have no such file.
 */
void *
mp_callerdl_open(void *(*real)(const char *file, int flags), const char *file, int flags,
                 const void *caller)
{
    if (file == NULL || (strchr(file, '/') != NULL && strchr(file, '$') == NULL)) {
        return real(file, flags);
    }
    Dl_info info;
    struct link_map *map = NULL, *self = NULL;
    if (dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL ||
        dladdr1((const void *)mp_callerdl_open, &info, (void **)&self, RTLD_DL_LINKMAP) == 0 ||
        self == NULL || map == self) {
        return real(file, flags);
    }
    char *expanded = NULL;
    if (strchr(file, '$') != NULL) {
        expanded = expand_origin(file, map);
        if (expanded == NULL) {
            return real(file, flags);
        }
        file = expanded;
    }
    void *handle = strchr(file, '/') != NULL ? real(file, flags)
                                             : open_bare(real, file, flags, map, self);
    free(expanded);
    return handle;
}
