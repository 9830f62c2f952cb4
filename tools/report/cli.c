#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#ifndef MPROFILE_VERSION
#define MPROFILE_VERSION "unknown"
#endif

void cli_usage(FILE *out)
{
    fputs("usage: mprofile-report [OPTIONS] SNAPSHOT             top allocation sites\n"
          "       mprofile-report [OPTIONS] SNAPSHOT...          the same, snapshots merged\n"
          "       mprofile-report --diff [OPTIONS] OLD NEW       what grew between two snapshots\n"
          "       mprofile-report --trend [OPTIONS] SNAPSHOT...  sites whose live bytes grow\n"
          "       mprofile-report --format html --timeline [OPTIONS] SNAPSHOT...\n"
          "                                                      memory over several snapshots\n"
          "\n"
          "  -n, --top N           rows to show (default 10; 0 = all)\n"
          "  -g, --group-by KEY    lineno (default), filename or traceback\n"
          "      --cumulative      count every frame of a trace (lineno, filename)\n"
          "      --inclusive       count each frame (or file) once per trace, so no row\n"
          "                        exceeds the total, recursion included\n"
          "      --include GLOB    keep traces whose file matches (repeatable)\n"
          "      --exclude GLOB    drop traces whose file matches (repeatable)\n"
          "      --all-frames      filters match any frame, not only the most recent\n"
          "      --domain SPEC     keep traces of that domain (repeatable): python, native,\n"
          "                        tracked (every other domain) or a domain number\n"
          "      --exclude-domain SPEC  drop traces of that domain (repeatable)\n"
          "      --format FORMAT   text (default), json, collapsed, pprof (gzipped\n"
          "                        profile.proto, for go tool pprof; use -o FILE) or html\n"
          "                        (a self-contained page: flame graphs, timeline, top\n"
          "                        rows; use with -o)\n"
          "      --peak FILE       html: the peak snapshot to show (default: the snapshot's\n"
          "                        peak companion NAME.peak.EXT when it exists)\n"
          "      --timeline        html: plot the memory of every SNAPSHOT given, by time;\n"
          "                        the flame graphs show the latest\n"
          "      --domain-roots    collapsed: the domain name as the root of every stack\n"
          "      --python-only     drop the native frames of mixed Python + native stacks\n"
          "                        (the report of a Python-only recording)\n"
          "      --hide-imports    drop the frames of the import machinery (<frozen\n"
          "                        importlib._bootstrap>, ..._external>, zipimport)\n"
          "      --names           text: the function after each frame, file:line (name)\n"
          "                        (JSON and collapsed output always have the names)\n"
          "      --by-pid          keep processes apart (metadata pid): one section\n"
          "                        (collapsed: one 'pid N' root frame) or trend per process\n"
          "      --false-leak-rate P  --trend: chance that a program that does not leak\n"
          "                        reports a leak (default 0.01)\n"
          "  -o, --output FILE     write there instead of stdout\n"
          "  -h, --help            show this help\n"
          "      --version         show the version\n"
          "\n"
          "Reads snapshots written by libmprofile or tracemalloc.Snapshot.dump().\n"
          "Rows of sampled snapshots end with rse= (relative standard error), with --diff\n"
          "with se= (standard error of the size difference) and 'noise' within 2 se.\n",
          out);
}

void cli_opts_free(cli_opts *opts)
{
    free(opts->filters);
    opts->filters = NULL;
    opts->nfilters = 0;
    free(opts->domains);
    opts->domains = NULL;
    opts->ndomains = 0;
    free(opts->files);
    opts->files = NULL;
    opts->nfiles = 0;
}

static int add_filter(cli_opts *o, const char *pattern, int inclusive)
{
    cli_filter *f = realloc(o->filters, (o->nfilters + 1) * sizeof *f);
    if (!f)
        return -1;
    o->filters = f;
    o->filters[o->nfilters++] = (cli_filter){pattern, inclusive};
    return 0;
}

static int add_domain(cli_opts *o, const domain_spec *spec)
{
    domain_spec *d = realloc(o->domains, (o->ndomains + 1) * sizeof *d);
    if (!d)
        return -1;
    o->domains = d;
    o->domains[o->ndomains++] = *spec;
    return 0;
}

enum {
    OPT_CUMULATIVE = 256, OPT_INCLUDE, OPT_EXCLUDE, OPT_ALL_FRAMES, OPT_FORMAT, OPT_VERSION, OPT_DIFF,
    OPT_DOMAIN, OPT_EXCLUDE_DOMAIN, OPT_DOMAIN_ROOTS, OPT_PYTHON_ONLY, OPT_TREND, OPT_BY_PID,
    OPT_FALSE_LEAK_RATE, OPT_PEAK, OPT_TIMELINE,
    OPT_INCLUSIVE, OPT_HIDE_IMPORTS, OPT_NAMES
};

