/*
 * `mprofile attach` and `mprofile detach` inside the target (attach.h, docs/attach.md).
 *
 * Two ways in. On 3.14+ a script run by sys.remote_exec (main thread, GIL held, a point where
 * Python code may run) calls mprofile_attach() or mprofile_detach() directly and reports the
 * outcome itself. On 3.11 to 3.13 a debugger stops a thread at the entry of an allocator, where
 * it holds no allocator or loader lock, loads the library and calls mprofile_attach_request() or
 * mprofile_detach_request(): those only copy the settings and queue a pending call
 * (Py_AddPendingCall), which the main thread runs with the GIL at its next check of the eval
 * breaker; the pending call writes the outcome to the result file named in the settings.
 *
 * Neither way starts a thread or prints anything in the program.
 */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "init.h"
#include "log.h"
#include "outpath.h"
#include "output.h"
#include "profiler.h"

#include "mprofile/mprofile.h"

MPROFILE_API int mprofile_attach(const char *settings);
MPROFILE_API int mprofile_detach(void);
MPROFILE_API const char *mprofile_attach_message(void);
MPROFILE_API int mprofile_attach_request(const char *settings);
MPROFILE_API int mprofile_detach_request(const char *settings);

#define MAX_SETTINGS 64

/* The settings being applied, split in place. GIL held (one request at a time). */
static char text[MP_ATTACH_SETTINGS_MAX];
static const char *names[MAX_SETTINGS];
static const char *values[MAX_SETTINGS];
static int count;

/* The outcome of the last attach or detach, for mprofile_attach_message(). GIL held. */
static char message[768];

/* attached: sampling started by an attach and not detached since. ever_attached: the tables,
 * hooks, signal handler and interposers were set up by an attach (not by the preload or the
 * program), so a later attach may start them again with the settings of the first. GIL held. */
static int attached;
static int ever_attached;

/* Requests queued by the debugger for the pending call. A slot is free (0), being filled by
 * the debugger's call (1) or queued (2); the pending call frees it. Slots of requests that the
 * tool gave up on stay queued until the main thread runs them (and they do nothing). */
enum { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED };
enum { REQUEST_ATTACH, REQUEST_DETACH };
#define SLOTS 4
static struct {
    atomic_int state;
    int kind;
    char text[MP_ATTACH_SETTINGS_MAX];
} slots[SLOTS];

/* Splits settings into the table. Returns 0, or -EINVAL with the reason in message. */
static int
parse_settings(const char *settings)
{
    count = 0;
    size_t len = strlen(settings);
    if (len >= sizeof(text)) {
        snprintf(message, sizeof(message), "the settings are too long (%zu bytes, at most %zu)",
                 len, sizeof(text) - 1);
        return -EINVAL;
    }
    memcpy(text, settings, len + 1);
    for (char *line = text; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (*line != '\0') {
            char *eq = strchr(line, '=');
            if (eq == NULL || strncmp(line, "MPROFILE_", 9) != 0 || count == MAX_SETTINGS) {
                snprintf(message, sizeof(message), "invalid setting line %.100s", line);
                return -EINVAL;
            }
            *eq = '\0';
            names[count] = line;
            values[count] = eq + 1;
            count++;
        }
        line = next;
    }
    return 0;
}

/* The lookup mp_config_parse reads the settings with, in place of getenv. GIL held. */
static const char *
lookup(const char *name)
{
    for (int i = count - 1; i >= 0; i--) {
        if (strcmp(names[i], name) == 0) {
            return values[i];
        }
    }
    return NULL;
}

/* The settings' MPROFILE_OUT made absolute against the program's working directory (the tool
 * passes absolute patterns; this is for other callers). Returns 0 or -1 with message set. */
static int
absolute_out(mp_config_t *cfg)
{
    char cwd[PATH_MAX];
    if (cfg->out[0] == '/') {
        return 0;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL || mp_config_absolute_out(cfg, cwd) < 0) {
        snprintf(message, sizeof(message),
                 "MPROFILE_OUT=%.200s: cannot be made absolute in the program's working "
                 "directory",
                 cfg->out);
        return -1;
    }
    return 0;
}

/* A setting that needs the start-up work done once (signal handler, interposers, unwinder)
 * cannot differ from the first attach's. Returns 0 or -EINVAL with message set. */
