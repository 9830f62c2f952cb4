#include "config.h"

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
    }
    if (*end != '\0' || v > UINT64_MAX / scale) {
        return -1;
    }
    *out = v * scale;
    return 0;
}

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}, {"URG", SIGURG}, {"PROF", SIGPROF},
};

int
mp_config_parse_signal(const char *s, int *out)
{
    if (strcasecmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    if (isdigit((unsigned char)s[0])) {
        char *end;
        long n = strtol(s, &end, 10);
        /* SIGKILL and SIGSTOP cannot be caught. */
        if (*end != '\0' || n < 1 || n >= NSIG || n == SIGKILL || n == SIGSTOP) {
            return -1;
        }
        *out = (int)n;
        return 0;
    }
    const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
        if (strcasecmp(name, signal_names[i].name) == 0) {
            *out = signal_names[i].number;
            return 0;
        }
    }
    return -1;
}

int
mp_config_expand_path(const char *pattern, long pid, unsigned long seq, long time, char *out,
                      size_t size)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0'; p++) {
        char piece[32];
        const char *add = piece;
        if (*p != '%') {
            piece[0] = *p;
            piece[1] = '\0';
        } else {
            p++;
            switch (*p) {
            case 'p':
                snprintf(piece, sizeof(piece), "%ld", pid);
                break;
            case 'n':
                snprintf(piece, sizeof(piece), "%lu", seq);
                break;
            case 't':
                snprintf(piece, sizeof(piece), "%ld", time);
                break;
            case '%':
                add = "%";
                break;
            default:
                return -1;
            }
        }
        size_t len = strlen(add);
        if (n + len + 1 > size) {
            return -1;
        }
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
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

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, err_size, __VA_ARGS__);                                                      \
        return -1;                                                                                 \
    } while (0)

int
mp_config_parse(mp_config_t *cfg, mp_getenv_fn getenv_fn, char *err, size_t err_size)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->rate = MP_DEFAULT_RATE;
    cfg->frames = MP_DEFAULT_FRAMES;
    cfg->signal = SIGUSR2;
    cfg->at_exit = 1;
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
    if ((v = getenv_fn("MPROFILE_FRAMES")) != NULL) {
        uint64_t frames;
        if (mp_config_parse_size(v, &frames) < 0 || strpbrk(v, "kKmM") != NULL || frames < 1 ||
            frames > 65535) {
            FAIL("MPROFILE_FRAMES=%.64s is invalid: expected an integer from 1 to 65535", v);
        }
        cfg->frames = (int)frames;
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
    if ((v = getenv_fn("MPROFILE_SIGNAL")) != NULL && mp_config_parse_signal(v, &cfg->signal) < 0) {
        FAIL("MPROFILE_SIGNAL=%.64s is invalid: expected a signal name like USR2, a number, or "
             "none",
             v);
    }
    if ((v = getenv_fn("MPROFILE_AT_EXIT")) != NULL && parse_bool(v, &cfg->at_exit) < 0) {
        FAIL("MPROFILE_AT_EXIT=%.64s is invalid: expected 1 or 0", v);
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
