// heatmap.js - attributions (one signed number per pixel) over a 28x28
// image, in a diverging colour scale: blue for evidence against the class,
// white for none, red for evidence for it, symmetric around 0 so that equal
// colours mean equal magnitudes. The input is drawn faintly underneath (its
// ink darkens the cells) so the heatmap can be read against the digit.
import { h } from './dom.js';

const NEG = [37, 99, 235]; // blue
const POS = [220, 38, 38]; // red

// Colour of t in [-1, 1]: white at 0, NEG at -1, POS at 1.
export function divergingColour(t) {
  const c = t < 0 ? NEG : POS;
  const a = Math.min(1, Math.abs(t));
  return c.map((v) => Math.round(255 + (v - 255) * a));
}

// The largest |value|, the scale's end (1 when all are 0).
export function symmetricScale(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(Number(v) || 0));
  return m > 0 ? m : 1;
}

// Paint attributions (side*side) into canvas, the input (0..1, may be null)
// as a grey shade under them. Returns the scale used.
export function paintHeatmap(canvas, attributions, side, input = null) {
  const scale = symmetricScale(attributions);
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const [r, g, b] = divergingColour((Number(attributions[i]) || 0) / scale);
    const ink = input ? 1 - 0.35 * Math.min(1, Math.max(0, Number(input[i]) || 0)) : 1;
    img.data[i * 4] = Math.round(r * ink);
    img.data[i * 4 + 1] = Math.round(g * ink);
    img.data[i * 4 + 2] = Math.round(b * ink);
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.scale = String(scale);
  return scale;
}

// The legend: a gradient bar from -scale to +scale with its three labels.
export function heatmapLegend(scale, fmt = (v) => v.toPrecision(2)) {
  const stops = [-1, -0.5, 0, 0.5, 1].map((t) => `rgb(${divergingColour(t).join(',')}) ${(t + 1) * 50}%`);
  return h('div', { class: 'heat-legend', role: 'img',
    'aria-label': `colour scale: blue ${fmt(-scale)} (against), white 0, red ${fmt(scale)} (for)` },
  h('div', { class: 'heat-bar', style: `background: linear-gradient(to right, ${stops.join(', ')})` }),
  h('div', { class: 'heat-ticks' },
    h('span', { text: fmt(-scale) }), h('span', { text: '0' }), h('span', { text: fmt(scale) })),
  h('div', { class: 'heat-ticks muted' },
    h('span', { text: 'against' }), h('span', { text: '' }), h('span', { text: 'for' })));
}

// A figure: the heatmap canvas, its legend and a caption.
export function heatmapFigure(attributions, side, input, caption, id) {
  const canvas = h('canvas', { class: 'pixels heatmap', id, role: 'img',
    'aria-label': `${caption}: attribution of each pixel, red for, blue against` });
  const scale = paintHeatmap(canvas, attributions, side, input);
  return h('figure', { class: 'heat-fig' }, canvas, heatmapLegend(scale), h('figcaption', { text: caption }));
}
