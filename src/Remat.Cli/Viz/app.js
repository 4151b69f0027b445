// The page of `remat viz` and of the static exports. Every figure comes from the JSON API (or, in a static
// export, from the same API's answers embedded in the page): the page draws, it never plans.
'use strict';
const $ = id => document.getElementById(id);
const MiB = 1024 * 1024;
const fmtBytes = b => b >= 1024 * MiB ? (b / 1024 / MiB).toFixed(2) + ' GiB' : (b / MiB).toFixed(1) + ' MiB';
const fmtNum = x => Number(x.toFixed(3)).toString();
const staticData = window.REMAT_STATIC || null;
const state = { plan: null, tradeoff: null, concept: null, chainJson: null, frame: 0, timer: null, charts: {} };

async function api(path, body) {
  const response = await fetch(path, body === undefined ? undefined
    : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw json;
  return json;
}

function chainRequest() {
  return state.chainJson ? { json: state.chainJson } : { layers: +$('layers').value, kind: $('kind').value, seed: 42 };
}

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message || '';
}

async function refreshChain() {
  showError('');
  try {
    // Store-all first: its answer carries the smallest feasible budget and store-all's peak for the slider.
    const bounds = await api('/api/plan', { chain: chainRequest(), strategy: 'storeall' });
    const slider = $('budget');
    slider.min = bounds.minimumBytes;
    slider.max = bounds.storeAllPeakBytes;
    slider.step = Math.max(1, Math.round((bounds.storeAllPeakBytes - bounds.minimumBytes) / 200));
    slider.value = Math.round((bounds.minimumBytes + bounds.storeAllPeakBytes) / 2);
    $('segments').value = Math.max(1, Math.round(Math.sqrt(bounds.stages.length)));
    $('snapshots').value = $('segments').value;
    state.tradeoff = await api('/api/tradeoff', chainRequest());
    drawTradeoff();
    drawProduct();
    state.concept = await api('/api/concept', chainRequest());
    drawConcept();
    await refreshPlan();
  } catch (e) {
    showError(e.error || String(e));
  }
}

async function refreshPlan() {
  const budget = +$('budget').value;
  $('budget-value').textContent = fmtBytes(budget);
  try {
    state.plan = await api('/api/plan', {
      chain: chainRequest(), strategy: $('strategy').value, budgetBytes: budget,
      segments: +$('segments').value, snapshots: +$('snapshots').value,
    });
    showError('');
  } catch (e) {
    showError(e.error || String(e));
    return;
  }
  showPlan();
}

function showPlan() {
  const p = state.plan;
  $('peak').textContent = fmtBytes(p.peakBytes);
  $('time').textContent = fmtNum(p.time) + ' (store-all ' + fmtNum(p.baselineTime) + ')';
  $('overhead').textContent = '+' + (100 * p.overhead).toFixed(1) + '%';
  $('forwards').textContent = p.forwardCount + ' for ' + p.stages.length + ' layers';
  buildChain();
  setFrame(0);
  drawMemory();
  drawGantt();
  drawTradeoff();
}

// The operations along the compute time, one bar each: what each one costs and where the recomputations fall.
function drawGantt() {
  const p = state.plan, seen = new Set(), kinds = { first: [], again: [], backward: [] };
  p.ops.forEach((o, i) => {
    const start = i === 0 ? 0 : p.timeAfter[i - 1], end = p.timeAfter[i];
    if (end === start) return;
    const kind = o.op === 'B' ? 'backward' : seen.has(o.stage) ? 'again' : 'first';
    if (o.op !== 'B') seen.add(o.stage);
    kinds[kind].push({ x: [start, end], y: 'ops', op: describe(o) });
  });
  const style = { first: ['first forward', '#93c5fd'], again: ['recomputed forward', '#dc2626'], backward: ['backward', '#6b7280'] };
  chart('gantt', {
    type: 'bar',
    data: { datasets: Object.entries(kinds).map(([k, data]) => ({ label: style[k][0], data, backgroundColor: style[k][1], borderWidth: 0, barPercentage: 1, categoryPercentage: 1 })) },
    options: { animation: false, maintainAspectRatio: false, indexAxis: 'y', parsing: { xAxisKey: 'x', yAxisKey: 'y' },
      scales: { x: { type: 'linear', min: 0, max: p.time, title: { display: true, text: 'compute time' } }, y: { type: 'category', labels: ['ops'], stacked: true } },
      plugins: { tooltip: { callbacks: { label: c => c.raw.op } } } },
  });
}

