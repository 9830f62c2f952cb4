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
/* The profiler's tables may take this much (MPROFILE_MAX_MEMORY): exact mode on the test and
 * benchmark suites stays far below it (the largest, 1M live blocks, takes about 70 MiB). */
#define MP_DEFAULT_MAX_MEMORY ((uint64_t)512 << 20)
#define MP_MIN_MAX_MEMORY     ((uint64_t)4 << 20)
/* Native frames kept per stack in mixed mode (MPROFILE_NATIVE_FRAMES), besides the Python ones.
 * The cap bounds the unwinder's buffers, which live on the allocating thread's stack. */
#define MP_DEFAULT_NATIVE_FRAMES 64
#define MP_MAX_NATIVE_FRAMES     128
/* Interval and growth snapshots one process keeps (MPROFILE_MAX_FILES): a day of hourly
 * snapshots, a few MiB each at the default rate. */
#define MP_DEFAULT_MAX_FILES 24
#define MP_MAX_MAX_FILES     100000
/* The shortest MPROFILE_INTERVAL: a snapshot costs milliseconds to write. */
#define MP_MIN_INTERVAL 0.1

typedef struct {
    uint64_t rate;      /* 0 = idle until started through the API, 1 = exact */
    int frames;         /* 1..65535 */
    char out[1024];     /* output path pattern */
    int signal;         /* 0 = none */
    int at_exit;        /* 0 or 1 */
    int at_exit_given;  /* MPROFILE_AT_EXIT was set (else a late load defaults it off) */
    int native;         /* MPROFILE_NATIVE: also the heap of native code (malloc, mmap) */
    int mixed;          /* MPROFILE_STACKS=mixed: native frames merged with the Python ones */
    int native_frames;  /* MPROFILE_NATIVE_FRAMES: 1..MP_MAX_NATIVE_FRAMES */
    uint64_t max_memory; /* budget of the profiler's tables, bytes */
    int peak;            /* MPROFILE_PEAK: keep the live set at its high-water mark */
    double interval;     /* MPROFILE_INTERVAL: seconds between periodic snapshots; 0 = none */
    uint64_t dump_growth; /* MPROFILE_DUMP_GROWTH: bytes of growth between snapshots; 0 = none */
    int max_files;       /* MPROFILE_MAX_FILES: interval and growth snapshots kept per process */
    int has_seed;
    uint64_t seed;
    mp_log_level_t log_level;
} mp_config_t;

typedef const char *(*mp_getenv_fn)(const char *name);

/*
 * What the constructor calls. In a setuid or setgid program (secure, from getauxval(AT_SECURE))
 * the environment belongs to someone else: returns 1 without reading it, and the profiler stays
 * dormant. Otherwise as mp_config_parse.
 */
int mp_config_load(mp_config_t *cfg, int secure, mp_getenv_fn getenv_fn, char *err,
                   size_t err_size);

/*
 * Fills cfg from the environment. Returns 0, or -1 with a one-line message in err (naming the
 * variable and the accepted form) when a value is invalid.
 */
int mp_config_parse(mp_config_t *cfg, mp_getenv_fn getenv_fn, char *err, size_t err_size);

/* Byte sizes: digits with an optional k/K, m/M or g/G suffix (KiB, MiB, GiB). Returns 0 or -1. */
int mp_config_parse_size(const char *s, uint64_t *out);

/*
 * The dump signal: "none" (0), or one that is safe to take over: USR1, USR2, or a real-time
 * signal (RTMIN, RTMIN+n, RTMAX-n, RTMAX, as the C library numbers them at run time), by name
 * with or without "SIG", or by number. Returns 0; -1 for something that is not a signal; -2 for
 * a signal that is refused (a fault, terminating, job-control or child signal the program or the
 * system relies on).
 */
int mp_config_parse_signal(const char *s, int *out);

/* A relative output pattern made absolute against dir (the start directory, its "%" escaped).
 * 0, or -1 when the result does not fit. */
int mp_config_absolute_out(mp_config_t *cfg, const char *dir);

/*
 * Expands an output pattern: %p pid, %n sequence number, %t unix time, %% a percent sign.
 * Returns 0, or -1 when the result does not fit or the pattern has an unknown escape.
 */
int mp_config_expand_path(const char *pattern, long pid, unsigned long seq, long time, char *out,
                          size_t size);

#endif
