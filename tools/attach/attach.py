#!/usr/bin/python3
"""mprofile attach / mprofile detach: profile a Python process that was started without the
preloaded library (docs/attach.md).

    attach attach PID [OPTION...]
    attach detach PID [OPTION...]

Python 3.14 and later: a script run in the target by sys.remote_exec (PEP 768), sent by the
target's own interpreter, loads libmprofile.so with ctypes and starts it. Python 3.11 to 3.13:
gdb stops a thread of the target at the entry of one of the interpreter's allocator or GIL
functions (where it holds no allocator or loader lock), loads the library with dlopen and asks
it to queue a pending call (Py_AddPendingCall), which the main thread runs with the GIL. Either
way the outcome comes back through a result file in a private directory under the target's
/tmp, and a request that does not run within --timeout is cancelled through its ticket file:
it will do nothing if it ever runs.

Runs under any Python 3.7+ (Debian's /usr/bin/python3); needs gdb for 3.11 to 3.13.
"""
import argparse
import json
import math
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

# The build tree names the library by its absolute path, an install tree relative to this
# script's directory, so that the tree can move (cmake/InstallPaths.cmake).
LIBRARY = os.environ.get("MPROFILE_LIBRARY") or os.path.normpath(os.path.join(
    os.path.dirname(os.path.realpath(__file__)), "@MPROFILE_LIBRARY@"))
GDB = os.environ.get("MPROFILE_GDB") or "/usr/bin/gdb"
SUPPORTED = ((3, 11), (3, 15))
DEFAULT_OUT = "mprofile.%p.%n.snap"

# Entry points where a stopped thread holds no allocator, loader or interpreter lock: the
# interpreter's allocator functions (every Python program calls them all the time) and the
# GIL's release and re-acquisition (a thread around a blocking call). Not libc's malloc: the
# dynamic loader allocates while it holds its own lock, and dlopen from there would nest.
SAFE_POINTS = ("PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "PyObject_Free",
               "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyMem_Free",
               "PyMem_RawMalloc", "PyMem_RawFree", "PyEval_SaveThread", "PyEval_RestoreThread")


class Failure(Exception):
    """One line for the user; the tool exits with status 1."""


def say(text):
    print("mprofile: " + text, file=sys.stderr, flush=True)


# --- the target ---------------------------------------------------------------------------