// The seed's claims, with this chain's numbers: O(L) against O(sqrt L), the price of one recompute, selective recompute.
function drawConcept() {
  const c = state.concept, pts = c.scaling, last = pts[pts.length - 1], first = pts[0];
  const line = (label, key, color) => ({ label, data: pts.map(q => ({ x: q.layers, y: q[key] / MiB })), borderColor: color, backgroundColor: color, pointRadius: 3 });
  chart('scaling', {
    type: 'line',
    data: { datasets: [line('store-all: O(L)', 'storeAllBytes', '#6b7280'), line('√L segments: O(√L)', 'sqrtBytes', '#3b82f6'), line('least any schedule needs', 'minimumBytes', '#16a34a')] },
    options: { animation: false, maintainAspectRatio: false, parsing: false,
      scales: { x: { type: 'linear', title: { display: true, text: 'layers (the first L of this chain)' } }, y: { title: { display: true, text: 'peak memory (MiB)' } } },
      plugins: { title: { display: true, text: 'Peak memory over depth' } } },
  });
  const grow = key => (last[key] / first[key]).toFixed(1);
  const pct = x => (100 * x).toFixed(1) + '%';
  const [none, selective, full] = c.recompute;
  $('claims').innerHTML =
    `<p><b>O(√L) against O(L).</b> From ${first.layers} to ${last.layers} layers, store-all's peak grows ×${grow('storeAllBytes')} ` +
    `and the √L plan's ×${grow('sqrtBytes')}; √(${last.layers}/${first.layers}) = ${Math.sqrt(last.layers / first.layers).toFixed(1)}.</p>` +
    `<p><b>One recompute costs about a third.</b> A forward is ${pct(c.forwardShare)} of a step here (Σf / (Σf + Σb); 33% when a backward ` +
    `costs two forwards). The √L plan (${c.sqrtSegments} segments) recomputes all but its last segment once: +${pct(c.sqrtOverhead)} by the simulator.</p>` +
    `<p><b>Memory × compute over segments</b> is the right chart above: its minimum sits near √L.</p>` +
    `<p><b>Selective recompute.</b> On a ${c.transformer} layer (t = 8, sequence parallel), recomputing only the attention's softmax and dropout ` +
    `keeps ${pct(selective.activationBytesPerLayer / none.activationBytesPerLayer)} of the activations for +${pct(selective.computeOverhead)} compute; ` +
    `full recompute keeps ${pct(full.activationBytesPerLayer / none.activationBytesPerLayer)} for +${pct(full.computeOverhead)} (the calculator tab has the rest).</p>`;
}

function buildChain() {
  const chain = $('chain');
  chain.replaceChildren();
  const maxBytes = Math.max(...state.plan.stages.map(s => s.savedBytes));
  state.plan.stages.forEach((s, i) => {
    const box = document.createElement('div');
    box.className = 'layer';
    box.title = `layer ${i + 1}: output ${fmtBytes(s.outputBytes)}, saved ${fmtBytes(s.savedBytes)}`;
    box.style.height = (16 + 30 * s.savedBytes / maxBytes) + 'px';
    chain.appendChild(box);
  });
}

