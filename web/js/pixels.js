// pixels.js - show a flat vector of intensities (0..1) as a small greyscale
// image: MNIST style, light ink on black.
import { h } from './dom.js';

// Side of the square image a vector of n values makes, or 0 if n is not a
// square of at least 8x8 (fewer values are features, not a picture).
export function squareSide(n) {
  const s = Math.round(Math.sqrt(n));
  return s >= 8 && s * s === n ? s : 0;
}

// Paint values (side*side, 0..1) into canvas, resizing its bitmap to side x side;
// CSS scales it up (image-rendering: pixelated keeps the pixels sharp).
export function paintPixels(canvas, values, side) {
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.round(Math.min(1, Math.max(0, Number(values[i]) || 0)) * 255);
    img.data[i * 4] = v;
    img.data[i * 4 + 1] = v;
    img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

// A new <canvas class="pixels"> showing values, labelled for screen readers.
export function pixelsCanvas(values, label) {
  const side = squareSide(values.length);
  const canvas = h('canvas', { class: 'pixels', role: 'img', 'aria-label': label });
  if (side) paintPixels(canvas, values, side);
  return canvas;
}