static int
same_setup(const mp_config_t *cfg)
{
    const mp_config_t *old = &mp_profiler.config;
    const char *name = NULL;
    if (cfg->signal != old->signal) {
        name = "MPROFILE_SIGNAL";
    } else if (cfg->native != old->native) {
        name = "MPROFILE_NATIVE";
    } else if (cfg->mixed != old->mixed) {
        name = "MPROFILE_STACKS";
    } else if (cfg->native_frames != old->native_frames) {
        name = "MPROFILE_NATIVE_FRAMES";
    }
    if (name == NULL) {
        return 0;
    }
    snprintf(message, sizeof(message),
             "%s cannot change after the first attach to this process (it set up signal "
             "handlers or interposers that stay)",
             name);
    return -EINVAL;
}

/* mprofile_attach on the parsed table. GIL held. */
static int
attach_parsed(void)
{
    mp_profiler_t *P = &mp_profiler;
    mp_config_t cfg;
    char err[512];
    if (P->api.layout == NULL) {
        const char *v = P->api.Py_GetVersion ? P->api.Py_GetVersion() : "unknown";
        snprintf(message, sizeof(message),
                 "Python %.*s is not supported (%s; CPython 3.11 to 3.15 with the GIL are), or "
                 "the library is off in this process",
                 (int)strcspn(v, " "), v,
                 P->api.unsupported_reason ? P->api.unsupported_reason : "setuid or bad settings");
        return -ENOTSUP;
    }
    if (attached) {
        snprintf(message, sizeof(message), "already attached (sampling every %llu bytes)",
                 (unsigned long long)atomic_load(&P->rate));
        return -EALREADY;
    }
    if (atomic_load(&P->enabled) || (atomic_load(&P->active) && !ever_attached)) {
        snprintf(message, sizeof(message),
                 "the profiler was started in this process already (preloaded, or by the "
                 "program through the API)");
        return -EALREADY;
    }
    if (mp_config_parse(&cfg, lookup, err, sizeof(err)) < 0) {
        snprintf(message, sizeof(message), "%s", err);
        return -EINVAL;
    }
    if (cfg.rate == 0) {
        snprintf(message, sizeof(message), "MPROFILE_RATE=0: attaching needs a sampling rate");
        return -EINVAL;
    }
    if (absolute_out(&cfg) < 0) {
        return -EINVAL;
    }
    if (mp_outpath_check(cfg.out, err, sizeof(err)) < 0) {
        snprintf(message, sizeof(message), "%s", err);
        return -EACCES;
    }
    if (ever_attached && same_setup(&cfg) < 0) {
        return -EINVAL;
    }
    /* Sampling is off here, so no thread reads the configuration's fields that change. */
    P->config = cfg;
    mp_log_set_level(cfg.log_level);
    int rc = mp_init_late_start();
    if (rc < 0) {
        snprintf(message, sizeof(message), "cannot start the profiler (%s)", strerror(-rc));
        return rc;
    }
    ever_attached = 1;
    attached = 1;
    atomic_store(&P->rate, cfg.rate);
    atomic_store(&P->max_frames, cfg.frames);
    atomic_store(&P->enabled, 1);
    /* This thread samples from its next allocation; others within MP_IDLE_RECHECK_BYTES. */
    mp_hooks_reset_thread();
    snprintf(message, sizeof(message), "profiling Python %.31s, one sample per %llu bytes, to %.600s",
             P->python_version, (unsigned long long)cfg.rate, cfg.out);
    mp_log(MP_LOG_INFO, "attached: %s", message);
    return 0;
}

/*
 * API context, GIL held, at a point where Python code may run (a sys.remote_exec script, a
 * pending call): applies the settings (newline-separated MPROFILE_NAME=value lines; the
 * program's environment is not read) and starts sampling, with the exit snapshot on unless
 * MPROFILE_AT_EXIT=0. Returns 0, -EINVAL (bad settings), -EACCES (the output directory),
 * -EALREADY (attached, preloaded, or started by the program), -ENOTSUP (an interpreter the
 * profiler cannot read) or -ENOMEM; the reason is in mprofile_attach_message().
 */
MPROFILE_API int
mprofile_attach(const char *settings)
{
    if (settings == NULL) {
        settings = "";
    }
    int rc = parse_settings(settings);
    return rc < 0 ? rc : attach_parsed();
}

/*
 * API context, GIL held: stops sampling, writes the snapshot under MPROFILE_OUT's next name and
 * turns the exit snapshot off. The hooks stay installed and pass every call through; the
 * tables are emptied. Returns 0, -ENOENT when not attached, or the snapshot's -errno (sampling
 * is stopped all the same); the outcome is in mprofile_attach_message().
 */
