/*
 * mprofile-check-config (installed as libexec/mprofile/check-config): the launcher's check of the
 * MPROFILE_* environment before the program runs (docs/launcher.md).
 *
 * It calls the library's own parser (lib/config.c) and output check (lib/outpath.c) on its own
 * environment, which is the environment the program will get, so that the launcher never
 * accepts what the library would refuse, or the reverse.
 *
 *   check-config           prints the absolute output pattern
 *   check-config --shell   prints shell assignments for the launcher's eval:
 *                            mp_out=PATTERN    the absolute output pattern
 *                            mp_glob=GLOB      the files the pattern can name (%p, %n, %t as *),
 *                                              empty when a literal part of the pattern holds a
 *                                              glob character (the launcher then does not look)
 *                            mp_log=N          the log level, 0 (error) to 3 (debug)
 *                            mp_exit_snapshot=1  whether a Python process writes a snapshot when
 *                                              it exits (0 with MPROFILE_AT_EXIT=0, and with
 *                                              MPROFILE_RATE=0 where the program may never
 *                                              start the profiler)
 *
 * Exit status: 0; 2 with one line "mprofile: <message>" on stderr when a value is invalid or
 * snapshots cannot be written where the pattern says.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "outpath.h"

static const char *
env(const char *name)
{
    return getenv(name);
}

/* Writes s single-quoted for sh: every ' becomes '\''. */
static void
put_quoted(const char *s)
{
    putchar('\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            fputs("'\\''", stdout);
        } else {
            putchar(*s);
        }
    }
    putchar('\'');
}

/*
 * The glob of the files an (absolute, valid) pattern can name, into out; "" when a literal part
 * holds a character that is special in a glob, since escaping it in the shell is not portable.
 */
static void
pattern_glob(const char *pattern, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 1 < size; p++) {
        char c = *p;
        if (c == '%') {
            p++;
            /* The pattern was accepted by mp_config_parse: '%' is followed by p, n, t or %. */
            c = *p == '%' ? '%' : '*';
        } else if (strchr("*?[]\\", c) != NULL) {
            n = 0;
            break;
        }
        out[n++] = c;
    }
    out[n] = '\0';
}

int
main(int argc, char **argv)
{
    int shell = argc == 2 && strcmp(argv[1], "--shell") == 0;
    if (argc > 2 || (argc == 2 && !shell)) {
        fputs("usage: check-config [--shell]\n", stderr);
        return 2;
    }
    mp_config_t cfg;
    char err[512];
    if (mp_config_parse(&cfg, env, err, sizeof(err)) < 0) {
        fprintf(stderr, "mprofile: %s\n", err);
        return 2;
    }
    /* As the library does at start: a relative pattern is resolved once, against the working
     * directory, which the program shares with the launcher. */
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        fprintf(stderr, "mprofile: the working directory is unknown (%s)\n", strerror(errno));
        return 2;
    }
    if (mp_config_absolute_out(&cfg, cwd) < 0) {
        fprintf(stderr, "mprofile: MPROFILE_OUT=%.64s is too long once made absolute\n",
                cfg.out);
        return 2;
    }
    if (mp_outpath_check(cfg.out, err, sizeof(err)) < 0) {
        fprintf(stderr, "mprofile: %s\n", err);
        return 2;
    }
    if (!shell) {
        printf("%s\n", cfg.out);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    char glob[sizeof(cfg.out)];
    pattern_glob(cfg.out, glob, sizeof(glob));
    fputs("mp_out=", stdout);
    put_quoted(cfg.out);
    fputs("\nmp_glob=", stdout);
    put_quoted(glob);
    printf("\nmp_log=%d\nmp_exit_snapshot=%d\n", (int)cfg.log_level,
           cfg.at_exit && cfg.rate != 0);
    return fflush(stdout) == 0 ? 0 : 1;
}
