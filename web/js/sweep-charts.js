// sweep-charts.js - the sweep page's scatter plot of one setting against the
// sweep's metric (Chart.js, as charts.js loads it): a point per finished or
// running child, the best child drawn larger, pruned children hollow.
import { chartsAvailable } from './charts.js';

export { chartsAvailable };

// points: [{x, y, label, best, pruned}]; xLabels: category names when the
// setting is not a number (x is then an index into them).
export function createScatterChart(canvas, { xTitle, yTitle, percent, points, xLabels }) {
  const fg = getComputedStyle(document.documentElement).getPropertyValue('--fg-muted').trim() || '#555';
  const colour = getComputedStyle(document.documentElement).getPropertyValue('--chart-train').trim() || '#2563eb';
  const best = '#16a34a';
  const x = { type: 'linear', title: { display: true, text: xTitle }, ticks: { color: fg } };
  if (xLabels) {
    x.ticks.stepSize = 1;
    x.ticks.callback = (v) => (Number.isInteger(v) && xLabels[v] !== undefined ? xLabels[v] : '');
    x.min = -0.5;
    x.max = xLabels.length - 0.5;
  } else if (points.length && points.every((p) => p.x > 0)
    && Math.max(...points.map((p) => p.x)) / Math.min(...points.map((p) => p.x)) > 50) {
    x.type = 'logarithmic'; // a log_uniform range reads better on a log axis
  }
  const y = { title: { display: true, text: yTitle }, ticks: { color: fg } };
  if (percent) y.ticks.callback = (v) => `${(v * 100).toFixed(0)}%`;
  const chart = new window.Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: [{
        label: yTitle,
        data: points.map((p) => ({ x: p.x, y: p.y, label: p.label })),
        pointRadius: points.map((p) => (p.best ? 8 : 5)),
        pointBackgroundColor: points.map((p) => (p.pruned ? 'transparent' : p.best ? best : colour)),
        pointBorderColor: points.map((p) => (p.best ? best : colour)),
      }],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { x, y },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (ctx) => ctx.raw.label } },
      },
    },
  });
  return { chart, destroy: () => chart.destroy() };
}
