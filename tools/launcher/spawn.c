/*
 * mprofile-spawn (installed as libexec/mprofile/spawn): how the launcher starts the program as
 * its child (docs/launcher.md).
 *
 *   spawn LAUNCHER_PID STDIN_FD PROGRAM [ARG...]
 *
 * The launcher is a POSIX sh script that must start the program in the background ("&") to be
 * able to forward signals while it waits. Without job control, sh gives a background command
 * SIGINT and SIGQUIT ignored and stdin from /dev/null (POSIX, Shell Command Language 2.9.3),
 * and dash does not let the command's own shell code undo the first. A program started that
 * way would ignore Ctrl-C (CPython installs its KeyboardInterrupt handler only over the default
 * action) and could not read its input. This helper puts both back, then execs the program:
 *
 * - stdin: STDIN_FD is the launcher's stdin, which the launcher duplicated to a descriptor it
 *   does not otherwise use; it becomes descriptor 0 again and STDIN_FD is closed, so the program
 *   gets exactly the launcher's descriptors.
 * - SIGINT, SIGQUIT: back to the default action unless the launcher itself ignores them (it was
 *   started with them ignored, under nohup or from a background job of another script: the
 *   program must then ignore them too). The launcher traps them, so the signals it ignores are
 *   the ones it was started with (SigIgn in /proc/LAUNCHER_PID/status).
 *
 * Exit status when the program cannot be run, as the shell's: 127 not found, 126 otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The launcher's set of ignored signals, or 0 (none) when it cannot be read. */
static unsigned long long
ignored_by(const char *pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    unsigned long long mask = 0;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "SigIgn: %llx", &mask) == 1) {
            break;
        }
    }
    fclose(f);
    return mask;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: spawn LAUNCHER_PID STDIN_FD PROGRAM [ARG...]\n", stderr);
        return 2;
    }
    char *end;
    long fd = strtol(argv[2], &end, 10);
    if (*end != '\0' || fd < 3) {
        fprintf(stderr, "mprofile: spawn: bad descriptor %s\n", argv[2]);
        return 2;
    }
    if (dup2((int)fd, 0) < 0 || close((int)fd) < 0) {
        fprintf(stderr, "mprofile: spawn: stdin: %s\n", strerror(errno));
        return 126;
    }
    unsigned long long ignored = ignored_by(argv[1]);
    const int sigs[] = {SIGINT, SIGQUIT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if ((ignored & (1ULL << (sigs[i] - 1))) == 0) {
            signal(sigs[i], SIG_DFL);
        }
    }
    execvp(argv[3], argv + 3);
    int saved = errno;
    fprintf(stderr, "mprofile: %s: %s\n", argv[3], strerror(saved));
    return saved == ENOENT ? 127 : 126;
}
