"""End-to-end test of mprofile-report --format html, in headless Chromium.

Runs data/html_program.py under LD_PRELOAD=libmprofile.so (sampled, fixed seed):
three snapshots, each with its peak companion, timeline and frame_names (added
from the code objects of the files when the library wrote none), and gives one
function a hostile name that tries to end the data element.  Writes the pages a
user would and opens each in Chromium through Selenium:
  - phase3.snap (with its peak companion found by name): no console error, as
    many flame graph nodes as the snapshot has stack prefixes above the merge
    threshold (plus one "others" node per parent of merged ones), the hostile
    name read back intact and never run, search highlights matching frames and
    says how many bytes match, a table row finds its frames, a click makes the
    clicked node full width, Back
    restores the view, the Peak tab draws the peak snapshot's nodes, the
    timeline draws every point of the embedded timeline and marks the peak and
    the snapshot;
    the screenshot goes to WORKDIR/report.png;
  - --timeline phase3 phase1 phase2: one marker per snapshot, every distinct
    point, the flame graph of the latest snapshot;
  - --diff phase2 phase3: grown nodes red, shrunk nodes blue;
  - a run with MPROFILE_STACKS=mixed: the Python-only switch draws the nodes
    of the stacks without their native frames (skipped when libmprofile wrote
    Python stacks, without libunwind);
  - a snapshot of tracemalloc itself (no metadata) and one without traces: no
    console error, the nodes, and the page says there is no timeline.

usage: e2e_html.py REPORT_BINARY LIBMPROFILE WORKDIR   (run it with /usr/bin/python3.11)
Exits 77 (skipped) when Chromium, chromedriver or Selenium is missing."""
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
MIN_FRACTION = 0.001  # format_html.c HTML_MIN_FRACTION
HOSTILE = '</script><script>window.__pwned = 1</script><!-- & "q" \u2028 caf\u00e9'

failures = 0


def check(ok, what):
    global failures
    if not ok:
        print("FAIL " + what)
        failures += 1
    return ok


# ---------- snapshots ----------

def code_names(path):
    """(path, lineno) -> co_qualname of the innermost code object of the file that has
    the line, or {} when the file cannot be compiled."""
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    except (OSError, SyntaxError, ValueError):
        return {}
    names, todo = {}, [code]
    while todo:  # parents before their nested functions, which win
        c = todo.pop(0)
        for _, _, line in c.co_lines():
            if line is not None:
                names[(path, line)] = c.co_qualname
        todo.extend(k for k in c.co_consts if hasattr(k, "co_lines"))
    return names


def add_frame_names(path, hostile_qualname=None):
    """Give the frames of hostile_qualname the hostile name in the snapshot's frame_names
    (docs/format.md), first adding frame_names from the code objects of the files when the
    snapshot has none (tracemalloc's, or a library that does not write them)."""
    snap = tracemalloc.Snapshot.load(path)
    names = getattr(snap, "frame_names", None)
    if names is None:
        files = {f[0] for t in snap.traces._traces for f in t[2] if not f[0].startswith("<")}
        table = {}
        for file in files:
            table.update(code_names(file))
        frames = {f for t in snap.traces._traces for f in t[2]}
        names = [(f, table[f]) for f in sorted(frames) if f in table]
    snap.frame_names = [(f, HOSTILE if name == hostile_qualname else name) for f, name in names]
    snap.dump(path)


def run_program(lib, workdir, name, extra_env):
    outdir = os.path.join(workdir, name)
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE="16k", MPROFILE_SEED="42",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.path.join(SOURCE_ROOT, "lib", "python"),
               MPROFILE_OUT=os.path.join(outdir, "exit.snap"), **extra_env)
    subprocess.run([sys.executable, os.path.join(HERE, "data", "html_program.py"), outdir],
                   env=env, check=True, timeout=60)
    return outdir


def expected_nodes(path, python_only=False):
    """The nodes format_html.c draws for a snapshot, computed from tracemalloc's view of
    it: the root, every stack prefix (root first) whose bytes reach MIN_FRACTION of the
    total and whose parent is drawn, and one "others" node under each drawn node whose
    smaller children hold bytes."""
    snap = tracemalloc.Snapshot.load(path)
    mixed = getattr(snap, "stacks", None) == "mixed"
    weight, children = {(): 0}, {}
    for _, size, frames, *_ in snap.traces._traces:
        stack = [f for f in reversed(frames)
                 if not (python_only and mixed and f[0].startswith("<native> "))]
        if not stack:
            stack = [("<unknown>", 0)]
        weight[()] += size
        for k in range(1, len(stack) + 1):
            prefix = tuple(stack[:k])
            if prefix not in weight:
                weight[prefix] = 0
                children.setdefault(prefix[:-1], []).append(prefix)
            weight[prefix] += size
    min_weight = math.ceil(weight[()] * MIN_FRACTION)
    count, todo = 0, [()]
    while todo:
        node = todo.pop()
        count += 1
        small = 0
        for c in children.get(node, []):
            if weight[c] >= min_weight:
                todo.append(c)
            else:
                small += weight[c]
        count += small > 0
    return count


