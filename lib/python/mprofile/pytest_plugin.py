"""pytest plugin: memory limits per test, and the memory each test used (docs/pytest.md).

Loaded with ``pytest -p mprofile.pytest_plugin`` (or automatically, through its entry point,
once mprofile is installed with pip). It does nothing until asked:

- ``@pytest.mark.limit_memory("24 MB")`` fails the test when the memory it allocated and held
  at its peak (the estimated live bytes at the peak during the test, less the live bytes when it
  began) exceeds the limit;
- ``@pytest.mark.limit_leaks("1 MB")`` fails the test when the memory it allocated and still
  held when it ended (after a garbage collection) exceeds the limit;
- ``--mprofile`` reports, at the end of the session, each test's peak and its top allocation
  sites.

Only the test's call is measured, not its fixtures' setup and teardown. Failure messages name
the top sites and the estimate's standard error. The profiler is started in the pytest process
for the tests that need it (for the whole session with --mprofile), in exact mode by default
(every allocation recorded, exact sizes: deterministic limits, several times slower while it
runs) or at ``--mprofile-rate`` (sampled: a few percent, and an error on every figure). Under a
preload that is already sampling, that profiler is used as it is.

Runs in pytest's hooks, in the main thread, with the GIL.
"""
import gc
import math
import os
import re
import tracemalloc

import pytest

import mprofile

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
    "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4,
    "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text):
    """Bytes of a limit such as "24 MB" (decimal units), "1.5 MiB" (binary) or 1024 (an int).

    K, M and G alone are binary, as in MPROFILE_RATE. Raises ValueError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a memory limit cannot be negative: %d" % text)
        return text
    match = _SIZE.match(str(text))
    unit = match and _UNITS.get(match.group(2).lower())
    if unit is None:
        raise ValueError("not a memory size: %r (examples: '24 MB', '1.5 MiB', 4096)" % (text,))
    return int(float(match.group(1)) * unit)


def format_size(size):
    """A size for people: 930 B, 976.6 KiB, 8.0 MiB."""
    if abs(size) < 1024:
        return "%d B" % size
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if abs(size) < 1024 or unit == "TiB":
            return "%.1f %s" % (size, unit)


def pytest_addoption(parser):
    group = parser.getgroup("mprofile", "memory profiling with mprofile")
    group.addoption("--mprofile", action="store_true", default=False,
                    help="report each test's memory peak and top allocation sites")
    group.addoption("--mprofile-rate", default="1", metavar="BYTES",
                    help="mean bytes between samples (default 1: exact mode, every allocation; "
                         "128K: a few percent of overhead and estimated figures)")
    group.addoption("--mprofile-top", type=int, default=5, metavar="N",
                    help="tests shown by --mprofile, and sites named per failure (default 5)")
    group.addoption("--mprofile-frames", type=int, default=64, metavar="N",
                    help="frames kept per allocation (default 64)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "limit_memory(size): fail when the test's peak memory exceeds size "
                   "(e.g. '24 MB'); needs the mprofile plugin")
    config.addinivalue_line(
        "markers", "limit_leaks(size): fail when the test leaves more than size allocated "
                   "(e.g. '1 MB'); needs the mprofile plugin")
    plugin = _Plugin(config)
    config.pluginmanager.register(plugin, "mprofile-limits")


class _Usage:
    """What one test's call allocated: its peak above the start, and what it left behind."""

    def __init__(self, nodeid, peak, peak_sites, leaked, leak_sites, rate):
        self.nodeid = nodeid
        self.peak = peak
        self.peak_sites = peak_sites
        self.leaked = leaked
        self.leak_sites = leak_sites
        self.rate = rate

    def error(self, size):
        """Standard error of a size estimated at this rate (0 in exact mode): at most
        sqrt(rate * bytes) for a sum of sampled blocks (docs/python.md)."""
        return 0.0 if self.rate <= 1 else math.sqrt(self.rate * abs(size))


