// charts.js - the dashboard's two kinds of chart, drawn by Chart.js (loaded
// as the classic script vendor/chart.umd.js, which defines window.Chart).
// Without it (web assets not built) chartsAvailable() is false and the
// pages show their tables alone.

export function chartsAvailable() {
  return typeof window.Chart === 'function';
}

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function baseOptions() {
  const text = cssVar('--fg-muted', '#555');
  const grid = cssVar('--border', '#ddd');
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    color: text,
    scales: {
      x: { ticks: { color: text }, grid: { color: grid } },
      y: { ticks: { color: text }, grid: { color: grid } },
    },
  };
}

// Percent tick labels with as many decimals as the tick spacing needs, so
// that no two ticks of a narrow range (91.2%, 91.4%) read the same.
export function percentTick(value, index, ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) * 100 : 1;
  const decimals = step > 0 ? Math.min(4, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
  return `${(value * 100).toFixed(decimals)}%`;
}

// Epoch ticks on whole epochs only (points between them, per step, have none).
function epochTick(value) {
  return Number.isInteger(value) ? value : '';
}

// A per-epoch curve with a training and a validation series (or, with
// `single` set, one series of that name, set as 'train'), and optionally a
// third, `steps`: values taken every few batches, at fractional epochs
// (step / steps per epoch), drawn thin, so the first epoch is not empty.
// createCurveChart(canvas, {yTitle, percent, single, steps}) ->
//   {set(series, epoch, value), count(series), setEpochs(n), destroy()}
//   series is 'train', 'val' or 'step'; setting an epoch again replaces its
//   value; setEpochs(n) spans the x axis over the run's n epochs.
export function createCurveChart(canvas, { yTitle, percent = false, single = null, steps = null }) {
  const train = cssVar('--chart-train', '#2563eb');
  const val = cssVar('--chart-val', '#d97706');
  const options = baseOptions();
  options.interaction = { mode: 'nearest', axis: 'x', intersect: false };
  options.plugins = { legend: { labels: { usePointStyle: true, pointStyle: 'line', color: options.color } } };
  options.scales.x = { ...options.scales.x, type: 'linear', min: 0, title: { display: true, text: 'epoch' },
    ticks: { ...options.scales.x.ticks, stepSize: 1, callback: epochTick } };
  options.scales.y = { ...options.scales.y, title: { display: true, text: yTitle } };
  if (percent) options.scales.y.ticks = { ...options.scales.y.ticks, callback: percentTick };
  const stepColor = cssVar('--chart-step', '#93c5fd');
  const datasets = [
    { label: single || 'training', data: [], borderColor: train, backgroundColor: train, tension: 0.2 },
    ...(single ? [] : [{ label: 'validation', data: [], borderColor: val, backgroundColor: val, borderDash: [6, 4], tension: 0.2 }]),
    ...(steps ? [{ label: steps, data: [], borderColor: stepColor, backgroundColor: stepColor, borderWidth: 1,
      pointRadius: 0, tension: 0 }] : []),
  ];
  const chart = new window.Chart(canvas, { type: 'line', data: { datasets }, options });
  const index = { train: 0, val: single ? -1 : 1, step: steps ? datasets.length - 1 : -1 };
  return {
    chart,
    // redraw false: the caller redraws once after many (redraw()).
    set(series, epoch, value, redraw = true) {
      const ds = chart.data.datasets[index[series]];
      if (!ds) return;
      const { data } = ds;
      const last = data[data.length - 1];
      if (!last || last.x < epoch) data.push({ x: epoch, y: value }); // in order: the usual case
      else {
        const at = data.findIndex((p) => p.x === epoch);
        if (at >= 0) data[at] = { x: epoch, y: value };
        else {
          data.push({ x: epoch, y: value });
          data.sort((a, b) => a.x - b.x);
        }
      }
      if (redraw) chart.update('none');
    },
    redraw: () => chart.update('none'),
    count: (series) => chart.data.datasets[index[series]].data.length,
    setEpochs(n) {
      if (!(n > 0) || chart.options.scales.x.max === n) return;
      chart.options.scales.x.max = n;
      chart.update('none');
    },
    destroy: () => chart.destroy(),
  };
}

// Ten (or n) class probabilities as bars; the predicted class stands out.
// createProbabilityChart(canvas) -> {show(probabilities, labelNames, predicted), destroy()}
export function createProbabilityChart(canvas) {
  const base = cssVar('--chart-bar', '#94a3b8');
  const hit = cssVar('--chart-train', '#2563eb');
  const options = baseOptions();
  options.plugins = { legend: { display: false } };
  options.scales.y = { ...options.scales.y, min: 0, max: 1,
    ticks: { ...options.scales.y.ticks, callback: percentTick } };
  const chart = new window.Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'probability', data: [], backgroundColor: [] }] },
    options,
  });
  return {
    chart,
    show(probabilities, names, predicted) {
      chart.data.labels = names;
      chart.data.datasets[0].data = probabilities;
      chart.data.datasets[0].backgroundColor = probabilities.map((_, i) => (i === predicted ? hit : base));
      chart.update('none');
    },
    destroy: () => chart.destroy(),
  };
}

// Several jobs' curves on one chart (the comparison page): one colour per
// job, training solid and validation dashed.
// createCompareChart(canvas, {yTitle, percent, series: [{label, color, dashed, points: [{x, y}]}]})
export function createCompareChart(canvas, { yTitle, percent = false, series }) {
  const options = baseOptions();
  options.interaction = { mode: 'nearest', axis: 'x', intersect: false };
  options.plugins = { legend: { labels: { usePointStyle: true, pointStyle: 'line', color: options.color } } };
  options.scales.x = { ...options.scales.x, type: 'linear', title: { display: true, text: 'epoch' },
    ticks: { ...options.scales.x.ticks, precision: 0 } };
  options.scales.y = { ...options.scales.y, title: { display: true, text: yTitle } };
  if (percent) options.scales.y.ticks = { ...options.scales.y.ticks, callback: percentTick };
  const chart = new window.Chart(canvas, {
    type: 'line',
    data: {
      datasets: series.map((s) => ({ label: s.label, data: s.points, borderColor: s.color, backgroundColor: s.color,
        borderDash: s.dashed ? [6, 4] : [], tension: 0.2 })),
    },
    options,
  });
  return { chart, destroy: () => chart.destroy() };
}