def distinct_points(paths):
    """The points of the --timeline plot: each snapshot's (time, live_bytes) and the
    points of the embedded timelines, equal points once."""
    points = set()
    for p in paths:
        s = tracemalloc.Snapshot.load(p)
        points.add((s.time, s.live_bytes, None, None))
        points.update((t, live, peak, rss) for t, live, peak, rss in s.timeline)
    return len(points)


def report(binary, args):
    r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "mprofile-report %s: exit %d %s" % (" ".join(args), r.returncode,
                                                                 r.stderr.strip()))
    return r


# ---------- browser ----------

def start_browser(tmp):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    # No network, no first-run work: the page must stand alone, and the test starts faster.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                "--user-data-dir=" + os.path.join(tmp, "profile"), "--hide-scrollbars",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def open_page(driver, path):
    driver.get("file://" + os.path.abspath(path))
    # The script draws synchronously on load: the nodes are there once it ran.
    driver.execute_script("return document.readyState")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, "%s: console errors %s" % (os.path.basename(path), errors))


def nodes(driver):
    """The flame graph's nodes (a count: one call, not one per element)."""
    return range(driver.execute_script("return document.querySelectorAll('#flame g.node').length"))


def node_width(driver, i):
    return float(driver.find_element("css selector", '#flame g.node[data-i="%d"] rect' % i)
                 .get_attribute("width"))


def flame_width(driver):
    return float(driver.find_element("id", "flame").get_attribute("width"))


def type_search(driver, text):
    box = driver.find_element("id", "search")
    box.clear()
    if text:
        box.send_keys(text)
    else:  # clear() sends no input event
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)
    matched = driver.execute_script(
        "return Array.from(document.querySelectorAll('#flame g.node.match'))"
        ".map(function (g) { return g.getAttribute('data-i'); });")
    return set(matched), driver.find_element("id", "search-info").text


def click_button(driver, css):
    driver.find_element("css selector", css).click()


def check_main_page(driver, page, snap, peak, workdir):
    name = os.path.basename(page)
    open_page(driver, page)
    want = expected_nodes(snap)
    check(len(nodes(driver)) == want, "%s: %d flame graph nodes, want %d"
          % (name, len(nodes(driver)), want))
    check(driver.execute_script("return window.__pwned") is None, name + ": hostile name ran")
    data = driver.execute_script(
        "return JSON.parse(document.getElementById('report-data').textContent)")
    check(any(f[0] == HOSTILE for f in data["frames"]), name + ": hostile name not read back")
    # Search: the frames of a function, then of another, then none.
    first, info = type_search(driver, "parse_records")
    check(first and "match" in info and "B" in info,
          "%s: search parse_records: %d highlighted, info %r" % (name, len(first), info))
    second, _ = type_search(driver, "Cache.fill")
    check(second and second != first, name + ": search Cache.fill highlights the same nodes")
    none, _ = type_search(driver, "")
    check(not none, name + ": cleared search still highlights")
    # A row of the table finds its frames in the flame graph.
    driver.find_element("css selector", "#rows tr:nth-child(2) td.loc").click()
    query = driver.find_element("id", "search").get_attribute("value")
    lit = driver.execute_script("return document.querySelectorAll('#flame g.node.match').length")
    check(query == data["rows"][0]["location"] and lit > 0,
          "%s: the first row searched %r and lit %d nodes" % (name, query, lit))
    type_search(driver, "")
    # Zoom: the widest node two levels down becomes the whole width; Back restores.
    graph = data["graphs"][0]["nodes"]
    depth = {0: 0}
    for i, n in enumerate(graph[1:], 1):
        depth[i] = depth[n[0]] + 1
    target = max((i for i in depth if depth[i] == 2 and graph[i][1] >= 0),
                 key=lambda i: graph[i][6])
    before = node_width(driver, target)
    driver.find_element("css selector", '#flame g.node[data-i="%d"] rect' % target).click()
    check(abs(node_width(driver, target) - flame_width(driver)) < 0.01 < flame_width(driver)
          - before, "%s: clicked node %d is %.1f px wide of %.1f" %
          (name, target, node_width(driver, target), flame_width(driver)))
    check(len(nodes(driver)) < want, name + ": zoomed view draws every node")
    click_button(driver, "#zoom-back")
    check(len(nodes(driver)) == want and abs(node_width(driver, target) - before) < 0.01,
          name + ": Back does not restore the whole graph")
    # Timeline: every embedded point, and the peak marked.
    s = tracemalloc.Snapshot.load(snap)
    live = driver.find_element("css selector", "#timeline polyline.series-live")
    npoints = len(live.get_attribute("points").split())
    check(npoints == len(s.timeline) == int(live.get_attribute("data-points")),
          "%s: timeline has %d points, want %d" % (name, npoints, len(s.timeline)))
    check(len(driver.find_elements("css selector", "#timeline .peak-marker")) == 1,
          name + ": no peak marker on the timeline")
    check(len(driver.find_elements("css selector", "#timeline circle.snapshot-marker")) == 1,
          name + ": the snapshot is not marked on its timeline")
    driver.set_window_size(1400, driver.execute_script("return document.body.scrollHeight") + 20)
    shot = os.path.join(workdir, "report.png")
    driver.save_screenshot(shot)
    print("screenshot: " + shot)
    driver.set_window_size(1400, 1000)
    # The peak tab: the peak companion's graph.
    click_button(driver, '#graph-tabs button[data-value="peak"]')
    want_peak = expected_nodes(peak)
    check(len(nodes(driver)) == want_peak, "%s: peak tab draws %d nodes, want %d"
          % (name, len(nodes(driver)), want_peak))
    check("peak" in driver.find_element("id", "flame-info").text,
          name + ": the peak tab does not say its peak")