class _Plugin:
    def __init__(self, config):
        self.config = config
        self.report_all = config.getoption("mprofile")
        self.rate = parse_size(config.getoption("mprofile_rate"))
        self.top = max(1, config.getoption("mprofile_top"))
        self.frames = config.getoption("mprofile_frames")
        self.started_here = False
        self.usages = []
        self.start_error = None

    # --- the profiler

    def _ensure_running(self):
        """Starts the profiler once; returns the sample rate, or raises RuntimeError."""
        if self.start_error is not None:
            raise RuntimeError(self.start_error)
        if not mprofile.is_tracing():
            try:
                mprofile.start(max_frames=self.frames, sample_rate=self.rate)
            except Exception as exc:  # NotSupportedError, OSError: say it on every test
                self.start_error = "mprofile could not start: %s" % exc
                raise RuntimeError(self.start_error) from exc
            self.started_here = True
        return mprofile.get_sample_rate()

    def pytest_unconfigure(self, config):
        if self.started_here and mprofile.is_tracing():
            mprofile.stop()

    # --- per test

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        limits = _limits(item)
        if not limits and not self.report_all:
            yield
            return
        try:
            rate = self._ensure_running()
        except RuntimeError as exc:
            item._mprofile_failure = str(exc)
            yield
            return
        gc.collect()
        before = mprofile.take_snapshot()
        # After the snapshot exists, so that its own objects are not the test's.
        start = mprofile.get_traced_memory()[0]
        mprofile.reset_peak()
        outcome = yield
        peak = mprofile.get_traced_memory()[1]
        try:
            # The copy made at the peak, taken before anything else can move the peak.
            peak_sites = _growth(mprofile.take_snapshot(peak=True), before, self.top)
        except RuntimeError:  # MPROFILE_PEAK=0: the sites that grew by the end instead
            peak_sites = None
        gc.collect()
        end = mprofile.get_traced_memory()[0]
        leak_sites = _growth(mprofile.take_snapshot(), before, self.top)
        usage = _Usage(
            item.nodeid,
            peak=peak - start,
            peak_sites=leak_sites if peak_sites is None else peak_sites,
            leaked=end - start,
            leak_sites=leak_sites,
            rate=rate,
        )
        self.usages.append(usage)
        if self.started_here and not self.report_all:
            # Tests without a marker run unprofiled, at full speed.
            mprofile.stop()
            self.started_here = False
        if outcome.excinfo is None:
            failure = _check(usage, limits, self.top)
            if failure:
                item._mprofile_failure = failure

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        failure = getattr(item, "_mprofile_failure", None)
        if call.when == "call" and failure and report.passed:
            report.outcome = "failed"
            report.longrepr = failure

    # --- the session's summary

    def pytest_terminal_summary(self, terminalreporter):
        if not self.report_all or not self.usages:
            return
        tr = terminalreporter
        tr.write_sep("=", "mprofile: memory of the tests' calls (peak above their start)")
        exact = all(u.rate <= 1 for u in self.usages)
        tr.write_line("exact mode" if exact else
                      "sampled at %d bytes: figures are estimates, with one standard error"
                      % self.usages[0].rate)
        for usage in sorted(self.usages, key=lambda u: -u.peak)[:self.top]:
            tr.write_line("")
            tr.write_line("%s: peak %s%s, left allocated %s%s" % (
                usage.nodeid, format_size(usage.peak), _pm(usage, usage.peak),
                format_size(usage.leaked), _pm(usage, usage.leaked)))
            for line in _site_lines(usage, usage.peak_sites, 3):
                tr.write_line("    " + line)


def _limits(item):
    limits = {}
    for name in ("limit_memory", "limit_leaks"):
        marker = item.get_closest_marker(name)
        if marker is not None:
            if len(marker.args) != 1 or marker.kwargs:
                raise pytest.UsageError("%s takes one size, such as %s(\"24 MB\"): %s"
                                        % (name, name, item.nodeid))
            try:
                limits[name] = parse_size(marker.args[0])
            except ValueError as exc:
                raise pytest.UsageError("%s: %s" % (item.nodeid, exc))
    return limits


# The snapshots this plugin takes are allocated by the package: not the test's.
_OWN_FILES = [tracemalloc.Filter(False, os.path.join(os.path.dirname(mprofile.__file__), "*"))]


def _growth(snapshot, before, n):
    """The n lines whose live bytes grew most since before: (bytes, filename, lineno, name).

    Plain tuples, so that the snapshots are freed as soon as this returns."""
    names = dict(getattr(snapshot, "frame_names", ()))
    grown = snapshot.filter_traces(_OWN_FILES).compare_to(before.filter_traces(_OWN_FILES),
                                                          "lineno")
    top = sorted((s for s in grown if s.size_diff > 0), key=lambda s: -s.size_diff)[:n]
    sites = []
    for stat in top:
        frame = stat.traceback[0]
        sites.append((stat.size_diff, frame.filename, frame.lineno,
                      names.get((frame.filename, frame.lineno))))
    return sites


def _pm(usage, size):
    error = usage.error(size)
    return " (± %s)" % format_size(error) if error else ""


def _site_lines(usage, sites, n):
    lines = []
    for size, filename, lineno, name in sites[:n]:
        where = "%s:%d" % (filename, lineno)
        if name:
            where += " (%s)" % name
        lines.append("%s%s  %s" % (format_size(size), _pm(usage, size), where))
    return lines


def _check(usage, limits, top):
    """The failure message of a test over one of its limits, or None."""
    messages = []
    checks = (("limit_memory", usage.peak, usage.peak_sites, "peak memory"),
              ("limit_leaks", usage.leaked, usage.leak_sites, "memory left allocated"))
    for name, used, sites, what in checks:
        limit = limits.get(name)
        if limit is None or used <= limit:
            continue
        estimate = ("exactly" if usage.rate <= 1 else
                    "estimated, standard error %s at one sample per %d bytes"
                    % (format_size(usage.error(used)), usage.rate))
        messages.append("%s: %s %s (%s) is over the limit of %s. Top sites:\n%s" % (
            name, what, format_size(used), estimate, format_size(limit),
            "\n".join("    " + line for line in _site_lines(usage, sites, top))))
    return "\n".join(messages) or None