class Target:
    def __init__(self, pid):
        self.pid = pid
        self.proc = "/proc/%d" % pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise Failure("no such process: %d" % pid)
        except PermissionError:
            pass  # another user's: said below, with the reason
        try:
            with open(self.proc + "/status") as f:
                status = f.read()
        except FileNotFoundError:
            raise Failure("no such process: %d" % pid)
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.name = fields.get("Name", "?").strip()
        self.uid = int(fields["Uid"].split()[1])
        self.gid = int(fields["Gid"].split()[1])
        self.nspid = int(fields.get("NSpid", str(pid)).split()[-1])
        if fields.get("State", "").split()[:1] == ["Z"]:
            raise Failure("process %d (%s) has exited (a zombie)" % (pid, self.name))
        try:
            with open(self.proc + "/maps") as f:
                self.maps = f.read().splitlines()
            self.exe = os.readlink(self.proc + "/exe")
        except PermissionError:
            raise Failure(self.permission_message())
        except FileNotFoundError:
            raise Failure("no such process: %d" % pid)
        self.root = self.proc + "/root"
        try:
            self.same_root = os.path.samestat(os.stat("/"), os.stat(self.root))
        except OSError:
            self.same_root = False

    def permission_message(self):
        why = []
        if self.uid != os.geteuid() and os.geteuid() != 0:
            why.append("it belongs to uid %d" % self.uid)
        try:
            with open("/proc/sys/kernel/yama/ptrace_scope") as f:
                scope = f.read().strip()
            if scope != "0" and os.geteuid() != 0:
                why.append("kernel.yama.ptrace_scope is %s" % scope)
        except OSError:
            pass
        return ("not permitted to trace process %d (%s)%s: run as its owner with "
                "kernel.yama.ptrace_scope=0, or as root / with CAP_SYS_PTRACE"
                % (self.pid, self.name, ": " + ", ".join(why) if why else ""))

    def path_in_target(self, path):
        """A path of the target's view, seen from here."""
        return self.root + path

    def mapped_files(self):
        files = []
        for line in self.maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/") and parts[5] not in files:
                files.append(parts[5])
        return files

    def python(self):
        """(major, minor, hex) from the Py_Version symbol of the executable or libpython."""
        candidates = [self.proc + "/exe"]
        candidates += [self.path_in_target(p) for p in self.mapped_files()
                       if "libpython" in os.path.basename(p)]
        older = False
        for path in candidates:
            try:
                symbols = elf_symbols(path, ("Py_Version", "Py_Initialize", "Py_AddPendingCall"))
            except (OSError, ValueError):
                continue
            if "Py_Version" in symbols:
                return symbols["Py_Version"]
            older = older or "Py_Initialize" in symbols
        if older:
            raise Failure("process %d (%s) runs a Python older than 3.11, which is not "
                          "supported (CPython 3.11 to 3.15)" % (self.pid, self.name))
        raise Failure("process %d (%s) is not a Python process" % (self.pid, self.name))

    def loaded_library(self):
        for path in self.mapped_files():
            if os.path.basename(path).startswith("libmprofile"):
                return path
        return None

    def alive(self):
        try:
            with open(self.proc + "/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False


def elf_symbols(path, wanted):
    """{name: value} of the dynamic symbols named in wanted; Py_Version's value is read from
    the file (the PY_VERSION_HEX it holds). 64-bit little-endian ELF only."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF file")
        phoff, shoff = struct.unpack_from("<QQ", head, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", head, 54)
        f.seek(shoff)
        sections = [struct.unpack("<IIQQQQIIQQ", f.read(shentsize)[:64]) for _ in range(shnum)]
        f.seek(phoff)
        segments = [struct.unpack("<IIQQQQQQ", f.read(phentsize)[:56]) for _ in range(phnum)]
        found = {}
        for sec in sections:
            if sec[1] != 11:  # SHT_DYNSYM
                continue
            strtab = sections[sec[6]]
            f.seek(strtab[4])
            names = f.read(strtab[5])
            f.seek(sec[4])
            data = f.read(sec[5])
            for off in range(0, len(data) - 23, 24):
                st_name, _info, _other, shndx, value, _size = struct.unpack_from(
                    "<IBBHQQ", data, off)
                if shndx == 0:
                    continue  # undefined here
                end = names.index(b"\0", st_name)
                name = names[st_name:end].decode("latin-1")
                if name in wanted:
                    found[name] = value
        if "Py_Version" in found:
            vaddr = found["Py_Version"]
            for seg in segments:
                if seg[0] == 1 and seg[3] <= vaddr < seg[3] + seg[5]:  # PT_LOAD, in the file
                    f.seek(seg[2] + vaddr - seg[3])
                    hexversion = struct.unpack("<Q", f.read(8))[0]
                    found["Py_Version"] = ((hexversion >> 24) & 0xFF, (hexversion >> 16) & 0xFF,
                                           hexversion)
                    break
            else:
                del found["Py_Version"]
        return found


# --- files in the target's view -------------------------------------------------------------

class Session:
    """A private directory under the target's /tmp for the script, the ticket and the result;
    owned by the target's user so that the target can write there.

    Once it is the target user's, that user may rename it and put a link in its place: every
    file operation therefore goes through a descriptor of the directory opened when it was made
    (never through its path), with the last component never followed, and the result is read
    only from a regular file."""

    def __init__(self, target):
        self.target = target
        base = target.path_in_target("/tmp")
        try:
            self.here = tempfile.mkdtemp(prefix="mprofile-attach.", dir=base)
            self.dir_fd = os.open(self.here, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as e:
            raise Failure("cannot make a directory in process %d's /tmp (%s): %s"
                          % (target.pid, base, e.strerror))
        self.there = self.here[len(target.root):]
        if os.geteuid() == 0 and self.target.uid != 0:
            os.fchown(self.dir_fd, self.target.uid, self.target.gid)
        self.keep = False

    def write(self, name, text, mode=0o600):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode,
                     dir_fd=self.dir_fd)
        with os.fdopen(fd, "w") as f:
            if os.geteuid() == 0 and self.target.uid != 0:
                os.fchown(f.fileno(), self.target.uid, self.target.gid)
            f.write(text)
        return self.there + "/" + name

    def cancel(self):
        """Takes the ticket back. True: the request will never run; False: the target took it."""
        try:
            os.unlink("ticket", dir_fd=self.dir_fd)
            return True
        except FileNotFoundError:
            return False

    def read_result(self):
        """The result file's text, or None while there is none."""
        try:
            fd = os.open("result", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK,
                         dir_fd=self.dir_fd)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Failure("cannot read the outcome in process %d: %s"
                          % (self.target.pid, e.strerror))
        with os.fdopen(fd) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise Failure("the outcome in process %d is not a file" % self.target.pid)
            return f.read(4096)

    def wait_result(self, timeout):
        end = time.monotonic() + timeout
        while True:
            text = self.read_result()
            if text is not None:
                lines = text.split("\n")
                try:
                    return int(lines[0]), lines[1], lines[2:]
                except (ValueError, IndexError):
                    raise Failure("the outcome in process %d cannot be read" % self.target.pid)
            if time.monotonic() > end or not self.target.alive():
                return None
            time.sleep(0.005)

    def close(self):
        if not self.keep:
            # By the names inside the directory we made, never by its path.
            for name in os.listdir(self.dir_fd):
                try:
                    os.unlink(name, dir_fd=self.dir_fd)
                except OSError:
                    pass
            try:
                os.rmdir(self.here)
            except OSError:
                pass
        os.close(self.dir_fd)


def library_for(target):
    """The library's path in the target's view: the target sees the tool's files (find_target
    refuses another mount namespace), so it is the library itself."""
    try:
        if os.path.samestat(os.stat(LIBRARY), os.stat(target.path_in_target(LIBRARY))):
            return LIBRARY
    except OSError:
        pass
    raise Failure("process %d does not see %s" % (target.pid, LIBRARY))


def c_string(text):
    """A C string literal for gdb."""
    out = []
    for byte in text.encode():
        ch = chr(byte)
        if ch in '"\\' or byte < 0x20 or byte >= 0x7F:
            out.append("\\%03o" % byte)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# --- 3.14+: sys.remote_exec -----------------------------------------------------------------

SCRIPT = r'''
def _mprofile_attach():
    import os
    import time
    started = time.monotonic()
    try:
        os.unlink(%(ticket)r)
    except OSError:
        # The tool gave up waiting: do nothing at all.
        for path in (%(script)r,):
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(os.path.dirname(%(script)r))
        except OSError:
            pass
        return
    rc, text = -5, "unknown failure"
    try:
        import ctypes
        lib = ctypes.CDLL(%(library)r)
        message = lib.mprofile_attach_message
        message.restype = ctypes.c_char_p
        if %(kind)r == "attach":
            call = lib.mprofile_attach
            call.argtypes = [ctypes.c_char_p]
            rc = call(%(settings)r)
        else:
            rc = lib.mprofile_detach()
        text = (message() or b"").decode("utf-8", "replace")
    except Exception as exc:
        text = "cannot load %%s: %%s" %% (%(library)r, exc)
    try:
        with open(%(result)r + ".tmp", "w") as f:
            f.write("%%d\n%%s\n%%.6f\n" %% (rc, text.replace("\n", " "), time.monotonic() - started))
        os.rename(%(result)r + ".tmp", %(result)r)
        os.unlink(%(script)r)
    except Exception:
        pass


_mprofile_attach()
'''


def run_gdb(cmd, timeout):
    """gdb's output. gdb runs in a session of its own and is never killed in the middle of its
    work: a Ctrl-C at the terminal does not reach it and is ignored here until it is done (it
    has its own timeout, and leaves the target as it was), and past timeout it is asked to quit
    (SIGTERM: it detaches), and killed only if it does not."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise Failure("gdb did not finish within %d s; it was stopped" % timeout)
        return out
    finally:
        signal.signal(signal.SIGINT, previous)


def remote_exec(target, session, kind, library, settings, version, verbose):
    script_there = os.path.join(session.there, "request.py")
    text = SCRIPT % {"ticket": session.there + "/ticket", "result": session.there + "/result",
                     "script": script_there, "library": library, "kind": kind,
                     "settings": settings.encode()}
    session.write("request.py", text, 0o600)
    session.write("ticket", "")
    # The target's own interpreter (remote_exec needs the same minor version), isolated from
    # the environment so that nothing of the user's (PYTHONPATH, site) runs in it. It is the
    # target user's code (the binary, its libpython and stdlib may be theirs), so it runs with
    # the target's user and groups, never with the tool's privileges; and only when the tool
    # sees the same files as the target (a container's binary is not run on the host).
    if not os.path.exists(target.exe):  # another mount namespace was refused by find_target
        raise Failure("the interpreter of process %d (%s) is gone from disk"
                      % (target.pid, target.exe))
    exe = target.exe
    code = "import sys; sys.remote_exec(int(sys.argv[1]), sys.argv[2])"
    cmd = [exe, "-I", "-S", "-c", code, str(target.pid), script_there]
    as_target = {}
    if os.geteuid() != target.uid:
        as_target = {"user": target.uid, "group": target.gid, "extra_groups": []}
    if verbose:
        say("running " + " ".join(cmd) + (" as uid %d" % target.uid if as_target else ""))
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=60, **as_target)
    except subprocess.TimeoutExpired:
        raise Failure("sys.remote_exec into process %d did not return within 60 s" % target.pid)
    except OSError as exc:
        raise Failure("cannot run %s as uid %d: %s" % (exe, target.uid, exc.strerror))
    if verbose:
        say("sys.remote_exec took %.1f ms" % ((time.monotonic() - started) * 1000))
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
        if "Remote debugging is not enabled" in last:
            raise Failure("remote debugging is disabled in process %d (PYTHON_DISABLE_REMOTE_DEBUG, "
                          "-X disable-remote-debug, or an interpreter built without it)"
                          % target.pid)
        if "PermissionError" in last or "Operation not permitted" in last:
            raise Failure(target.permission_message())
        if "remote_exec" in last and "AttributeError" in last:
            raise Failure("the interpreter of process %d has no sys.remote_exec" % target.pid)
        raise Failure("sys.remote_exec into process %d failed: %s" % (target.pid, last))


# --- 3.11 to 3.13: gdb ----------------------------------------------------------------------

GDB_DRIVER = r'''
import json, os, subprocess, time
import gdb

P = json.loads(%(params)r)


def event(kind, **kw):
    kw["event"] = kind
    kw["t"] = time.monotonic()
    print("@mprofile " + json.dumps(kw), flush=True)


def ours():
    """A SIGURG stop sent by the timeout's process, not one of the program's own."""
    try:
        return int(gdb.parse_and_eval("$_siginfo._sifields._kill.si_pid")) == helper_pid[0]
    except gdb.error:
        return True


def urg_pending():
    """Whether a SIGURG is pending in the target (for the process or one of its threads)."""
    bit = 1 << (23 - 1)
    try:
        tasks = os.listdir("/proc/%%d/task" %% P["pid"])
    except OSError:
        return False
    for task in tasks:
        try:
            with open("/proc/%%d/task/%%s/status" %% (P["pid"], task)) as f:
                for line in f:
                    if line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16) & bit:
                        return True
        except OSError:
            pass
    return False


helper_pid = [0]
# Minimal symbols only (no debug information is read): calls name their types.
DLOPEN = "((void *(*)(const char *, int)) dlopen)(%%s, %%d)"
DLSYM = "((void *(*)(void *, const char *)) dlsym)((void *) %%d, \"mprofile_%%s_request\")"


def stop_helper(helper):
    """Kills the timeout's shell and its sleep, and reaps the shell: no SIGURG comes after."""
    try:
        os.killpg(helper.pid, 9)
    except OSError:
        pass
    helper.wait()


def main():
    for cmd in ("set pagination off", "set confirm off", "set width 0", "set height 0",
                "set print thread-events off", "set print inferior-events off",
                "set unwindonsignal on", "set breakpoint pending off",
                # The program's signals go to it, unseen: only the timeout's stops gdb.
                "handle all nostop noprint pass", "handle SIGINT nostop noprint pass",
                "handle SIGURG stop print nopass"):
        gdb.execute(cmd, to_string=True)
    event("attaching")
    try:
        gdb.execute("attach %%d" %% P["pid"], to_string=True)
    except gdb.error as e:
        event("error", stage="attach", message=str(e))
        return
    # Symbols of the C library (dlopen) and of libpython when the interpreter is not in the
    # executable; not of every extension module.
    gdb.execute("sharedlibrary libc[.]so", to_string=True)
    gdb.execute("sharedlibrary libpython3", to_string=True)
    event("attached")
    stops = []
    gdb.events.stop.connect(stops.append)
    points = []
    for name in P["safe_points"]:
        try:
            points.append(gdb.Breakpoint(name, internal=True))
        except (gdb.error, RuntimeError):
            pass
    if not points:
        event("error", stage="breakpoints", message="none of the safe points was found")
        gdb.execute("detach", to_string=True)
        return
    # The timeout: gdb's Python keeps its interpreter lock while the target runs, so no thread
    # of it can act then. A child process sends SIGURG (a signal gdb stops on and never passes)
    # after the timeout; once the wait is over it is killed and reaped, after which no signal
    # of it can arrive any more, and one it sent is either the stop just seen or pending.
    helper = subprocess.Popen(["/bin/sh", "-c", "sleep %%s && kill -URG %%d"
                               %% (P["timeout"], P["pid"])],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    helper_pid[0] = helper.pid
    event("running")
    safe = None
    timed_out = False
    while True:
        del stops[:]
        try:
            gdb.execute("continue", to_string=True)
        except gdb.error as e:
            stop_helper(helper)
            event("exited", message=str(e))
            return
        if gdb.selected_inferior().pid == 0:
            stop_helper(helper)
            event("exited")
            return
        stop = stops[-1] if stops else None
        if isinstance(stop, gdb.BreakpointEvent):
            safe = stop.breakpoints[0].location
            break
        if isinstance(stop, gdb.SignalEvent) and stop.stop_signal == "SIGURG":
            if ours():
                timed_out = True
                break
            gdb.execute("queue-signal SIGURG", to_string=True)
    stop_helper(helper)
    for point in points:
        point.delete()
    if timed_out:
        event("timeout")
        gdb.execute("detach", to_string=True)
        event("detached")
        return
    event("safe_point", function=safe,
          thread=gdb.selected_thread().ptid[1])
    try:
        if P["kind"] == "attach":
            handle = int(gdb.parse_and_eval(DLOPEN %% (P["library"], 2)))
        else:
            handle = int(gdb.parse_and_eval(DLOPEN %% (P["library"], 6)))  # RTLD_NOLOAD
        if handle == 0:
            why = gdb.parse_and_eval("((char *(*)(void)) dlerror)()")
            event("error", stage="dlopen", message=why.string() if int(why) else "not loaded")
        else:
            fn = int(gdb.parse_and_eval(DLSYM %% (handle, P["kind"])))
            if fn == 0:
                event("error", stage="dlsym", message="mprofile_%%s_request not found" %% P["kind"])
            else:
                rc = int(gdb.parse_and_eval("((int (*)(const char *)) %%d)(%%s)"
                                            %% (fn, P["settings"])))
                event("requested", rc=rc)
    except gdb.error as e:
        event("error", stage="call", message=str(e))
    if urg_pending():
        # The timeout's signal crossed the safe point: take it (nopass) before leaving.
        for _ in range(100):
            del stops[:]
            gdb.execute("continue", to_string=True)
            if gdb.selected_inferior().pid == 0 or any(
                    isinstance(s, gdb.SignalEvent) and s.stop_signal == "SIGURG" for s in stops):
                break
    if gdb.selected_inferior().pid != 0:
        gdb.execute("detach", to_string=True)
    event("detached")


try:
    main()
except Exception as e:
    event("error", stage="driver", message="%%s: %%s" %% (type(e).__name__, e))
'''


def gdb_request(target, session, kind, library, settings, timeout, verbose):
    if not os.access(GDB, os.X_OK):
        raise Failure("attaching to Python %s needs gdb (%s is missing)"
                      % (".".join(map(str, target.version[:2])), GDB))
    session.write("ticket", "")
    params = {"pid": target.pid, "kind": kind, "library": c_string(library),
              "settings": c_string(settings), "timeout": timeout, "safe_points": SAFE_POINTS}
    # The driver is read by gdb, here: it goes to our own temporary directory.
    with tempfile.NamedTemporaryFile("w", prefix="mprofile-gdb.", suffix=".py") as driver:
        driver.write(GDB_DRIVER % {"params": json.dumps(params)})
        driver.flush()
        cmd = [GDB, "-nx", "-nh", "-batch", "-q", "-readnever",
               "-iex", "set debuginfod enabled off", "-iex", "set auto-load off",
               "-iex", "set auto-solib-add off",
               "-x", driver.name]
        if verbose:
            say("running " + " ".join(cmd))
        started = time.monotonic()
        output = run_gdb(cmd, timeout + 60)
    events = []
    for line in output.splitlines():
        if line.startswith("@mprofile "):
            events.append(json.loads(line[len("@mprofile "):]))
        elif verbose:
            say("gdb: " + line)
    times = {e["event"]: e["t"] for e in events}
    if verbose and "attaching" in times and "running" in times:
        first = times["running"] - times["attaching"]
        second = times.get("detached", times["running"]) - times.get("safe_point",
                                                                      times["running"])
        say("gdb: started in %.0f ms; target stopped %.1f ms in all (%.1f ms from the attach "
            "to the breakpoints, %.1f ms at the safe point), which came after %.1f ms"
            % ((times["attaching"] - started) * 1000, (first + second) * 1000, first * 1000,
               second * 1000,
               (times.get("safe_point", times["running"]) - times["running"]) * 1000))
    for e in events:
        if e["event"] == "error":
            if e["stage"] == "attach":
                if "Operation not permitted" in e["message"]:
                    raise Failure(target.permission_message())
                if "No such process" in e["message"]:
                    raise Failure("no such process: %d" % target.pid)
                raise Failure("gdb cannot attach to process %d: %s" % (target.pid, e["message"]))
            if e["stage"] == "dlopen" and kind == "detach":
                raise Failure("mprofile is not loaded in process %d" % target.pid)
            raise Failure("%s in process %d failed: %s" % (e["stage"], target.pid, e["message"]))
        if e["event"] == "exited":
            raise Failure("process %d exited" % target.pid)
        if e["event"] == "timeout":
            raise Failure("process %d reached no safe point within %g s (its threads may be "
                          "blocked in system calls, like time.sleep or input()); it was left "
                          "as it was" % (target.pid, timeout))
        if e["event"] == "requested" and e["rc"] != 0:
            raise Failure("process %d refused the request: %s"
                          % (target.pid, os.strerror(-e["rc"])))
    if not any(e["event"] == "requested" for e in events):
        tail = proc.stdout.strip().splitlines()[-3:]
        raise Failure("gdb failed on process %d (exit status %d)%s"
                      % (target.pid, proc.returncode, ": " + " / ".join(tail) if tail else ""))


# --- commands -------------------------------------------------------------------------------

def absolute_pattern(target, pattern):
    if pattern.startswith("/"):
        return pattern
    # Relative to our working directory when the target sees the same files, else to its own.
    base = os.getcwd() if target.same_root else os.readlink(target.proc + "/cwd")
    return os.path.join(base.replace("%", "%%"), pattern)


def snapshot_glob(target, pattern):
    """A glob (in our view) of the names the pattern gives for the target."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append({"p": str(target.nspid), "n": "*", "t": "*", "%": "%"}.get(nxt, "?"))
            i += 2
            continue
        out.append("[%s]" % c if c in "*?[" else c)
        i += 1
    return target.path_in_target("".join(out))


def snapshots(target, pattern):
    import glob
    result = {}
    for path in glob.glob(snapshot_glob(target, pattern)):
        try:
            result[path] = os.stat(path).st_mtime_ns
        except OSError:
            pass
    return result


def request(target, kind, settings, args):
    """Sends one attach or detach request and returns the target's message."""
    if kind == "attach":
        loaded = target.loaded_library()
        library = library_for(target)
        if loaded is not None and loaded != library:
            try:
                same = os.path.samestat(os.stat(target.path_in_target(loaded)),
                                        os.stat(target.path_in_target(library)))
            except OSError:
                same = False
            if not same:
                raise Failure("process %d has another libmprofile loaded already (%s): it was "
                              "started with the profiler, or attached by another build"
                              % (target.pid, loaded))
    else:
        library = target.loaded_library()
        if library is None:
            raise Failure("mprofile is not attached to process %d (no libmprofile loaded)"
                          % target.pid)
    method = args.method
    if method == "auto":
        method = "remote_exec" if target.version[:2] >= (3, 14) else "gdb"
    session = Session(target)
    try:
        started = time.monotonic()
        lines = settings + "MPROFILE_ATTACH_RESULT=%s/result\nMPROFILE_ATTACH_TICKET=%s/ticket\n" % (
            session.there, session.there)
        if method == "remote_exec":
            remote_exec(target, session, kind, library, settings, target.version, args.verbose)
        else:
            gdb_request(target, session, kind, library, lines, args.timeout, args.verbose)
        result = session.wait_result(args.timeout)
        if result is None and session.cancel():
            # A script sent by remote_exec stays until the target runs it (it removes itself).
            session.keep = method == "remote_exec"
            if not target.alive():
                raise Failure("process %d exited" % target.pid)
            raise Failure("the main thread of process %d did not reach a safe point within %g s "
                          "(blocked in a system call, like time.sleep or input()?); the request "
                          "was withdrawn and will do nothing%s"
                          % (target.pid, args.timeout,
                             " (the library stays loaded, idle)" if method == "gdb" else ""))
        if result is None:
            result = session.wait_result(args.timeout)  # taken just now: it is running
        if result is None:
            raise Failure("process %d took the request but gave no answer within %g s"
                          % (target.pid, args.timeout))
        rc, text, extra = result
        if args.verbose:
            say("%s took %.1f ms%s" % (kind, (time.monotonic() - started) * 1000,
                                       ", %.1f ms of it in the target's main thread"
                                       % (float(extra[0]) * 1000) if extra and extra[0] else ""))
        if rc != 0:
            raise Failure("process %d: %s" % (target.pid, text))
        return text
    finally:
        session.close()


def settings_from(args, target):
    pattern = absolute_pattern(target, args.output)
    lines = ["MPROFILE_RATE=%s" % args.rate, "MPROFILE_FRAMES=%s" % args.frames,
             "MPROFILE_OUT=%s" % pattern, "MPROFILE_SIGNAL=%s" % args.signal,
             "MPROFILE_AT_EXIT=%d" % (0 if args.no_exit_snapshot else 1),
             "MPROFILE_NATIVE=%d" % (1 if args.native else 0),
             "MPROFILE_STACKS=%s" % ("mixed" if args.mixed else args.stacks),
             "MPROFILE_LOG=%s" % args.log]
    for name, value in (("MPROFILE_NATIVE_FRAMES", args.native_frames),
                        ("MPROFILE_MAX_MEMORY", args.max_memory), ("MPROFILE_SEED", args.seed)):
        if value is not None:
            lines.append("%s=%s" % (name, value))
    for line in lines:
        if "\n" in line:
            raise Failure("a setting holds a newline: %r" % line)
    return "".join(line + "\n" for line in lines), pattern


def find_target(pid):
    target = Target(pid)
    if not target.same_root:
        # The tool would work on files through /proc/PID/root, which the container's users
        # control, and could not tell its own timeout signal from the program's (the sender
        # has no pid in the target's namespace).
        raise Failure("process %d runs in another mount namespace (a container): run mprofile "
                      "attach inside it" % pid)
    if os.geteuid() not in (0, target.uid):
        # The session's files must be given to the target's user, which only root can do.
        raise Failure("process %d belongs to uid %d: attach to it as root or as that user"
                      % (pid, target.uid))
    version = target.python()
    target.version = version
    if not SUPPORTED[0] <= version[:2] <= SUPPORTED[1]:
        raise Failure("process %d (%s) runs Python %d.%d, which is not supported (CPython 3.11 "
                      "to 3.15)" % (pid, target.name, version[0], version[1]))
    names = [target.exe] + target.mapped_files()
    if any(re.search(r"python3\.\d+t(\b|[-_.])", os.path.basename(n)) for n in names):
        raise Failure("process %d (%s) runs a free-threaded Python, which is not supported"
                      % (pid, target.name))
    return target


def report_new(target, pattern, before):
    new = [p for p, m in sorted(snapshots(target, pattern).items()) if before.get(p) != m]
    for path in new:
        say("snapshot: %s" % path[len(target.root):])
    return new


def cmd_attach(args):
    target = find_target(args.pid)
    settings, pattern = settings_from(args, target)
    before = snapshots(target, pattern)
    text = request(target, "attach", settings, args)
    say("attached to process %d: %s" % (target.pid, text))
    if args.duration is None:
        return 0
    end = time.monotonic() + args.duration
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
    try:
        while time.monotonic() < end and not interrupted:
            if not target.alive():
                time.sleep(0.2)  # the exit snapshot is being renamed into place
                say("process %d exited while attached" % target.pid)
                report_new(target, pattern, before)
                return 0
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
    finally:
        signal.signal(signal.SIGINT, previous)
    target = find_target(args.pid)  # its mappings now hold the library
    text = request(target, "detach", "", args)
    say("detached from process %d: %s" % (target.pid, text))
    report_new(target, pattern, before)
    return 0


def cmd_detach(args):
    target = find_target(args.pid)
    text = request(target, "detach", "", args)
    say("detached from process %d: %s" % (target.pid, text))
    return 0


class Parser(argparse.ArgumentParser):
    def error(self, message):
        say("%s: %s (see --help)" % (self.prog.split()[-1], message))
        sys.exit(2)


def parse(argv):
    parser = Parser(prog="mprofile", description="Profile a running Python process.")
    sub = parser.add_subparsers(dest="command", required=True)
    attach = sub.add_parser("attach", help="start profiling process PID",
                            description="Start profiling a running Python process (CPython 3.11 "
                            "to 3.15) that was started without mprofile.")
    detach = sub.add_parser("detach", help="stop profiling process PID and write the snapshot")
    for p in (attach, detach):
        p.add_argument("pid", type=int, metavar="PID")
        p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                       help="give up when the target reaches no safe point in this time (5)")
        p.add_argument("--method", choices=("auto", "remote_exec", "gdb"), default="auto",
                       help="sys.remote_exec (3.14+) or gdb (3.11 to 3.13) by default")
        p.add_argument("-v", "--verbose", action="store_true", help="say what is done and how long it takes")
    attach.add_argument("-r", "--rate", default="131072", metavar="BYTES",
                        help="mean bytes between samples: 131072 (default), 64k; 1 = exact")
    attach.add_argument("-f", "--frames", default="128", metavar="N",
                        help="Python frames kept per stack, 1-65535 (128)")
    attach.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="PATTERN",
                        help="snapshot path; %%p pid, %%n number, %%t time (mprofile.%%p.%%n.snap "
                        "in the working directory)")
    attach.add_argument("--duration", type=float, metavar="SECONDS",
                        help="detach after this long (default: stay attached until "
                        "'mprofile detach PID' or the target's exit)")
    attach.add_argument("--native", action="store_true", help="also sample malloc/mmap")
    attach.add_argument("--stacks", choices=("python", "mixed"), default="python")
    attach.add_argument("--mixed", action="store_true", help="same as --stacks mixed")
    attach.add_argument("--native-frames", metavar="N")
    attach.add_argument("--max-memory", metavar="BYTES")
    attach.add_argument("--seed", metavar="N")
    attach.add_argument("--signal", default="none", metavar="SIG",
                        help="signal that writes a snapshot: USR1, USR2, RTMIN..RTMAX or none "
                        "(default: none, the program's signals stay its own)")
    attach.add_argument("--no-exit-snapshot", action="store_true",
                        help="no snapshot if the target exits while attached")
    attach.add_argument("--log", default="error", metavar="LEVEL",
                        help="the library's messages in the target's stderr: error (default), "
                        "warn, info, debug")
    return parser.parse_args(argv)


def main(argv):
    args = parse(argv)
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        say("%s: --timeout must be a positive number of seconds" % args.command)
        return 2
    duration = getattr(args, "duration", None)
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        say("%s: --duration must be a positive number of seconds" % args.command)
        return 2
    if "@" in LIBRARY or not os.path.isfile(LIBRARY):
        say("the library is not found (%s); set MPROFILE_LIBRARY" % LIBRARY)
        return 1
    try:
        return cmd_attach(args) if args.command == "attach" else cmd_detach(args)
    except Failure as e:
        say(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