def check_timeline_page(driver, page, paths):
    name = os.path.basename(page)
    open_page(driver, page)
    markers = driver.find_elements("css selector", "#timeline circle.snapshot-marker")
    check(len(markers) == len(paths), "%s: %d snapshot markers, want %d"
          % (name, len(markers), len(paths)))
    live = driver.find_element("css selector", "#timeline polyline.series-live")
    want = distinct_points(paths)
    got = len(live.get_attribute("points").split())
    check(got == want, "%s: %d timeline points, want %d" % (name, got, want))
    xs = [float(p.split(",")[0]) for p in live.get_attribute("points").split()]
    check(xs == sorted(xs), name + ": points not in time order")
    title = driver.find_element("id", "title-file").text
    check(title.endswith("phase3.snap"), "%s: flame graph of %s, want the latest" % (name, title))
    check(len(nodes(driver)) == expected_nodes(paths[0]), name + ": flame graph node count")


def check_diff_page(driver, page):
    name = os.path.basename(page)
    open_page(driver, page)
    grown = shrunk = 0
    # One call for every node: a WebDriver round trip per element would take minutes.
    for i, delta, fill in driver.execute_script(
            "return Array.from(document.querySelectorAll('#flame g.node')).map(function (g) {"
            " return [g.getAttribute('data-i'), Number(g.getAttribute('data-delta')),"
            " g.querySelector('rect').getAttribute('fill')]; });"):
        if delta > 0 and i != "0":
            grown += 1
            check(fill.startswith("hsl(0,"), "%s: grown node coloured %s" % (name, fill))
        elif delta < 0:
            shrunk += 1
            check(fill.startswith("hsl(215,"), "%s: shrunk node coloured %s" % (name, fill))
    check(grown > 0 and shrunk > 0, "%s: %d grown and %d shrunk nodes" % (name, grown, shrunk))
    type_search(driver, "parse_records")
    red = driver.execute_script(
        "return Array.from(document.querySelectorAll('#flame g.node.match'))"
        ".filter(function (g) { return Number(g.getAttribute('data-delta')) > 0; }).length;")
    check(red, name + ": parse_records did not grow")