// The state of the layers after `frame` operations, for drawing: which outputs are kept plainly, which are recorded.
function layerStates(frame) {
  const p = state.plan, L = p.stages.length;
  const plain = new Array(L + 1).fill(false), record = new Array(L + 1).fill(false);
  const forwards = new Array(L + 1).fill(0), done = new Array(L + 1).fill(false);
  plain[0] = true;
  for (let i = 0; i < frame; i++) {
    const { op, stage: k } = p.ops[i];
    if (op === 'Fn' || op === 'Fck') { plain[k] = true; forwards[k]++; if (op === 'Fn' && k > 1) plain[k - 1] = false; }
    else if (op === 'Fe') { record[k] = true; forwards[k]++; }
    else if (op === 'Loss') { plain[L] = false; }
    else if (op === 'B') { record[k] = false; done[k] = true; plain[k - 1] = false; }
  }
  return { plain, record, forwards, done };
}

function setFrame(frame) {
  const p = state.plan;
  state.frame = Math.max(0, Math.min(frame, p.ops.length));
  const s = layerStates(state.frame);
  const current = state.frame > 0 ? p.ops[state.frame - 1] : null;
  [...$('chain').children].forEach((box, i) => {
    const k = i + 1;
    box.className = 'layer' + (s.done[k] ? ' done' : s.record[k] ? ' record' : s.plain[k] ? ' plain' : '') +
      (s.forwards[k] > 1 ? ' recomputed' : '') + (current && current.stage === k ? ' current' : '');
  });
  $('op-label').textContent = state.frame === 0 ? 'before the first operation'
    : `operation ${state.frame} of ${p.ops.length}: ${describe(current)}; memory ${fmtBytes(p.memoryAfter[state.frame - 1])}`;
  const memory = state.charts.memory;
  if (memory) {
    memory.data.datasets[3].data = state.frame === 0 ? [] : [{ x: state.frame, y: p.memoryAfter[state.frame - 1] / MiB }];
    memory.update('none');
  }
}

function describe(op) {
  switch (op.op) {
    case 'Fn': return `forward of layer ${op.stage}, keeping only its output`;
    case 'Fck': return `forward of layer ${op.stage}, keeping its input as a checkpoint`;
    case 'Fe': return `forward of layer ${op.stage}, recording what its backward needs`;
    case 'Loss': return 'the loss, and its gradient';
    default: return `backward of layer ${op.stage}`;
  }
}

function play() {
  if (state.timer) { clearInterval(state.timer); state.timer = null; $('play').textContent = 'Play'; return; }
  if (state.frame >= state.plan.ops.length) setFrame(0);
  $('play').textContent = 'Pause';
  state.timer = setInterval(() => {
    if (state.frame >= state.plan.ops.length) { play(); return; }
    setFrame(state.frame + 1);
  }, 1000 / +$('speed').value);
}

function chart(id, config) {
  state.charts[id]?.destroy();
  state.charts[id] = new Chart($(id + '-chart'), config);
  return state.charts[id];
}

// A trace's memory after and peak during each operation, and the budget's line, as chart datasets.
const stepPoints = a => a.map((y, i) => ({ x: i + 1, y: y / MiB }));
const traceLines = trace => [
  { label: 'memory after each operation', data: stepPoints(trace.memoryAfter), borderColor: '#3b82f6', pointRadius: 0, stepped: true },
  { label: 'peak during each operation', data: stepPoints(trace.peakDuring), borderColor: '#93c5fd', borderDash: [4, 3], pointRadius: 0, stepped: true },
];
const budgetLine = (bytes, operations) =>
  ({ label: 'budget ' + fmtBytes(bytes), data: [{ x: 1, y: bytes / MiB }, { x: operations, y: bytes / MiB }], borderColor: '#111827', borderDash: [8, 4], pointRadius: 0 });
const memoryScales = { x: { type: 'linear', title: { display: true, text: 'operation' } }, y: { title: { display: true, text: 'MiB' } } };

