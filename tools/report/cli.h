/* Command line of mprofile-report. */
#ifndef MPROFILE_REPORT_CLI_H
#define MPROFILE_REPORT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "aggregate.h"

enum output_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_COLLAPSED, FORMAT_PPROF, FORMAT_HTML };

typedef struct cli_filter {
    const char *pattern;
    int inclusive;
} cli_filter;

typedef struct cli_opts {
    int diff;
    size_t top;
    group_by group;
    int cumulative;
    int inclusive; /* each frame (or file) once per trace */
    int all_frames;
    enum output_format format;
    const char *output;
    const char **files; /* SNAPSHOT..., or OLD NEW with --diff (the strings of argv) */
    size_t nfiles;
    int trend;  /* --trend: sites that grow across the snapshots */
    int by_pid; /* merging and --trend: one section (collapsed: one root frame) per process */
    double false_leak_rate; /* --trend: family-wise false-leak rate (default 0.01) */
    cli_filter *filters;  /* in command line order */
    size_t nfilters;
    domain_spec *domains; /* --domain and --exclude-domain, in command line order */
    size_t ndomains;
    int domain_roots;
    int python_only;  /* drop native frames (SNAPSHOT_PYTHON_ONLY) */
    const char *peak; /* --peak FILE (html) */
    int timeline;     /* --timeline (html): files are the snapshots of the plot */
    int hide_imports; /* drop import machinery frames (SNAPSHOT_HIDE_IMPORTS) */
    int names;        /* text: the function after each frame */
} cli_opts;

enum { CLI_RUN = 0, CLI_EXIT_OK = 1, CLI_USAGE = -1 };

/* Parse argv.  CLI_RUN: run the report; CLI_EXIT_OK: --help or --version
 * was printed to out; CLI_USAGE: a message is in err.  cli_opts_free must
 * be called in every case. */
int cli_parse(int argc, char **argv, cli_opts *opts, FILE *out, char *err, size_t errlen);
void cli_opts_free(cli_opts *opts);
void cli_usage(FILE *out);

#endif