MPROFILE_API int
mprofile_detach(void)
{
    mp_profiler_t *P = &mp_profiler;
    if (!attached) {
        snprintf(message, sizeof(message), "not attached");
        return -ENOENT;
    }
    atomic_store(&P->enabled, 0);
    int rc = mp_output_write(NULL, 0);
    P->config.at_exit = 0;
    attached = 0;
    mp_profiler_clear();
    if (rc == 0) {
        snprintf(message, sizeof(message), "detached; snapshot written");
    } else {
        snprintf(message, sizeof(message), "detached; the snapshot could not be written (%s)",
                 strerror(rc < 0 ? -rc : EBUSY));
    }
    mp_log(MP_LOG_INFO, "%s", message);
    return rc < 0 ? rc : 0;
}

/* API context, GIL held: what the last attach or detach did or why it failed (one line, valid
 * until the next one). */
MPROFILE_API const char *
mprofile_attach_message(void)
{
    return message;
}

/* Writes "<rc>\n<message>\n" to path through a temporary file renamed into place, so that the
 * tool never reads half of it. GIL held. */
static void
write_result(const char *path, int rc)
{
    char tmp[PATH_MAX];
    char line[sizeof(message) + 32];
    if (path == NULL || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return;
    }
    int len = snprintf(line, sizeof(line), "%d\n%s\n", rc, message);
    if (len >= (int)sizeof(line)) {
        len = (int)sizeof(line) - 1;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    ssize_t n = write(fd, line, (size_t)len);
    if (close(fd) == 0 && n == len) {
        rename(tmp, path);
    } else {
        unlink(tmp);
    }
}

/* The pending call: main thread, GIL held, a point where Python code may run. Runs the request
 * if its ticket is still there (the tool did not give up), writes the outcome, frees the slot.
 * Returns 0 always: a pending call that fails would raise in the program. */
static int
run_request(void *arg)
{
    int slot = (int)(intptr_t)arg;
    char result[PATH_MAX];
    int rc = parse_settings(slots[slot].text);
    const char *ticket = rc == 0 ? lookup("MPROFILE_ATTACH_TICKET") : NULL;
    const char *path = rc == 0 ? lookup("MPROFILE_ATTACH_RESULT") : NULL;
    int have_result = path != NULL && strlen(path) < sizeof(result);
    if (have_result) {
        memcpy(result, path, strlen(path) + 1);
    }
    if (ticket != NULL && unlink(ticket) < 0) {
        atomic_store(&slots[slot].state, SLOT_FREE);
        return 0; /* the tool gave up on this request: nothing at all happens */
    }
    if (rc == 0) {
        rc = slots[slot].kind == REQUEST_ATTACH ? attach_parsed() : mprofile_detach();
    }
    atomic_store(&slots[slot].state, SLOT_FREE);
    if (have_result) {
        write_result(result, rc);
    }
    return 0;
}

/* Debugger context (see the file's comment): any thread, GIL maybe not held, stopped at the
 * entry of an allocator. Copies the settings and queues the pending call. */
static int
queue_request(int kind, const char *settings)
{
    if (mp_profiler.api.Py_AddPendingCall == NULL) {
        return -ENOSYS;
    }
    if (settings == NULL || strlen(settings) >= MP_ATTACH_SETTINGS_MAX) {
        return -EINVAL;
    }
    for (int i = 0; i < SLOTS; i++) {
        int expected = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, SLOT_FILLING)) {
            continue;
        }
        slots[i].kind = kind;
        memcpy(slots[i].text, settings, strlen(settings) + 1);
        atomic_store(&slots[i].state, SLOT_QUEUED);
        if (mp_profiler.api.Py_AddPendingCall(run_request, (void *)(intptr_t)i) != 0) {
            atomic_store(&slots[i].state, SLOT_FREE);
            return -EAGAIN; /* the interpreter's queue of pending calls is full */
        }
        return 0;
    }
    return -EBUSY; /* earlier requests still wait for the main thread */
}

/*
 * Debugger context: a thread stopped by a debugger where it holds no allocator, loader or
 * interpreter lock (the entry of PyObject_Malloc and the like), GIL held or not. Queues
 * mprofile_attach(settings) as a pending call for the main thread and returns at once: 0,
 * -EINVAL (settings too long), -EBUSY or -EAGAIN (queues full), -ENOSYS (no Py_AddPendingCall).
 * The outcome goes to MPROFILE_ATTACH_RESULT; MPROFILE_ATTACH_TICKET makes it cancellable.
 */
MPROFILE_API int
mprofile_attach_request(const char *settings)
{
    return queue_request(REQUEST_ATTACH, settings);
}

/* Debugger context: as mprofile_attach_request, for mprofile_detach(). The settings only need
 * the MPROFILE_ATTACH_RESULT and MPROFILE_ATTACH_TICKET lines. */
MPROFILE_API int
mprofile_detach_request(const char *settings)
{
    return queue_request(REQUEST_DETACH, settings);
}