function drawMemory() {
  const p = state.plan, n = p.ops.length;
  const peakIndex = p.peakDuring.indexOf(Math.max(...p.peakDuring));
  const datasets = [
    ...traceLines(p),
    { label: 'peak ' + fmtBytes(p.peakBytes), data: [{ x: peakIndex + 1, y: p.peakBytes / MiB }], borderColor: '#dc2626', backgroundColor: '#dc2626', pointRadius: 6, showLine: false },
    { label: 'now', data: [], borderColor: '#f59e0b', backgroundColor: '#f59e0b', pointRadius: 7, showLine: false },
  ];
  if (p.budgetBytes) datasets.push(budgetLine(p.budgetBytes, n));
  if (p.measured) {
    datasets.push({ label: 'measured memory after each operation', data: stepPoints(p.measured.memoryAfter), borderColor: '#16a34a', pointRadius: 0, stepped: true });
    datasets.push({ label: 'measured peak during each operation', data: stepPoints(p.measured.peakDuring), borderColor: '#86efac', borderDash: [4, 3], pointRadius: 0, stepped: true });
  }
  chart('memory', {
    type: 'line', data: { datasets },
    options: { animation: false, maintainAspectRatio: false, parsing: false, scales: memoryScales,
      plugins: { title: { display: true, text: p.measured ? 'Memory over the training step: planned (the simulator) and measured (a real step)' : 'Memory over the training step (the simulator\'s trace)' } } },
  });
  drawOpTimes();
}

// Planned against measured time of each operation, when the report carries a measured step (remat train --html).
function drawOpTimes() {
  const p = state.plan, box = $('optime');
  if (!box) return;
  box.hidden = !p.measured;
  if (!p.measured) return;
  const each = a => a.map((t, i) => (t - (i === 0 ? 0 : a[i - 1])) * 1000);
  const labels = p.ops.map(o => o.op === 'Loss' ? 'Loss' : `${o.op}(${o.stage})`);
  chart('optime', {
    type: 'bar',
    data: { labels, datasets: [
      { label: 'planned (ms)', data: each(p.timeAfter), backgroundColor: '#93c5fd' },
      { label: 'measured (ms)', data: each(p.measured.timeAfter), backgroundColor: '#16a34a' },
    ] },
    options: { animation: false, maintainAspectRatio: false,
      scales: { y: { title: { display: true, text: 'ms' } } },
      plugins: { title: { display: true, text: `Time of each operation: planned ${(p.time * 1000).toFixed(1)} ms, measured ${(p.measured.time * 1000).toFixed(1)} ms in all` } } },
  });
}

function drawTradeoff() {
  const t = state.tradeoff;
  if (!t) return;
  const pt = q => ({ x: q.peakBytes / MiB, y: q.time, label: q.label });
  const constant = t.sqrtPoint.peakBytes / MiB * t.sqrtPoint.time;
  const xs = t.frontier.map(q => q.peakBytes / MiB);
  const lo = Math.min(...xs), hi = Math.max(...xs);
  const curve = Array.from({ length: 40 }, (_, i) => { const x = lo + (hi - lo) * i / 39; return { x, y: constant / x }; });
  const datasets = [
    { label: 'optimal frontier', data: t.frontier.map(pt), borderColor: '#16a34a', backgroundColor: '#16a34a', showLine: true, pointRadius: 2 },
    { label: 'strategies', data: t.strategies.map(pt), borderColor: '#3b82f6', backgroundColor: '#3b82f6', pointRadius: 5, showLine: false },
    { label: '√L segments', data: [pt(t.sqrtPoint)], borderColor: '#dc2626', backgroundColor: '#dc2626', pointRadius: 8, pointStyle: 'star', showLine: false },
    { label: 'memory × compute = constant', data: curve, borderColor: '#9ca3af', borderDash: [5, 4], pointRadius: 0, showLine: true },
  ];
  if (state.plan) datasets.push({ label: 'this plan', data: [pt({ peakBytes: state.plan.peakBytes, time: state.plan.time, label: 'this plan' })], borderColor: '#f59e0b', backgroundColor: '#f59e0b', pointRadius: 7, showLine: false });
  chart('tradeoff', {
    type: 'scatter', data: { datasets },
    options: { animation: false, maintainAspectRatio: false,
      scales: { x: { title: { display: true, text: 'peak memory (MiB)' } }, y: { title: { display: true, text: 'compute time' }, suggestedMin: 0 } },
      plugins: { title: { display: true, text: 'Less memory costs more compute' },
        tooltip: { callbacks: { label: c => `${c.raw.label || c.dataset.label}: ${c.raw.x.toFixed(1)} MiB, ${c.raw.y.toFixed(2)}` } } } },
  });
}