def check_mixed_page(driver, page, snap):
    name = os.path.basename(page)
    open_page(driver, page)
    if getattr(tracemalloc.Snapshot.load(snap), "stacks", None) != "mixed":
        print("SKIP %s: libmprofile wrote Python stacks (no libunwind?)" % name)
        return
    want_all, want_py = expected_nodes(snap), expected_nodes(snap, python_only=True)
    check(len(nodes(driver)) == want_all, "%s: %d nodes, want %d"
          % (name, len(nodes(driver)), want_all))
    click_button(driver, '#frame-toggle button[data-value="python"]')
    check(len(nodes(driver)) == want_py, "%s: Python only draws %d nodes, want %d"
          % (name, len(nodes(driver)), want_py))
    kinds = driver.execute_script(
        "var d = JSON.parse(document.getElementById('report-data').textContent);"
        "return d.frames.map(function (f) { return f[3]; });")
    check(1 in kinds and 2 in kinds, name + ": no native or interpreter frames: %s"
          % sorted(set(kinds)))
    click_button(driver, '#frame-toggle button[data-value="all"]')
    check(len(nodes(driver)) == want_all, name + ": back to all frames")


def write_tracemalloc_snapshots(workdir):
    """A snapshot of tracemalloc itself (no metadata: no time, pid, timeline or names) and
    one without traces."""
    plain, empty = (os.path.join(workdir, n) for n in ("tracemalloc.snap", "empty.snap"))
    tracemalloc.start(10)
    keep = [bytearray(1000 + i) for i in range(200)]
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del keep
    snap.dump(plain)
    tracemalloc.Snapshot([], 10).dump(empty)
    return plain, empty


def check_bare_page(driver, page, snap):
    """A snapshot without metadata, or without traces: the page draws without errors."""
    name = os.path.basename(page)
    open_page(driver, page)
    want = expected_nodes(snap)
    check(len(nodes(driver)) == want, "%s: %d nodes, want %d" % (name, len(nodes(driver)), want))
    info = driver.find_element("id", "timeline-info").text
    check("no timeline" in info, "%s: timeline info %r" % (name, info))


def main():
    binary, lib, workdir = sys.argv[1:4]
    if not os.path.exists(lib):
        print("FAIL: %s not found (build the mprofile target)" % lib)
        return 1
    try:
        import selenium  # noqa: F401 (Debian python3-selenium; start_browser imports from it)
    except ImportError:
        print("SKIP: selenium is not installed (apt-get install python3-selenium)")
        return 77
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            print("SKIP: %s not found (apt-get install chromium chromium-driver)" % tool)
            return 77
    os.makedirs(workdir, exist_ok=True)
    started = time.monotonic()
    run = run_program(lib, workdir, "run", {})
    snaps = [os.path.join(run, "phase%d.snap" % i) for i in (1, 2, 3)]
    for s in snaps + [os.path.join(run, "phase3.peak.snap")]:
        add_frame_names(s, hostile_qualname="transient_burst")
    mixed = run_program(lib, workdir, "mixed", {"MPROFILE_STACKS": "mixed"})
    add_frame_names(os.path.join(mixed, "phase3.snap"))
    plain, empty = write_tracemalloc_snapshots(workdir)
    pages = {k: os.path.join(workdir, k + ".html") for k in ("report", "timeline", "diff",
                                                            "mixed", "plain", "empty")}
    report(binary, ["--format", "html", "-o", pages["report"], snaps[2]])
    report(binary, ["--format", "html", "--timeline", "-o", pages["timeline"], snaps[2],
                    snaps[0], snaps[1]])
    report(binary, ["--format", "html", "--diff", "-o", pages["diff"], snaps[1], snaps[2]])
    report(binary, ["--format", "html", "-o", pages["mixed"], os.path.join(mixed, "phase3.snap")])
    report(binary, ["--format", "html", "-o", pages["plain"], plain])
    report(binary, ["--format", "html", "-o", pages["empty"], empty])
    for page in pages.values():
        with open(page, encoding="utf-8") as f:
            text = f.read()
        check(text.count("</script>") == 2 and "http://" not in text.replace(
            "http://www.w3.org/2000/svg", "") and "https://" not in text,
              "%s: not one self-contained page with its two script elements"
              % os.path.basename(page))
    with tempfile.TemporaryDirectory() as tmp:
        driver = start_browser(tmp)
        try:
            check_main_page(driver, pages["report"], snaps[2],
                            os.path.join(run, "phase3.peak.snap"), workdir)
            check_timeline_page(driver, pages["timeline"], [snaps[2], snaps[0], snaps[1]])
            check_diff_page(driver, pages["diff"])
            check_mixed_page(driver, pages["mixed"], os.path.join(mixed, "phase3.snap"))
            check_bare_page(driver, pages["plain"], plain)
            check_bare_page(driver, pages["empty"], empty)
        finally:
            driver.quit()
    print("%s (%.1f s)" % ("FAIL" if failures else "OK", time.monotonic() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
