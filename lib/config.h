/*
 * Configuration from MPROFILE_* environment variables, read once at load (docs/configuration.md).
 * Parsing is pure so that it can be tested: the caller passes the environment lookup.
 */
#ifndef MP_CONFIG_H
#define MP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define MP_DEFAULT_RATE   131072
#define MP_DEFAULT_FRAMES 128
#define MP_DEFAULT_OUT    "mprofile.%p.%n.snap"

typedef struct {
    uint64_t rate;      /* 0 = idle until started through the API, 1 = exact */
    int frames;         /* 1..65535 */
    char out[1024];     /* output path pattern */
    int signal;         /* 0 = none */
    int at_exit;        /* 0 or 1 */
    int has_seed;
    uint64_t seed;
    mp_log_level_t log_level;
} mp_config_t;

typedef const char *(*mp_getenv_fn)(const char *name);

/*
 * Fills cfg from the environment. Returns 0, or -1 with a one-line message in err (naming the
 * variable and the accepted form) when a value is invalid.
 */
int mp_config_parse(mp_config_t *cfg, mp_getenv_fn getenv_fn, char *err, size_t err_size);

/* Byte sizes: digits with an optional k/K or m/M suffix (KiB, MiB). Returns 0 or -1. */
int mp_config_parse_size(const char *s, uint64_t *out);

/* Signal by name ("USR2", "SIGUSR2"), number, or "none" (0). Returns 0 or -1. */
int mp_config_parse_signal(const char *s, int *out);

/*
 * Expands an output pattern: %p pid, %n sequence number, %t unix time, %% a percent sign.
 * Returns 0, or -1 when the result does not fit or the pattern has an unknown escape.
 */
int mp_config_expand_path(const char *pattern, long pid, unsigned long seq, long time, char *out,
                          size_t size);

#endif