function drawProduct() {
  const t = state.tradeoff;
  const min = Math.min(...t.segments.map(s => s.product));
  chart('product', {
    type: 'line',
    data: { datasets: [
      { label: 'memory × compute (periodic, relative to its minimum)', data: t.segments.map(s => ({ x: s.segments, y: s.product / min })), borderColor: '#3b82f6', pointRadius: 2 },
      { label: '√L = ' + t.sqrtSegments + ' segments', data: t.segments.filter(s => s.segments === t.sqrtSegments).map(s => ({ x: s.segments, y: s.product / min })), borderColor: '#dc2626', backgroundColor: '#dc2626', pointRadius: 8, pointStyle: 'star', showLine: false },
      { label: 'minimum', data: t.segments.filter(s => s.product === min).map(s => ({ x: s.segments, y: 1 })), borderColor: '#16a34a', backgroundColor: '#16a34a', pointRadius: 7, showLine: false },
    ] },
    options: { animation: false, maintainAspectRatio: false, parsing: false,
      scales: { x: { type: 'linear', title: { display: true, text: 'segments' } }, y: { title: { display: true, text: 'memory × compute' } } },
      plugins: { title: { display: true, text: 'Memory × compute over the number of segments' } } },
  });
}

// The calculator: every setting is a `remat memory` option; the answer is that command's JSON (GET /api/memory).
const fields = [
  ['preset', 'Model', 'select'], ['layers', 'Layers'], ['hidden', 'Hidden size'], ['heads', 'Heads'], ['kv-heads', 'KV heads'],
  ['ffn', 'FFN size'], ['vocab', 'Vocabulary'], ['gated', 'SwiGLU', 'check'], ['seq', 'Sequence'], ['micro-batch', 'Micro-batch'],
  ['micro-batches', 'Micro-batches'], ['tp', 'Tensor parallel'], ['pp', 'Pipeline parallel'], ['interleave', 'Interleaved chunks'],
  ['sp', 'Sequence parallel', 'check'], ['dp', 'Data parallel'], ['zero', 'ZeRO stage', 'select', ['0', '1', '2', '3']],
  ['recompute', 'Recompute', 'select', ['none', 'selective', 'full']], ['recompute-layers', 'Full layers per stage'],
  ['activation-bytes', 'Activation dtype', 'select', [['2', 'bf16/fp16'], ['4', 'fp32']]], ['flash', 'Flash attention', 'check'],
  ['gpu-memory', 'GPU memory', 'text'],
  ['gpu', 'GPU (for the time)', 'select', [['', 'none'], ['a100', 'A100'], ['h100', 'H100'], ['h200', 'H200']]],
  ['attention', 'Attention kernels', 'select', [['unfused', 'unfused'], ['fused', 'fused softmax']]],
];
const defaults = { preset: 'gpt-175b', 'gpu-memory': '80GiB', zero: '0', recompute: 'none', 'activation-bytes': '2', gpu: 'h100', attention: 'unfused' };
const implied = ['zero', 'recompute', 'activation-bytes', 'attention']; // left out of the link and the command at their default
const calculator = { results: {} };

async function buildCalculator() {
  const presets = await api('/api/presets');
  for (const side of ['a', 'b']) {
    const form = $('config-' + side);
    form.innerHTML = '<h2>Configuration ' + side.toUpperCase() + '</h2>';
    for (const [name, label, kind, options] of fields) {
      const id = side + '-' + name;
      const l = document.createElement('label');
      l.htmlFor = id;
      l.textContent = label;
      let input;
      if (kind === 'select') {
        input = document.createElement('select');
        const list = name === 'preset' ? [['', 'custom'], ...presets.map(p => [p, p])] : options.map(o => Array.isArray(o) ? o : [o, o]);
        for (const [value, text] of list) input.add(new Option(text, value));
      } else {
        input = document.createElement('input');
        input.type = kind === 'check' ? 'checkbox' : kind === 'text' ? 'text' : 'number';
        if (input.type === 'number') input.min = name === 'zero' ? 0 : 1;
        if (kind !== 'check') input.placeholder = name === 'preset' ? '' : 'default';
      }
      input.id = id;
      input.name = name;
      input.addEventListener('change', () => { saveCalculator(); refreshCalculator(side); });
      form.append(l, input);
    }
  }
}

