#include "config.h"

#include "fmt.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
mp_config_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0])) {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K') {
        scale = 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        scale = 1024 * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        scale = 1024 * 1024 * 1024;
        end++;
    }
    if (*end != '\0' || v > UINT64_MAX / scale) {
        return -1;
    }
    *out = v * scale;
    return 0;
}

/* Whether sig can be taken over without changing what the program or the system relies on:
 * USR1 and USR2 exist for applications, and the real-time signals carry no default meaning but
 * termination. Faults (SEGV, BUS, FPE, ILL) must reach their crash handlers, INT, TERM, HUP and
 * QUIT must stop the program, CHLD, PIPE, ALRM and job control belong to the program. */
static int
safe_signal(long sig)
{
    return sig == SIGUSR1 || sig == SIGUSR2 || (sig >= SIGRTMIN && sig <= SIGRTMAX);
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n"; 0, or -1. */
static int
parse_realtime(const char *name, long *out)
{
    long base;
    int sign;
    if (strncasecmp(name, "RTMIN", 5) == 0) {
        base = SIGRTMIN;
        sign = 1;
    } else if (strncasecmp(name, "RTMAX", 5) == 0) {
        base = SIGRTMAX;
        sign = -1;
    } else {
        return -1;
    }
    const char *rest = name + 5;
    if (*rest == '\0') {
        *out = base;
        return 0;
    }
    if (*rest != (sign > 0 ? '+' : '-') || !isdigit((unsigned char)rest[1])) {
        return -1;
    }
    char *end;
    long n = strtol(rest + 1, &end, 10);
    if (*end != '\0' || n > SIGRTMAX - SIGRTMIN) {
        return -1;
    }
    *out = base + sign * n;
    return 0;
}

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},  {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},    {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},  {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},  {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU},  {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},    {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

int
mp_config_parse_signal(const char *s, int *out)
{
    if (strcasecmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    long sig = -1;
    if (isdigit((unsigned char)s[0])) {
        char *end;
        sig = strtol(s, &end, 10);
        if (*end != '\0' || sig < 1 || sig >= NSIG) {
            return -1;
        }
    } else {
        const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
        for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
            if (strcasecmp(name, signal_names[i].name) == 0) {
                sig = signal_names[i].number;
                break;
            }
        }
        if (sig < 0 && parse_realtime(name, &sig) < 0) {
            return -1;
        }
    }
    if (!safe_signal(sig)) {
        return -2;
    }
    *out = (int)sig;
    return 0;
}

int
mp_config_expand_path(const char *pattern, long pid, unsigned long seq, long time, char *out,
                      size_t size)
{
    mp_fmt_t f;
    mp_fmt_init(&f, out, size);
    for (const char *p = pattern; *p != '\0'; p++) {
        if (*p != '%') {
            mp_fmt_mem(&f, p, 1);
            continue;
        }
        p++;
        switch (*p) {
        case 'p':
            mp_fmt_i64(&f, pid);
            break;
        case 'n':
            mp_fmt_u64(&f, seq);
            break;
        case 't':
            mp_fmt_i64(&f, time);
            break;
        case '%':
            mp_fmt_mem(&f, "%", 1);
            break;
        default:
            return -1;
        }
    }
    return mp_fmt_end(&f) == 0 && f.len > 0 ? 0 : -1;
}

int
mp_config_absolute_out(mp_config_t *cfg, const char *dir)
{
    if (cfg->out[0] == '/') {
        return 0;
    }
    char joined[sizeof(cfg->out)];
    mp_fmt_t f;
    mp_fmt_init(&f, joined, sizeof(joined));
    /* The directory's own "%" must stay literal in the pattern. */
    for (const char *c = dir; *c != '\0'; c++) {
        mp_fmt_mem(&f, c, 1);
        if (*c == '%') {
            mp_fmt_mem(&f, "%", 1);
        }
    }
    if (f.len == 0 || joined[f.len - 1] != '/') {
        mp_fmt_str(&f, "/");
    }
    mp_fmt_str(&f, cfg->out);
    if (mp_fmt_end(&f) < 0) {
        return -1;
    }
    memcpy(cfg->out, joined, f.len + 1);
    return 0;
}

static int
parse_bool(const char *s, int *out)
{
    if (strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
        strcasecmp(s, "on") == 0) {
        *out = 1;
    } else if (strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
               strcasecmp(s, "off") == 0) {
        *out = 0;
    } else {
        return -1;
    }
    return 0;
}

static int
parse_log_level(const char *s, mp_log_level_t *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (mp_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* A count from 1 to max, plain digits (no size suffix). 0, or -1. */
static int
parse_count(const char *s, int max, int *out)
{
    uint64_t n;
    if (mp_config_parse_size(s, &n) < 0 || strpbrk(s, "kKmMgG") != NULL || n < 1 ||
        n > (uint64_t)max) {
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Seconds, a decimal number: 0 (none), or at least MP_MIN_INTERVAL and at most a year. */
static int
parse_interval(const char *s, double *out)
{
    if (!isdigit((unsigned char)s[0]) && s[0] != '.') {
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || v != v || (v != 0 && v < MP_MIN_INTERVAL) ||
        v > 366.0 * 86400) {
        return -1;
    }
    *out = v;
    return 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, err_size, __VA_ARGS__);                                                      \
        return -1;                                                                                 \
    } while (0)

int
mp_config_load(mp_config_t *cfg, int secure, mp_getenv_fn getenv_fn, char *err, size_t err_size)
{
    if (secure) {
        return 1;
    }
    return mp_config_parse(cfg, getenv_fn, err, err_size);
}

int
mp_config_parse(mp_config_t *cfg, mp_getenv_fn getenv_fn, char *err, size_t err_size)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->rate = MP_DEFAULT_RATE;
    cfg->frames = MP_DEFAULT_FRAMES;
    cfg->native_frames = MP_DEFAULT_NATIVE_FRAMES;
    cfg->signal = SIGUSR2;
    cfg->at_exit = 1;
    cfg->max_memory = MP_DEFAULT_MAX_MEMORY;
    cfg->peak = 1;
    cfg->max_files = MP_DEFAULT_MAX_FILES;
    cfg->log_level = MP_LOG_WARN;
    snprintf(cfg->out, sizeof(cfg->out), "%s", MP_DEFAULT_OUT);

    const char *v;
    /* The log level first, so that it applies to what the rest of the parsing says. */
    if ((v = getenv_fn("MPROFILE_LOG")) != NULL && parse_log_level(v, &cfg->log_level) < 0) {
        FAIL("MPROFILE_LOG=%.64s is invalid: expected error, warn, info or debug", v);
    }
    if ((v = getenv_fn("MPROFILE_RATE")) != NULL && mp_config_parse_size(v, &cfg->rate) < 0) {
        FAIL("MPROFILE_RATE=%.64s is invalid: expected bytes between samples, like 131072, 128k "
             "or 1m (1 = every allocation, 0 = idle until started)",
             v);
    }
    if ((v = getenv_fn("MPROFILE_FRAMES")) != NULL && parse_count(v, 65535, &cfg->frames) < 0) {
        FAIL("MPROFILE_FRAMES=%.64s is invalid: expected an integer from 1 to 65535", v);
    }
    if ((v = getenv_fn("MPROFILE_OUT")) != NULL) {
        char probe[sizeof(cfg->out)];
        if (strlen(v) >= sizeof(cfg->out) || mp_config_expand_path(v, 1, 1, 1, probe, sizeof(probe)) < 0) {
            FAIL("MPROFILE_OUT=%.64s is invalid: expected a file path; %%p, %%n, %%t and %%%% are "
                 "the only escapes",
                 v);
        }
        snprintf(cfg->out, sizeof(cfg->out), "%s", v);
    }
    if ((v = getenv_fn("MPROFILE_SIGNAL")) != NULL) {
        int rc = mp_config_parse_signal(v, &cfg->signal);
        if (rc == -2) {
            FAIL("MPROFILE_SIGNAL=%.64s is refused: the program or the system relies on it; "
                 "expected USR1, USR2, RTMIN..RTMAX (%d..%d, like RTMIN+2) or none",
                 v, SIGRTMIN, SIGRTMAX);
        }
        if (rc < 0) {
            FAIL("MPROFILE_SIGNAL=%.64s is invalid: expected USR1, USR2, RTMIN..RTMAX (%d..%d, "
                 "like RTMIN+2) or none",
                 v, SIGRTMIN, SIGRTMAX);
        }
    }
    if ((v = getenv_fn("MPROFILE_AT_EXIT")) != NULL) {
        if (parse_bool(v, &cfg->at_exit) < 0) {
            FAIL("MPROFILE_AT_EXIT=%.64s is invalid: expected 1 or 0", v);
        }
        cfg->at_exit_given = 1;
    }
    if ((v = getenv_fn("MPROFILE_NATIVE")) != NULL && parse_bool(v, &cfg->native) < 0) {
        FAIL("MPROFILE_NATIVE=%.64s is invalid: expected 1 or 0", v);
    }
    if ((v = getenv_fn("MPROFILE_STACKS")) != NULL) {
        if (strcmp(v, "python") != 0 && strcmp(v, "mixed") != 0) {
            FAIL("MPROFILE_STACKS=%.64s is invalid: expected python or mixed", v);
        }
        cfg->mixed = strcmp(v, "mixed") == 0;
    }
    if ((v = getenv_fn("MPROFILE_NATIVE_FRAMES")) != NULL &&
        parse_count(v, MP_MAX_NATIVE_FRAMES, &cfg->native_frames) < 0) {
        FAIL("MPROFILE_NATIVE_FRAMES=%.64s is invalid: expected an integer from 1 to %d", v,
             MP_MAX_NATIVE_FRAMES);
    }
    if ((v = getenv_fn("MPROFILE_MAX_MEMORY")) != NULL &&
        (mp_config_parse_size(v, &cfg->max_memory) < 0 || cfg->max_memory < MP_MIN_MAX_MEMORY)) {
        FAIL("MPROFILE_MAX_MEMORY=%.64s is invalid: expected bytes of at least 4m, like 256m or "
             "2g",
             v);
    }
    if ((v = getenv_fn("MPROFILE_PEAK")) != NULL && parse_bool(v, &cfg->peak) < 0) {
        FAIL("MPROFILE_PEAK=%.64s is invalid: expected 1 or 0", v);
    }
    if ((v = getenv_fn("MPROFILE_INTERVAL")) != NULL && parse_interval(v, &cfg->interval) < 0) {
        FAIL("MPROFILE_INTERVAL=%.64s is invalid: expected seconds between snapshots, at least "
             "%g, like 60 or 0.5 (0 = none)",
             v, MP_MIN_INTERVAL);
    }
    if ((v = getenv_fn("MPROFILE_DUMP_GROWTH")) != NULL &&
        mp_config_parse_size(v, &cfg->dump_growth) < 0) {
        FAIL("MPROFILE_DUMP_GROWTH=%.64s is invalid: expected bytes of growth between snapshots, "
             "like 64m or 1g (0 = none)",
             v);
    }
    if ((v = getenv_fn("MPROFILE_MAX_FILES")) != NULL &&
        parse_count(v, MP_MAX_MAX_FILES, &cfg->max_files) < 0) {
        FAIL("MPROFILE_MAX_FILES=%.64s is invalid: expected an integer from 1 to %d", v,
             MP_MAX_MAX_FILES);
    }
    if ((v = getenv_fn("MPROFILE_SEED")) != NULL) {
        char *end;
        errno = 0;
        cfg->seed = strtoull(v, &end, 0);
        if (v[0] == '\0' || v[0] == '-' || *end != '\0' || errno != 0) {
            FAIL("MPROFILE_SEED=%.64s is invalid: expected a non-negative integer", v);
        }
        cfg->has_seed = 1;
    }
    return 0;
}
