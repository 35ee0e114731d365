// preprocess.test.mjs - the dashboard's MNIST-style preprocessing of a drawing
// (web/js/mnist-preprocess.js), run under node: no browser, no daemon.
// Each test draws shapes into an ink image and checks the properties MNIST
// digits have: ink fits a 20x20 box (aspect ratio kept), its centre of mass
// is at the centre of the 28x28 frame, values stay in 0..1.
import { createSuite, assert } from './lib/harness.mjs';
import {
  centreOfMass, inkBoundingBox, mnistFromInk, resampleArea, MNIST_BOX, MNIST_SIDE,
} from '../../web/js/mnist-preprocess.js';

const t = createSuite('preprocess', { defaultTimeoutMs: 5000 });

function canvas(w, h) {
  return { w, h, px: new Float32Array(w * h) };
}
function rect(c, x0, y0, x1, y1, v = 1) {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) c.px[y * c.w + x] = v;
}
function disc(c, cx, cy, r) {
  for (let y = 0; y < c.h; y++) for (let x = 0; x < c.w; x++) if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) c.px[y * c.w + x] = 1;
}
// Bounding box of an output image, with threshold 0 (any ink at all).
function box28(img) {
  return inkBoundingBox(img, MNIST_SIDE, MNIST_SIDE, 0);
}

t.test('an empty drawing gives 784 zeros', () => {
  const c = canvas(280, 280);
  const out = mnistFromInk(c.px, c.w, c.h);
  assert.equal(out.length, 784);
  assert.ok(out.every((v) => v === 0));
});

t.test('bounding box is exact, with exclusive ends', () => {
  const c = canvas(50, 40);
  rect(c, 7, 3, 19, 30);
  assert.deepEqual(inkBoundingBox(c.px, c.w, c.h), { x0: 7, y0: 3, x1: 19, y1: 30 });
});

t.test('area resampling keeps the mean intensity', () => {
  const c = canvas(90, 60);
  for (let i = 0; i < c.px.length; i++) c.px[i] = ((i * 7919) % 101) / 100;
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  for (const [dw, dh] of [[20, 13], [9, 6], [180, 120], [37, 11]]) {
    const out = resampleArea(c.px, c.w, c.h, dw, dh);
    assert.ok(Math.abs(mean(out) - mean(c.px)) < 1e-4, `${dw}x${dh}: ${mean(out)} vs ${mean(c.px)}`);
  }
});

t.test('a tall stroke becomes 20 high, keeping its aspect ratio', () => {
  const c = canvas(280, 280);
  rect(c, 120, 40, 160, 240); // 40 wide, 200 high: 1:5
  const out = mnistFromInk(c.px, c.w, c.h);
  const b = box28(out);
  assert.equal(b.y1 - b.y0, MNIST_BOX);
  assert.equal(b.x1 - b.x0, 4); // 40 * 20/200
});

t.test('a wide shape becomes 20 wide', () => {
  const c = canvas(280, 280);
  rect(c, 10, 100, 270, 165); // 260 x 65 = 4:1
  const b = box28(mnistFromInk(c.px, c.w, c.h));
  assert.equal(b.x1 - b.x0, MNIST_BOX);
  assert.equal(b.y1 - b.y0, 5);
});

t.test('the centre of mass lands on the frame centre, wherever the drawing is', () => {
  for (const [cx, cy] of [[40, 40], [240, 60], [140, 140], [60, 230]]) {
    const c = canvas(280, 280);
    disc(c, cx, cy, 30);
    rect(c, cx, cy - 30, cx + 25, cy + 30); // lopsided: mass not at the box centre
    const out = mnistFromInk(c.px, c.w, c.h);
    const com = centreOfMass(out, MNIST_SIDE, MNIST_SIDE);
    assert.ok(Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5, `(${cx},${cy}) -> ${com.x}, ${com.y}`);
  }
});

t.test('values stay in 0..1 and the strongest ink is 1', () => {
  const c = canvas(200, 200);
  rect(c, 50, 20, 58, 180, 0.4); // a faint thin stroke
  const out = mnistFromInk(c.px, c.w, c.h);
  assert.ok(out.every((v) => v >= 0 && v <= 1));
  assert.equal(Math.max(...out), 1);
});

t.test('a small drawing is scaled up to the 20-pixel box', () => {
  const c = canvas(280, 280);
  disc(c, 30, 30, 6); // a dot-sized digit in the corner
  const b = box28(mnistFromInk(c.px, c.w, c.h));
  assert.equal(b.x1 - b.x0, MNIST_BOX);
  assert.equal(b.y1 - b.y0, MNIST_BOX);
});

t.test('a strongly lopsided shape is shifted only as far as the frame allows', () => {
  const c = canvas(280, 280);
  rect(c, 20, 20, 260, 30); // a full-width bar ...
  rect(c, 20, 30, 30, 260); // ... and a full-height bar: mass near the top-left corner
  const out = mnistFromInk(c.px, c.w, c.h);
  const b = box28(out);
  // Centring the mass would push the box past the right and bottom edges:
  // it stops there, whole.
  assert.deepEqual(b, { x0: 8, y0: 8, x1: 28, y1: 28 });
  const com = centreOfMass(out, MNIST_SIDE, MNIST_SIDE);
  assert.ok(com.x < 14 && com.y < 14);
});

await t.run();