function settings(side) {
  const q = new URLSearchParams();
  for (const [name, , kind] of fields) {
    const input = $(side + '-' + name);
    if (kind === 'check') { if (input.checked) q.set(name, 'true'); }
    else if (input.value !== '' && !(implied.includes(name) && input.value === defaults[name])) q.set(name, input.value);
  }
  return q;
}

function load(side, query) {
  const q = new URLSearchParams(query);
  for (const [name, , kind] of fields) {
    const input = $(side + '-' + name);
    const value = q.has(name) ? q.get(name) : (defaults[name] || '');
    if (kind === 'check') input.checked = value === 'true'; else input.value = value;
  }
}

function saveCalculator() {
  const hash = '#transformer?a=' + encodeURIComponent(settings('a')) + '&b=' + encodeURIComponent(settings('b'));
  history.replaceState(null, '', hash);
}

function command(q) {
  const parts = ['remat memory'];
  for (const [name, value] of q) parts.push(value === 'true' ? '--' + name : '--' + name + ' ' + value);
  return parts.join(' ') + ' --recommend';
}

async function refreshCalculator(side) {
  const verdict = $('verdict-' + side);
  const q = settings(side);
  try {
    const r = await api('/api/memory?' + q);
    calculator.results[side] = r;
    const gib = b => fmtBytes(b);
    const fit = r.fits ? '<span class="fits">fits</span>, ' + gib(r.marginBytes) + ' to spare'
      : '<span class="over">does not fit</span>, ' + gib(-r.marginBytes) + ' over';
    const pct = x => (100 * x).toFixed(1) + '%';
    const cost = (flops, time) => time === undefined ? '+' + pct(flops) + ' compute' : '+' + pct(time) + ' time (+' + pct(flops) + ' FLOPs)';
    const rec = r.recommendation
      ? 'Cheapest setting that fits: <b>' + r.recommendation.recompute + ' recompute' +
        (r.recommendation.fullyRecomputedLayers ? ' + ' + r.recommendation.fullyRecomputedLayers + ' fully recomputed layer' + (r.recommendation.fullyRecomputedLayers > 1 ? 's' : '') + ' per stage' : '') +
        '</b>, ' + gib(r.recommendation.totalBytes) + ', ' + cost(r.recommendation.recomputeOverhead, r.recommendation.timeOverhead) + '.'
      : 'Nothing fits, even full recompute: add tensor or pipeline parallelism, ZeRO, or a smaller micro-batch.';
    const time = r.time
      ? ' Predicted on an ' + r.time.gpu.toUpperCase() + ' (' + (r.time.attention === 'flash' ? 'flash attention' : r.time.attention === 'fusedsoftmax' ? 'fused softmax' : 'unfused attention') +
        ', roofline): ' + (1000 * r.time.stepSeconds).toFixed(1) + ' ms per micro-batch through the stage\'s layers.'
      : '';
    verdict.innerHTML = '<b>' + side.toUpperCase() + ':</b> ' + gib(r.totalBytes) + ' per GPU of ' + gib(r.gpuBytes) + ': ' + fit +
      '. This setting costs ' + cost(r.recomputeOverhead, r.time && r.time.recomputeOverhead) + '.' + time + ' ' + rec + '<code></code>';
    verdict.querySelector('code').textContent = command(q);
  } catch (e) {
    calculator.results[side] = null;
    verdict.textContent = side.toUpperCase() + ': ' + (e.error || String(e));
  }
  drawCalculator();
}