/* --format html: one snapshot, OLD NEW with --diff, or the series of
 * --timeline; not merged snapshots nor --trend. */
static int html_args(const cli_opts *o, char *err, size_t errlen)
{
    if (o->peak && (o->format != FORMAT_HTML || o->diff)) {
        snprintf(err, errlen, "--peak needs --format html (and no --diff)");
        return -1;
    }
    if (o->timeline && (o->format != FORMAT_HTML || o->diff || o->trend)) {
        snprintf(err, errlen, "--timeline needs --format html (and no --diff or --trend)");
        return -1;
    }
    if (o->format == FORMAT_HTML && (o->trend || o->by_pid)) {
        snprintf(err, errlen, "--format html does not show --trend or --by-pid");
        return -1;
    }
    if (o->format == FORMAT_HTML && !o->diff && !o->timeline && o->nfiles != 1) {
        snprintf(err, errlen, "--format html shows one snapshot (several with --timeline)");
        return -1;
    }
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts *o, FILE *out, char *err, size_t errlen)
{
    static const struct option longopts[] = {
        {"top", required_argument, NULL, 'n'},
        {"group-by", required_argument, NULL, 'g'},
        {"cumulative", no_argument, NULL, OPT_CUMULATIVE},
        {"inclusive", no_argument, NULL, OPT_INCLUSIVE},
        {"include", required_argument, NULL, OPT_INCLUDE},
        {"exclude", required_argument, NULL, OPT_EXCLUDE},
        {"all-frames", no_argument, NULL, OPT_ALL_FRAMES},
        {"domain", required_argument, NULL, OPT_DOMAIN},
        {"exclude-domain", required_argument, NULL, OPT_EXCLUDE_DOMAIN},
        {"domain-roots", no_argument, NULL, OPT_DOMAIN_ROOTS},
        {"python-only", no_argument, NULL, OPT_PYTHON_ONLY},
        {"hide-imports", no_argument, NULL, OPT_HIDE_IMPORTS},
        {"names", no_argument, NULL, OPT_NAMES},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"diff", no_argument, NULL, OPT_DIFF},
        {"trend", no_argument, NULL, OPT_TREND},
        {"by-pid", no_argument, NULL, OPT_BY_PID},
        {"false-leak-rate", required_argument, NULL, OPT_FALSE_LEAK_RATE},
        {"peak", required_argument, NULL, OPT_PEAK},
        {"timeline", no_argument, NULL, OPT_TIMELINE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->top = 10;
    o->group = GROUP_LINENO;
    o->format = FORMAT_TEXT;
    o->false_leak_rate = 0.01;
    optind = 0; /* full reset (GNU), so parsing can run more than once */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":n:g:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                snprintf(err, errlen, "invalid --top value '%s'", optarg);
                return CLI_USAGE;
            }
            o->top = (size_t)v;
            break;
        }
        case 'g':
            if (strcmp(optarg, "lineno") == 0)
                o->group = GROUP_LINENO;
            else if (strcmp(optarg, "filename") == 0)
                o->group = GROUP_FILENAME;
            else if (strcmp(optarg, "traceback") == 0)
                o->group = GROUP_TRACEBACK;
            else {
                snprintf(err, errlen, "unknown --group-by '%s' (lineno, filename or traceback)", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_CUMULATIVE: o->cumulative = 1; break;
        case OPT_INCLUSIVE: o->inclusive = 1; break;
        case OPT_HIDE_IMPORTS: o->hide_imports = 1; break;
        case OPT_NAMES: o->names = 1; break;
        case OPT_ALL_FRAMES: o->all_frames = 1; break;
        case OPT_INCLUDE:
        case OPT_EXCLUDE:
            if (add_filter(o, optarg, c == OPT_INCLUDE) < 0) {
                snprintf(err, errlen, "out of memory");
                return CLI_USAGE;
            }
            break;
        case OPT_DOMAIN:
        case OPT_EXCLUDE_DOMAIN: {
            domain_spec spec;
            if (domain_spec_parse(optarg, c == OPT_DOMAIN, &spec) < 0) {
                snprintf(err, errlen, "invalid %s '%s' (python, native, tracked or a domain number)",
                         c == OPT_DOMAIN ? "--domain" : "--exclude-domain", optarg);
                return CLI_USAGE;
            }
            if (add_domain(o, &spec) < 0) {
                snprintf(err, errlen, "out of memory");
                return CLI_USAGE;
            }
            break;
        }
        case OPT_DOMAIN_ROOTS: o->domain_roots = 1; break;
        case OPT_PYTHON_ONLY: o->python_only = 1; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                o->format = FORMAT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->format = FORMAT_JSON;
            else if (strcmp(optarg, "collapsed") == 0)
                o->format = FORMAT_COLLAPSED;
            else if (strcmp(optarg, "pprof") == 0)
                o->format = FORMAT_PPROF;
            else if (strcmp(optarg, "html") == 0)
                o->format = FORMAT_HTML;
            else {
                snprintf(err, errlen,
                         "unknown --format '%s' (text, json, collapsed, pprof or html)",
                         optarg);
                return CLI_USAGE;
            }
            break;
        case 'o': o->output = optarg; break;
        case OPT_DIFF: o->diff = 1; break;
        case OPT_TREND: o->trend = 1; break;
        case OPT_BY_PID: o->by_pid = 1; break;
        case OPT_PEAK: o->peak = optarg; break;
        case OPT_TIMELINE: o->timeline = 1; break;
        case OPT_FALSE_LEAK_RATE: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v > 0 && v < 1)) {
                snprintf(err, errlen, "invalid --false-leak-rate '%s' (a probability, 0 < P < 1)",
                         optarg);
                return CLI_USAGE;
            }
            o->false_leak_rate = v;
            break;
        }
        case 'h':
            cli_usage(out);
            return CLI_EXIT_OK;
        case OPT_VERSION:
            fprintf(out, "mprofile-report %s\n", MPROFILE_VERSION);
            return CLI_EXIT_OK;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return CLI_USAGE;
        default:
            snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (o->diff && o->trend) {
        snprintf(err, errlen, "--diff and --trend cannot be used together");
        return CLI_USAGE;
    }
    size_t nargs = (size_t)(argc - optind);
    if (o->diff && nargs != 2) {
        snprintf(err, errlen, "--diff needs two snapshots, OLD and NEW");
        return CLI_USAGE;
    }
    if (o->trend && nargs < 3) {
        /* A slope and the scatter around it need three points at least. */
        snprintf(err, errlen, "--trend needs at least three snapshots");
        return CLI_USAGE;
    }
    if (nargs == 0) {
        snprintf(err, errlen, "expected a snapshot file");
        return CLI_USAGE;
    }
    o->files = malloc(nargs * sizeof *o->files);
    if (!o->files) {
        snprintf(err, errlen, "out of memory");
        return CLI_USAGE;
    }
    memcpy(o->files, argv + optind, nargs * sizeof *o->files);
    o->nfiles = nargs;
    if (o->by_pid && o->diff) {
        snprintf(err, errlen, "--by-pid cannot be used with --diff");
        return CLI_USAGE;
    }
    if (html_args(o, err, errlen) < 0)
        return CLI_USAGE;
    if (o->trend && o->format == FORMAT_COLLAPSED) {
        snprintf(err, errlen, "--trend writes text or json, not collapsed stacks");
        return CLI_USAGE;
    }
    if (o->cumulative && o->group == GROUP_TRACEBACK) {
        /* Snapshot.statistics raises ValueError for this combination. */
        snprintf(err, errlen, "--cumulative cannot be used with --group-by traceback");
        return CLI_USAGE;
    }
    if (o->inclusive && o->cumulative) {
        snprintf(err, errlen, "--inclusive and --cumulative exclude each other");
        return CLI_USAGE;
    }
    if (o->inclusive && o->group == GROUP_TRACEBACK) {
        /* A traceback key is the whole stack: it is counted once already. */
        snprintf(err, errlen, "--inclusive cannot be used with --group-by traceback");
        return CLI_USAGE;
    }
    if (o->domain_roots && o->format != FORMAT_COLLAPSED) {
        snprintf(err, errlen, "--domain-roots needs --format collapsed");
        return CLI_USAGE;
    }
    /* A profile holds one snapshot: pprof compares (-diff_base) and merges
     * profiles itself, and a trend is not a profile. */
    if (o->diff && o->format == FORMAT_PPROF) {
        snprintf(err, errlen, "--format pprof cannot be used with --diff "
                              "(write both profiles and run go tool pprof -diff_base OLD NEW)");
        return CLI_USAGE;
    }
    if (o->trend && o->format == FORMAT_PPROF) {
        snprintf(err, errlen, "--trend writes text or json, not a pprof profile");
        return CLI_USAGE;
    }
    if ((o->nfiles > 1 || o->by_pid) && o->format == FORMAT_PPROF) {
        snprintf(err, errlen, "--format pprof takes one snapshot (write one profile per snapshot; "
                              "go tool pprof -proto A B > AB.pb.gz merges them)");
        return CLI_USAGE;
    }
    return CLI_RUN;
}
