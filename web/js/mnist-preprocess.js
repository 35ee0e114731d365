// mnist-preprocess.js - turn a drawing into an input the way MNIST digits
// were made (LeCun et al.): the digit's bounding box is size-normalised to
// fit a 20x20 box preserving its aspect ratio (anti-aliased by area
// averaging), then placed in a 28x28 image so that its centre of mass sits
// at the image centre. Values are 0 (background) .. 1 (ink), row-major.
//
// Pure functions on plain arrays (no DOM): tests/browser/preprocess.test.mjs
// runs them under node.

export const MNIST_SIDE = 28;
export const MNIST_BOX = 20;

// Smallest rectangle holding every value above threshold, as
// {x0, y0, x1, y1} with exclusive ends, or null for an empty image.
// img is (h, w).
export function inkBoundingBox(img, w, h, threshold = 0.05) {
  let x0 = w; let y0 = h; let x1 = -1; let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (img[y * w + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

// For a source axis of n pixels mapped onto m pixels, the source pixels each
// target pixel covers and by what share: target j spans [j*n/m, (j+1)*n/m)
// in source units; the weights of one target sum to 1.
function areaWeights(n, m) {
  const f = n / m;
  const out = [];
  for (let j = 0; j < m; j++) {
    const a = j * f; const b = (j + 1) * f;
    const taps = [];
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const overlap = Math.min(b, i + 1) - Math.max(a, i);
      if (overlap > 1e-9) taps.push([i, overlap / f]);
    }
    out.push(taps);
  }
  return out;
}

// Resample src (sh, sw) to (dh, dw) by area averaging: each target pixel is
// the mean of the source area it covers (a box filter, so a shrunk stroke
// keeps its mass as grey levels instead of aliasing).
export function resampleArea(src, sw, sh, dw, dh) {
  const wx = areaWeights(sw, dw);
  const wy = areaWeights(sh, dh);
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      let s = 0;
      for (const [sy, ky] of wy[y]) {
        const row = sy * sw;
        for (const [sx, kx] of wx[x]) s += ky * kx * src[row + sx];
      }
      out[y * dw + x] = s;
    }
  }
  return out;
}

// Centre of mass {x, y} of img (h, w) in pixel units, pixel i spanning
// [i, i+1) (so a single lit pixel i has its centre at i + 0.5); null if empty.
export function centreOfMass(img, w, h) {
  let m = 0; let sx = 0; let sy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = img[y * w + x];
      m += v; sx += v * (x + 0.5); sy += v * (y + 0.5);
    }
  }
  return m > 0 ? { x: sx / m, y: sy / m } : null;
}

// ink: (h, w) values in 0..1 (e.g. a canvas' alpha / 255). Returns a
// Float32Array of 784 values in 0..1; all zero when nothing is drawn.
// The shift that centres the mass is rounded to whole pixels (as MNIST did)
// and clamped so that no ink falls outside the 28x28 frame.
export function mnistFromInk(ink, w, h) {
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  const box = inkBoundingBox(ink, w, h);
  if (!box) return out;
  const bw = box.x1 - box.x0; const bh = box.y1 - box.y0;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) crop[y * bw + x] = ink[(box.y0 + y) * w + box.x0 + x];
  }
  const scale = MNIST_BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.min(MNIST_BOX, Math.round(bw * scale)));
  const th = Math.max(1, Math.min(MNIST_BOX, Math.round(bh * scale)));
  const small = resampleArea(crop, bw, bh, tw, th);
  let peak = 0;
  for (const v of small) if (v > peak) peak = v;
  // Strokes thinner than a target pixel come out grey; MNIST strokes have
  // full-intensity cores, so stretch the peak to 1.
  if (peak > 0) for (let i = 0; i < small.length; i++) small[i] = Math.min(1, small[i] / peak);
  const com = centreOfMass(small, tw, th);
  const half = MNIST_SIDE / 2;
  const ox = Math.min(MNIST_SIDE - tw, Math.max(0, Math.round(half - com.x)));
  const oy = Math.min(MNIST_SIDE - th, Math.max(0, Math.round(half - com.y)));
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) out[(oy + y) * MNIST_SIDE + ox + x] = small[y * tw + x];
  }
  return out;
}