function drawCalculator() {
  const sides = ['a', 'b'].filter(s => calculator.results[s]);
  const terms = [];
  for (const s of sides) {
    const r = calculator.results[s];
    for (const t of [...r.modelStateTerms, ...r.activationTerms]) if (!terms.includes(t.name)) terms.push(t.name);
  }
  const colors = ['#1e3a8a', '#3b82f6', '#93c5fd', '#16a34a', '#86efac', '#f59e0b', '#fcd34d', '#dc2626', '#a855f7', '#6b7280'];
  const value = (s, name) => {
    const r = calculator.results[s];
    const t = [...r.modelStateTerms, ...r.activationTerms].find(x => x.name === name);
    return t ? t.bytes / 1024 / MiB : 0;
  };
  chart('calculator', {
    type: 'bar',
    data: {
      labels: sides.map(s => 'Configuration ' + s.toUpperCase()),
      datasets: [
        ...terms.map((name, i) => ({ label: name, data: sides.map(s => value(s, name)), backgroundColor: colors[i % colors.length], stack: 'memory' })),
        { type: 'line', label: 'GPU memory', data: sides.map(s => calculator.results[s].gpuBytes / 1024 / MiB), borderColor: '#111827', borderDash: [6, 4], pointRadius: 6, showLine: false },
      ],
    },
    options: { animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'GiB per GPU' } } },
      plugins: { title: { display: true, text: 'Memory per GPU by term' } } },
  });
}

async function showTransformer() {
  if (!$('a-preset')) await buildCalculator();
  const hash = location.hash.split('?')[1] || '';
  const q = new URLSearchParams(hash);
  load('a', q.get('a') || '');
  load('b', q.get('b') || (q.get('a') || 'recompute=selective'));
  saveCalculator();
  await Promise.all([refreshCalculator('a'), refreshCalculator('b')]);
}

// The graph tab: a synthetic graph planned by a graph strategy (/api/graph; optimal is CP-SAT), its nodes and skips, and
// its memory over the step.
async function showGraph() {
  const status = $('graph-status');
  const strategy = $('graph-strategy').value;
  status.textContent = strategy === 'optimal' ? 'Planning with CP-SAT...' : 'Planning...';
  let g;
  try {
    g = await api('/api/graph', { model: $('graph-model').value, budgetFraction: +$('graph-budget').value / 100, timeLimitSeconds: +$('graph-seconds').value, strategy });
  } catch (e) {
    status.textContent = e.error || String(e);
    return;
  }
  const recomputed = g.nodes.filter(n => n.forwards > 1).length, freed = g.nodes.filter(n => n.freed).length;
  const proof = g.strategy !== 'optimal' ? '' : '; ' + (g.optimal ? 'proven optimal' : g.gap === null ? 'the starting plan (nothing proven in time)' : 'within ' + (g.gap * 100).toFixed(1) + '% of the optimum (proven)');
  const against = g.peakBytes <= g.budgetBytes ? `of a ${fmtBytes(g.budgetBytes)} budget` : `over the ${fmtBytes(g.budgetBytes)} budget`;
  status.textContent = `${g.model}, ${g.nodes.length} nodes, ${g.strategy}: peak ${fmtBytes(g.peakBytes)} ${against} ` +
    `(store-all ${fmtBytes(g.storeAllPeakBytes)}), ${((g.time / g.baselineTime - 1) * 100).toFixed(1)}% extra time, ` +
    `${recomputed} nodes recomputed, ${freed} outputs freed early${proof}.`;
  drawGraph(g);
  chart('graph-memory', {
    type: 'line',
    data: { datasets: [...traceLines(g), budgetLine(g.budgetBytes, g.ops.length)] },
    options: { animation: false, maintainAspectRatio: false, parsing: false, scales: memoryScales,
      plugins: { title: { display: true, text: 'Memory over the training step (the graph simulator\'s trace)' } } },
  });
}

