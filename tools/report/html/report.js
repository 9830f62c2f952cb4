/* mprofile-report HTML page: draws everything from the JSON data element
 * written by format_html.c (schema "mprofile-html/1", docs/report.md).
 * No network, no library: plain DOM and SVG. */
(function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';
  var KIND_PYTHON = 0, KIND_NATIVE = 1, KIND_INTERPRETER = 2;
  var ROOT = -1, OTHERS = -2;
  var ROW_HEIGHT = 18;

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var isDiff = data.mode === 'diff';

  /* ---------- formatting ---------- */

  /* tracemalloc's _format_size: 3 significant digits, binary units. */
  function formatSize(size, sign) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    for (var u = 0; u < units.length; u++) {
      if (Math.abs(size) < 100 && u !== 0) return fmtNum(size, 1, sign) + ' ' + units[u];
      if (Math.abs(size) < 10 * 1024 || u === units.length - 1) return fmtNum(size, 0, sign) + ' ' + units[u];
      size /= 1024;
    }
  }
  function fmtNum(v, digits, sign) {
    var s = v.toFixed(digits);
    return sign && v >= 0 ? '+' + s : s;
  }
  function formatCount(c) {
    return Math.round(c).toLocaleString('en-US');
  }
  function formatPercent(part, whole) {
    if (!whole) return '0%';
    var p = 100 * part / whole;
    return (p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%';
  }
  function formatTime(t) {
    if (typeof t !== 'number' || !isFinite(t)) return '?';
    var d = new Date(t * 1000);
    if (isNaN(d.getTime())) return '?';
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  /* Metadata keys are the file's: no prototype, so "__proto__" is a key like any other. */
  function metaOf(snap) {
    var m = Object.create(null);
    (snap.metadata || []).forEach(function (kv) { m[kv[0]] = kv[1]; });
    return m;
  }

  /* ---------- frames ---------- */

  var frames = data.frames;
  function isNativeName(file) { return file.lastIndexOf('<native> ', 0) === 0; }
  function nodeLabel(n) {
    if (n.frame === ROOT) return isDiff ? 'all (difference)' : 'all';
    if (n.frame === OTHERS) return 'others (' + n.merged + ' smaller)';
    var f = frames[n.frame];
    if (isNativeName(f[1])) return f[1].slice(9);
    var where = f[1].replace(/^.*\//, '') + ':' + f[2];
    return f[0] !== null ? f[0] + ' (' + where + ')' : where;
  }
  function nodeWhere(n) {
    if (n.frame < 0) return '';
    var f = frames[n.frame];
    if (isNativeName(f[1])) return 'native frame';
    return f[1] + ':' + f[2];
  }
  function kindName(n) {
    if (n.frame < 0) return '';
    return ['Python', 'native', 'interpreter'][frames[n.frame][3]];
  }

  /* A stable pseudo-random number in [0, 1) per name, so colours vary
   * between neighbours and stay the same from one page to the next. */
  function hash01(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return ((h >>> 0) % 1000) / 1000;
  }
  function nodeColour(n) {
    if (n.frame === ROOT) return 'hsl(220, 10%, 78%)';
    if (n.frame === OTHERS) return 'hsl(220, 8%, 88%)';
    if (isDiff) return diffColour(n);
    var f = frames[n.frame], r = hash01(nodeLabel(n));
    if (f[3] === KIND_NATIVE) return 'hsl(' + (190 + 25 * r).toFixed(0) + ', 55%, ' + (62 + 10 * r).toFixed(0) + '%)';
    if (f[3] === KIND_INTERPRETER) return 'hsl(265, ' + (12 + 10 * r).toFixed(0) + '%, ' + (72 + 8 * r).toFixed(0) + '%)';
    return 'hsl(' + (18 + 30 * r).toFixed(0) + ', 88%, ' + (60 + 8 * r).toFixed(0) + '%)';
  }
  /* Red for growth, blue for shrinking, stronger with the change relative
   * to the node's larger size. */
  function diffColour(n) {
    var delta = n.size - n.old, base = Math.max(n.size, n.old);
    if (!delta || !base) return 'hsl(0, 0%, 90%)';
    var t = Math.min(1, Math.abs(delta) / base);
    var light = (90 - 38 * t).toFixed(0);
    return delta > 0 ? 'hsl(0, ' + (40 + 38 * t).toFixed(0) + '%, ' + light + '%)'
                     : 'hsl(215, ' + (40 + 35 * t).toFixed(0) + '%, ' + light + '%)';
  }

  /* ---------- graphs ---------- */

  /* Node objects with their layout: x and w are fractions of the root's
   * weight, depth counts from the root. */
  function buildGraph(g) {
    var nodes = [], next = [];
    g.nodes.forEach(function (a, i) {
      var n = { i: i, parent: a[0], frame: a[1], size: a[2], count: a[3], se: a[4], old: a[5],
                weight: a[6], merged: a[7], children: [], depth: 0, x: 0 };
      if (n.parent >= 0) {
        var p = nodes[n.parent];
        p.children.push(n);
        n.depth = p.depth + 1;
        n.x = next[n.parent];
        next[n.parent] += n.weight;
      }
      next[i] = n.x;
      nodes.push(n);
    });
    var maxDepth = 0;
    nodes.forEach(function (n) { if (n.depth > maxDepth) maxDepth = n.depth; });
    return { id: g.id, nodes: nodes, maxDepth: maxDepth,
             mergedNodes: g.merged_nodes, minWeight: g.min_weight };
  }
  var graphs = {};
  data.graphs.forEach(function (g) { graphs[g.id] = buildGraph(g); });

  var state = {
    source: isDiff ? 'diff' : 'snapshot',
    pythonOnly: false,
    zoom: [],          /* node indexes, the last one shown */
    selected: null,
    query: ''
  };
  function currentGraph() {
    var id = state.source + (state.pythonOnly ? '-python' : '');
    return graphs[id] || graphs[state.source];
  }

  /* ---------- header ---------- */

  function renderHeader() {
    var s = data.snapshot, m = metaOf(s);
    document.getElementById('title-file').textContent = s.file;
    document.title = 'mprofile: ' + s.file.replace(/^.*\//, '');
    var items = [];
    if (isDiff) items.push(['old snapshot', data.old_snapshot.file]);
    if (m.pid !== undefined) items.push(['pid', String(m.pid)]);
    if (m.time !== undefined) items.push(['time', formatTime(m.time)]);
    if (m.trigger !== undefined) items.push(['trigger', String(m.trigger)]);
    if (m.python_version !== undefined) items.push(['python', String(m.python_version)]);
    items.push(['sampling', s.sample_rate > 1 ? 'every ' + formatSize(s.sample_rate) + ' (estimates)' : 'exact']);
    items.push(['traces', s.traces.toLocaleString('en-US')]);
    var total = formatSize(s.total_size);
    if (s.sample_rate > 1 && s.total_size > 0) total += ' \u00b1 ' + formatPercent(s.total_stderr, s.total_size);
    items.push([isDiff ? 'total (new)' : 'total size', total]);
    if (isDiff) items.push(['change', formatSize(s.total_size - data.old_snapshot.total_size, true)]);
    if (typeof m.live_bytes === 'number') items.push(['live bytes', formatSize(m.live_bytes)]);
    if (typeof m.peak_bytes === 'number') items.push(['peak bytes', formatSize(m.peak_bytes)]);
    if (s.stacks === 'mixed') items.push(['stacks', 'Python + native']);
    if (m.mprofile_version !== undefined) items.push(['mprofile', String(m.mprofile_version)]);
    var dl = document.getElementById('meta');
    items.forEach(function (it) {
      var d = el('div');
      d.appendChild(el('dt', {}, it[0]));
      d.appendChild(el('dd', {}, it[1]));
      dl.appendChild(d);
    });
    if (m.is_peak === true) {
      var note = document.getElementById('peak-note');
      note.hidden = false;
      note.textContent = 'This is a peak snapshot: the blocks that were live at the peak' +
        (typeof m.peak_time === 'number' ? ', ' + formatTime(m.peak_time) : '') + '.';
    }
  }

  /* ---------- flame graph ---------- */

  var flameSvg = document.getElementById('flame');
  var tooltip = document.getElementById('tooltip');

  function flameWidth() {
    return Math.max(300, Math.floor(document.getElementById('flame-box').clientWidth));
  }

  function matches(n, q) {
    if (!q || n.frame < 0) return false;
    var f = frames[n.frame];
    return (f[0] !== null && f[0].toLowerCase().indexOf(q) >= 0) ||
           (f[1] + ':' + f[2]).toLowerCase().indexOf(q) >= 0;
  }

  function renderFlame() {
    var g = currentGraph(), W = flameWidth();
    var zi = state.zoom.length ? state.zoom[state.zoom.length - 1] : 0;
    var z = g.nodes[zi] || g.nodes[0];
    var scale = z.weight > 0 ? W / z.weight : 0;
    var shown = [];
    /* The zoomed node's ancestors span the whole width above it. */
    for (var a = z.parent >= 0 ? g.nodes[z.parent] : null; a; a = a.parent >= 0 ? g.nodes[a.parent] : null)
      shown.push([a, 0, W]);
    var stack = [z];
    while (stack.length) {
      var n = stack.pop();
      var x = (n.x - z.x) * scale, w = n.weight * scale;
      if (n === z) { x = 0; w = W; }
      shown.push([n, x, w]);
      for (var c = n.children.length - 1; c >= 0; c--) stack.push(n.children[c]);
    }
    flameSvg.textContent = '';
    var H = (g.maxDepth + 1) * ROW_HEIGHT;
    flameSvg.setAttribute('width', W);
    flameSvg.setAttribute('height', H);
    flameSvg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var frag = document.createDocumentFragment();
    shown.forEach(function (s) {
      var n = s[0], gEl = svg('g', { 'class': 'node', 'data-i': n.i });
      if (isDiff) gEl.setAttribute('data-delta', n.size - n.old);
      gEl.appendChild(svg('rect', { x: s[1].toFixed(2), y: n.depth * ROW_HEIGHT, width: Math.max(0, s[2]).toFixed(2),
                                     height: ROW_HEIGHT - 1, fill: nodeColour(n) }));
      var label = nodeLabel(n), room = Math.floor((s[2] - 6) / 6.6);
      if (room >= 3) {
        if (label.length > room) label = label.slice(0, room - 1) + '\u2026';
        gEl.appendChild(svg('text', { x: (s[1] + 4).toFixed(2), y: n.depth * ROW_HEIGHT + (ROW_HEIGHT - 1) / 2 }, label));
      }
      frag.appendChild(gEl);
    });
    flameSvg.appendChild(frag);
    document.getElementById('zoom-back').disabled = state.zoom.length === 0;
    document.getElementById('zoom-reset').disabled = state.zoom.length === 0;
    renderFlameInfo(g, z);
    applySearch();
    if (state.selected !== null) markSelected();
  }

  function renderFlameInfo(g, z) {
    var root = g.nodes[0], parts = [];
    parts.push(g.nodes.length.toLocaleString('en-US') + ' nodes, width = ' +
               (isDiff ? 'the larger of old and new bytes' : 'estimated bytes') + ', total ' + formatSize(root.weight));
    if (z !== root) parts.push('zoomed into ' + nodeLabel(z) + ' (' + formatPercent(z.weight, root.weight) + ')');
    if (g.mergedNodes > 0)
      parts.push(g.mergedNodes.toLocaleString('en-US') + ' frames under ' +
                 formatPercent(data.min_fraction, 1) + ' of the total (' + formatSize(g.minWeight) +
                 ') are merged into \u201cothers\u201d nodes');
    if (state.source === 'peak' && data.peak) {
      var pm = metaOf(data.peak);
      parts.push('peak' + (typeof pm.peak_bytes === 'number' ? ' ' + formatSize(pm.peak_bytes) : '') +
                 (typeof pm.peak_time === 'number' ? ' at ' + formatTime(pm.peak_time) : ''));
    }
    document.getElementById('flame-info').textContent = parts.join(' \u00b7 ') + '.';
  }

  /* Highlight the frames whose function or file:line contains the query,
   * and say how many bytes they hold (nested matches counted once). */
  function applySearch() {
    var q = state.query.trim().toLowerCase(), g = currentGraph();
    var info = document.getElementById('search-info');
    var els = flameSvg.querySelectorAll('g.node');
    var hit = {};
    g.nodes.forEach(function (n) { if (matches(n, q)) hit[n.i] = true; });
    var count = 0;
    for (var k = 0; k < els.length; k++) {
      var on = !!hit[els[k].getAttribute('data-i')];
      els[k].classList.toggle('match', on);
      if (on) count++;
    }
    if (!q) { info.textContent = ''; info.classList.remove('active'); return; }
    var bytes = 0, nmatch = 0;
    var stack = [[g.nodes[0], false]];
    while (stack.length) {
      var top = stack.pop(), n = top[0], under = top[1];
      if (hit[n.i]) { nmatch++; if (!under) bytes += n.size; }
      n.children.forEach(function (c) { stack.push([c, under || !!hit[n.i]]); });
    }
    info.classList.add('active');
    info.textContent = 'Search: ' + nmatch + ' frame' + (nmatch === 1 ? '' : 's') + ' match' +
      (nmatch === 1 ? 'es' : '') + ', ' + formatSize(bytes) + ' (' + formatPercent(bytes, g.nodes[0].size) + ')' +
      (count < nmatch ? ', ' + count + ' in view' : '') + '.';
  }

  function nodeDetails(n) {
    var g = currentGraph(), root = g.nodes[0], rows = [];
    if (isDiff) {
      rows.push(['new', formatSize(n.size)]);
      rows.push(['old', formatSize(n.old)]);
      rows.push(['change', formatSize(n.size - n.old, true)]);
    } else {
      rows.push(['size', formatSize(n.size)]);
      rows.push(['of total', formatPercent(n.size, root.size)]);
    }
    rows.push(['bytes', n.size.toLocaleString('en-US')]);
    rows.push([data.sampled ? 'allocations (est.)' : 'allocations', formatCount(n.count)]);
    if (data.sampled) {
      rows.push(['std. error', '\u00b1 ' + formatSize(n.se)]);
      rows.push(['relative error', n.size > 0 ? formatPercent(n.se, n.size) : '-']);
    }
    if (n.frame === OTHERS) rows.push(['merged frames', String(n.merged)]);
    if (n.frame >= 0) rows.push(['kind', kindName(n)]);
    return rows;
  }

  function showDetails(n) {
    var d = document.getElementById('details');
    d.textContent = '';
    d.appendChild(el('h3', {}, nodeLabel(n)));
    var where = nodeWhere(n);
    if (n.frame >= 0 && frames[n.frame][0] !== null && !isNativeName(frames[n.frame][1]))
      d.appendChild(el('div', { 'class': 'where' }, where));
    else if (n.frame >= 0 && isNativeName(frames[n.frame][1]))
      d.appendChild(el('div', { 'class': 'where' }, 'native frame'));
    var t = el('table');
    nodeDetails(n).forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', {}, r[0]));
      tr.appendChild(el('td', {}, r[1]));
      t.appendChild(tr);
    });
    d.appendChild(t);
  }

  function markSelected() {
    var els = flameSvg.querySelectorAll('g.node');
    for (var k = 0; k < els.length; k++)
      els[k].classList.toggle('selected', Number(els[k].getAttribute('data-i')) === state.selected);
  }

  function nodeOfEvent(ev) {
    var t = ev.target.closest ? ev.target.closest('g.node') : null;
    return t ? currentGraph().nodes[Number(t.getAttribute('data-i'))] : null;
  }

  flameSvg.addEventListener('mousemove', function (ev) {
    var n = nodeOfEvent(ev);
    if (!n) { tooltip.hidden = true; return; }
    tooltip.textContent = '';
    tooltip.appendChild(el('div', {}, nodeLabel(n)));
    var where = nodeWhere(n);
    if (where) tooltip.appendChild(el('div', { 'class': 'tt-where' }, where));
    var line = isDiff ? formatSize(n.size - n.old, true) + ' (' + formatSize(n.old) + ' \u2192 ' + formatSize(n.size) + ')'
                      : formatSize(n.size) + ' (' + formatPercent(n.size, currentGraph().nodes[0].size) + ')' +
                        (data.sampled ? ' \u00b1 ' + formatSize(n.se) : '') + ', ' + formatCount(n.count) + ' allocations';
    tooltip.appendChild(el('div', {}, line));
    tooltip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tooltip.offsetWidth > window.innerWidth) x = ev.clientX - tooltip.offsetWidth - 10;
    if (y + tooltip.offsetHeight > window.innerHeight) y = ev.clientY - tooltip.offsetHeight - 10;
    tooltip.style.left = x + 'px';
    tooltip.style.top = y + 'px';
    showDetails(n);
  });
  flameSvg.addEventListener('mouseleave', function () {
    tooltip.hidden = true;
    if (state.selected !== null) showDetails(currentGraph().nodes[state.selected]);
  });
  flameSvg.addEventListener('click', function (ev) {
    var n = nodeOfEvent(ev);
    if (!n) return;
    state.selected = n.i;
    var cur = state.zoom.length ? state.zoom[state.zoom.length - 1] : 0;
    if (n.i !== cur) {
      if (n.i === 0) state.zoom = [];
      else state.zoom.push(n.i);
    }
    renderFlame();
    showDetails(n);
  });
  document.getElementById('zoom-back').addEventListener('click', function () {
    state.zoom.pop();
    renderFlame();
  });
  document.getElementById('zoom-reset').addEventListener('click', function () {
    state.zoom = [];
    renderFlame();
  });
  document.getElementById('search').addEventListener('input', function (ev) {
    state.query = ev.target.value;
    applySearch();
  });

  function segButtons(container, options, active, onPick) {
    container.textContent = '';
    if (options.length < 2) return;
    options.forEach(function (o) {
      var b = el('button', { type: 'button', 'data-value': o[0] }, o[1]);
      if (o[0] === active) b.classList.add('active');
      b.addEventListener('click', function () { onPick(o[0]); });
      container.appendChild(b);
    });
  }

  function renderControls() {
    var tabs = [[isDiff ? 'diff' : 'snapshot', isDiff ? 'Difference' : 'Snapshot']];
    if (graphs.peak) tabs.push(['peak', 'Peak']);
    segButtons(document.getElementById('graph-tabs'), tabs, state.source, function (v) {
      state.source = v;
      state.zoom = [];
      state.selected = null;
      renderControls();
      renderFlame();
    });
    var hasPython = !!graphs[state.source + '-python'];
    if (!hasPython) state.pythonOnly = false;
    segButtons(document.getElementById('frame-toggle'),
               hasPython ? [['all', 'All frames'], ['python', 'Python only']] : [],
               state.pythonOnly ? 'python' : 'all', function (v) {
      state.pythonOnly = v === 'python';
      state.zoom = [];
      state.selected = null;
      renderControls();
      renderFlame();
    });
    document.getElementById('flame-title').textContent =
      isDiff ? 'Flame graph of the difference' : state.source === 'peak' ? 'Flame graph at the peak' : 'Flame graph';
  }

  function renderFlameLegend() {
    var lg = document.getElementById('flame-legend');
    lg.textContent = '';
    function item(colour, text) {
      var s = el('span');
      var sw = el('span', { 'class': 'swatch' });
      sw.style.background = colour;
      s.appendChild(sw);
      s.appendChild(document.createTextNode(text));
      lg.appendChild(s);
    }
    if (isDiff) {
      var s = el('span');
      s.appendChild(document.createTextNode('shrank'));
      s.appendChild(el('span', { 'class': 'gradient' }));
      s.appendChild(document.createTextNode('grew'));
      lg.appendChild(s);
    } else {
      item('hsl(33, 88%, 63%)', 'Python');
      item('hsl(202, 55%, 66%)', 'native (C)');
      item('hsl(265, 17%, 76%)', 'interpreter');
    }
    item('hsl(220, 8%, 88%)', 'others (merged small frames)');
    item('var(--match)', 'search match');
    lg.appendChild(el('span', {}, 'Width: bytes. Click a frame to zoom in; Back and Reset zoom out.'));
  }

  /* ---------- timeline ---------- */

  /* Ticks at 1, 2 or 5 times a power of ten from 0 to the first at or
   * above max. */
  function niceTicks(max, target) {
    if (!(max > 0)) return [0];
    var raw = max / target, p = Math.pow(10, Math.floor(Math.log10(raw))), step = p;
    [1, 2, 5, 10].some(function (m) { step = m * p; return step >= raw; });
    var ticks = [0];
    while (ticks[ticks.length - 1] < max && ticks.length < 50) ticks.push(ticks.length * step);
    return ticks;
  }

  function renderTimeline() {
    var tl = data.timeline, box = document.getElementById('timeline');
    var info = document.getElementById('timeline-info');
    var pts = tl.points.slice();
    if (!pts.length) {
      box.style.display = 'none';
      info.textContent = 'This snapshot has no timeline (snapshots written by tracemalloc or older ' +
        'mprofile versions have none; mprofile-report --timeline A B C plots several snapshots).';
      return;
    }
    var t0 = pts[0][0], t1 = pts[pts.length - 1][0], maxBytes = 0;
    pts.forEach(function (p) { for (var k = 1; k < 4; k++) if (p[k] !== null && p[k] > maxBytes) maxBytes = p[k]; });
    tl.snapshots.forEach(function (s) {
      t0 = Math.min(t0, s[0]);
      t1 = Math.max(t1, s[0]);
      maxBytes = Math.max(maxBytes, s[1]);
    });
    var span = Math.max(t1 - t0, 1e-3);
    var unitIdx = 0, units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    while (unitIdx < 4 && maxBytes / Math.pow(1024, unitIdx) >= 1024) unitIdx++;
    var unit = Math.pow(1024, unitIdx);
    var yTicks = niceTicks(maxBytes / unit, 5), yMax = yTicks[yTicks.length - 1] * unit || 1;
    var xTicks = niceTicks(span, 8), xMax = Math.max(span, xTicks[xTicks.length - 1]);
    var W = Math.max(400, box.clientWidth || 900), H = 280, L = 70, R = 36, T = 14, B = 42;
    box.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    box.textContent = '';
    function X(t) { return L + (t - t0) / xMax * (W - L - R); }
    function Y(b) { return T + (1 - b / yMax) * (H - T - B); }
    var grid = svg('g', { 'class': 'grid' }), axes = svg('g', { 'class': 'axis' });
    yTicks.forEach(function (v) {
      var y = Y(v * unit);
      grid.appendChild(svg('line', { x1: L, x2: W - R, y1: y, y2: y }));
      axes.appendChild(svg('text', { x: L - 8, y: y + 4, 'text-anchor': 'end' },
                           (v % 1 ? v.toFixed(1) : v.toFixed(0)) + ' ' + units[unitIdx]));
    });
    xTicks.forEach(function (v) {
      if (v > xMax * 1.0001) return;
      var x = X(t0 + v);
      grid.appendChild(svg('line', { x1: x, x2: x, y1: T, y2: H - B }));
      axes.appendChild(svg('text', { x: x, y: H - B + 16, 'text-anchor': 'middle' },
                           '+' + (v < 10 && v % 1 ? v.toFixed(v < 1 ? 2 : 1) : v.toFixed(0)) + ' s'));
    });
    axes.appendChild(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }));
    axes.appendChild(svg('line', { x1: L, x2: L, y1: T, y2: H - B }));
    axes.appendChild(svg('text', { 'class': 'axis-title', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' },
                         'time since ' + formatTime(t0)));
    box.appendChild(grid);
    box.appendChild(axes);
    var series = [
      { k: 1, name: 'live', colour: 'hsl(212, 80%, 45%)', width: 2, dash: '' },
      { k: 2, name: 'peak', colour: 'hsl(28, 90%, 50%)', width: 1.5, dash: '6 4' },
      { k: 3, name: 'rss', colour: 'hsl(145, 50%, 38%)', width: 1.5, dash: '' }
    ];
    series.forEach(function (s) {
      var p = pts.filter(function (q) { return q[s.k] !== null && (s.k !== 3 || q[3] > 0); });
      if (!p.length) return;
      var line = svg('polyline', { 'class': 'series series-' + s.name, fill: 'none', stroke: s.colour,
                                   'stroke-width': s.width, 'data-points': p.length,
                                   points: p.map(function (q) { return X(q[0]).toFixed(1) + ',' + Y(q[s.k]).toFixed(1); }).join(' ') });
      if (s.dash) line.setAttribute('stroke-dasharray', s.dash);
      box.appendChild(line);
      s.drawn = true;
    });
    tl.snapshots.forEach(function (s) {
      var c = svg('circle', { 'class': 'snapshot-marker', cx: X(s[0]), cy: Y(s[1]), r: 4.5,
                              fill: '#fff', stroke: 'hsl(212, 80%, 45%)', 'stroke-width': 2 });
      c.appendChild(svg('title', {}, s[2] + ': ' + formatSize(s[1]) + ' at ' + formatTime(s[0])));
      box.appendChild(c);
    });
    var peakMarked = typeof tl.peak_time === 'number' && tl.peak_time >= t0 - 1 && tl.peak_time <= t1 + 1;
    if (peakMarked) {
      var px = X(Math.min(Math.max(tl.peak_time, t0), t0 + xMax));
      box.appendChild(svg('line', { 'class': 'peak-marker', x1: px, x2: px, y1: T, y2: H - B,
                                    stroke: 'hsl(0, 75%, 50%)', 'stroke-width': 1.5, 'stroke-dasharray': '3 3' }));
      box.appendChild(svg('text', { x: px + 4, y: T + 10, fill: 'hsl(0, 75%, 45%)' }, 'peak'));
    }
    var lg = document.getElementById('timeline-legend');
    function key(colour, dash, text) {
      var s = el('span'), d = el('span', { 'class': 'dash' + (dash ? ' dashed' : '') });
      d.style.borderColor = colour;
      s.appendChild(d);
      s.appendChild(document.createTextNode(text));
      lg.appendChild(s);
    }
    var labels = { live: 'live bytes (estimated)', peak: 'peak bytes so far', rss: 'RSS (resident set size)' };
    series.forEach(function (s) { if (s.drawn) key(s.colour, s.dash, labels[s.name]); });
    if (tl.snapshots.length) {
      var sn = el('span'), ring = el('span', { 'class': 'swatch ring' });
      sn.appendChild(ring);
      sn.appendChild(document.createTextNode(!tl.series ? 'this snapshot'
                                             : 'snapshots (' + tl.snapshots.length + ')'));
      lg.appendChild(sn);
    }
    if (peakMarked) key('hsl(0, 75%, 50%)', true, 'peak time');
    var live = pts.map(function (p) { return p[1]; });
    info.textContent = pts.length + ' points over ' + span.toFixed(span < 10 ? 2 : 0) + ' s, live bytes from ' +
      formatSize(Math.min.apply(null, live)) + ' to ' + formatSize(Math.max.apply(null, live)) +
      (tl.series ? ', ' + tl.snapshots.length + ' snapshots' : '') + '.';
  }

  /* ---------- table ---------- */

  /* A row's location into the search box: its frames light up in the
   * flame graph (a filename row has line 0, which no frame has). */
  function findInFlame(location) {
    var q = data.group_by === 'filename' ? location.replace(/:0$/, '') : location;
    var box = document.getElementById('search');
    box.value = q;
    state.query = q;
    applySearch();
    document.getElementById('flame-section').scrollIntoView({ behavior: 'smooth' });
  }

  function renderRows() {
    var t = document.getElementById('rows'), rows = data.rows;
    var total = data.snapshot.total_size;
    document.getElementById('rows-title').textContent = isDiff ? 'What grew' : 'Top allocation sites';
    document.getElementById('rows-info').textContent = 'Top ' + rows.length + ' of ' + data.total_rows +
      ' rows, grouped by ' + data.group_by + (data.cumulative ? ' (cumulative)' : '') +
      ': the rows of the text report' + (data.sampled ? '; sizes are estimates, \u00b1 one standard error' : '') + '.';
    var head = el('tr'), cols = ['#', 'Location', 'Function', 'Size'];
    if (isDiff) cols.push('Change'); else if (data.sampled) cols.push('\u00b1');
    cols.push('Count');
    if (isDiff) cols.push('Count change');
    cols.forEach(function (c, i) { head.appendChild(el('th', { 'class': i >= 3 || i === 0 ? 'num' : '' }, c)); });
    t.appendChild(head);
    var maxSize = 1;
    rows.forEach(function (r) { maxSize = Math.max(maxSize, isDiff ? Math.abs(r.size_diff) : r.size); });
    rows.forEach(function (r, i) {
      var tr = el('tr', { title: r.location + ': ' + r.text + ' (click: find it in the flame graph)' });
      tr.addEventListener('click', function () { findInFlame(r.location); });
      tr.appendChild(el('td', { 'class': 'num' }, String(i + 1)));
      var loc = el('td', { 'class': 'loc' }, r.location);
      var bar = el('div', { 'class': 'bar' });
      bar.style.width = (100 * (isDiff ? Math.abs(r.size_diff) : r.size) / maxSize).toFixed(1) + '%';
      if (isDiff && r.size_diff < 0) bar.style.background = 'hsl(215, 70%, 55%)';
      loc.appendChild(bar);
      tr.appendChild(loc);
      tr.appendChild(el('td', {}, r.name === null ? '' : r.name));
      tr.appendChild(el('td', { 'class': 'num' }, formatSize(r.size) + (isDiff ? '' : ' (' + formatPercent(r.size, total) + ')')));
      if (isDiff) tr.appendChild(el('td', { 'class': 'num ' + (r.size_diff > 0 ? 'grow' : r.size_diff < 0 ? 'shrink' : '') },
                                    formatSize(r.size_diff, true)));
      else if (data.sampled) tr.appendChild(el('td', { 'class': 'num' }, r.size > 0 ? formatPercent(r.stderr, r.size) : '-'));
      tr.appendChild(el('td', { 'class': 'num' }, r.count.toLocaleString('en-US')));
      if (isDiff) tr.appendChild(el('td', { 'class': 'num' }, (r.count_diff >= 0 ? '+' : '') + r.count_diff.toLocaleString('en-US')));
      t.appendChild(tr);
    });
  }

  renderHeader();
  renderControls();
  renderFlameLegend();
  renderFlame();
  renderTimeline();
  renderRows();
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderFlame, 150);
  });
})();