function drawGraph(g) {
  const svg = $('graph-drawing'), width = svg.clientWidth || 1000, height = 180, base = 150, n = g.nodes.length;
  const x = v => 10 + (width - 20) * (v - 0.5) / n;
  const ns = 'http://www.w3.org/2000/svg';
  const add = (tag, attributes, parent = svg) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
    parent.appendChild(e);
    return e;
  };
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  g.nodes.forEach((node, i) => {
    for (const u of node.inputs) {
      if (u === 0) continue;
      const rise = Math.min(base - 10, 6 * (i + 1 - u));
      add('path', { class: 'edge', d: `M ${x(u)} ${base} Q ${(x(u) + x(i + 1)) / 2} ${base - 2 * rise} ${x(i + 1)} ${base}` });
    }
  });
  const r = Math.max(2, Math.min(6, (width - 20) / n / 2 - 1));
  g.nodes.forEach((node, i) => {
    const c = add('circle', { cx: x(i + 1), cy: base, r, class: (node.forwards > 1 ? 'recomputed' : 'kept') + (node.freed ? ' freed' : ''), 'data-node': i + 1 });
    add('title', {}, c).textContent = `${node.name}: ${node.forwards} forward${node.forwards > 1 ? 's' : ''}, output ${fmtBytes(node.outputBytes)}${node.freed ? ', freed early' : ''}`;
    if (node.forwards > 1) add('text', { x: x(i + 1), y: base + r + 11 }).textContent = node.forwards;
  });
}

function selectTab(name) {
  for (const tab of ['chain', 'transformer', 'graph']) {
    $('tab-' + tab).setAttribute('aria-selected', String(tab === name));
    $('panel-' + tab).hidden = tab !== name;
  }
  if (name === 'transformer') showTransformer().catch(e => showError(e.error || String(e)));
  if (name === 'graph' && !state.charts['graph-memory']) showGraph();
}

function wire() {
  $('layers').addEventListener('input', () => { $('layers-value').textContent = $('layers').value; });
  $('layers').addEventListener('change', () => { state.chainJson = null; refreshChain(); });
  $('kind').addEventListener('change', () => { state.chainJson = null; refreshChain(); });
  $('chain-file').addEventListener('change', async () => {
    const file = $('chain-file').files[0];
    if (file) { state.chainJson = await file.text(); refreshChain(); }
  });
  for (const id of ['strategy', 'segments', 'snapshots']) $(id).addEventListener('change', refreshPlan);
  $('budget').addEventListener('input', () => { $('budget-value').textContent = fmtBytes(+$('budget').value); });
  $('budget').addEventListener('change', refreshPlan);
  $('play').addEventListener('click', play);
  $('step').addEventListener('click', () => setFrame(state.frame + 1));
  $('tab-chain').addEventListener('click', () => selectTab('chain'));
  $('tab-transformer').addEventListener('click', () => selectTab('transformer'));
  $('tab-graph').addEventListener('click', () => selectTab('graph'));
  $('graph-budget').addEventListener('input', () => { $('graph-budget-value').textContent = $('graph-budget').value + '%'; });
  for (const id of ['graph-model', 'graph-strategy', 'graph-budget', 'graph-seconds']) $(id).addEventListener('change', showGraph);
  document.addEventListener('keydown', e => {
    if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
    if (e.key === ' ') { e.preventDefault(); play(); }
    if (e.key === 'ArrowRight') setFrame(state.frame + 1);
    if (e.key === 'ArrowLeft') setFrame(state.frame - 1);
  });
}

if (staticData) {
  // A static export: the answers are embedded; only the animation runs.
  document.body.classList.add('static');
  $('tab-transformer').hidden = true;
  $('tab-graph').hidden = true;
  state.plan = staticData.plan;
  state.tradeoff = staticData.tradeoff;
  $('play').addEventListener('click', play);
  $('step').addEventListener('click', () => setFrame(state.frame + 1));
  drawProduct();
  showPlan();
} else {
  wire();
  refreshChain();
  if (location.hash.startsWith('#transformer')) selectTab('transformer');
  if (location.hash.startsWith('#graph')) selectTab('graph');
}
