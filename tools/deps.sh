#!/usr/bin/env bash
# Installs what mlpd needs on Debian 12, skipping what is already there:
# Debian packages with apt-get, then the npm packages pinned by package-lock.json.
# Set MLPD_DEPS_MINIMAL=1 to install only what building and running needs.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(gcc make pkg-config libmicrohttpd-dev libcjson-dev libsqlite3-dev libopenblas-dev
            zlib1g-dev libpq-dev dataset-fashion-mnist)
test_pkgs=(clang-format libcmocka-dev libyaml-dev libcurl4-openssl-dev curl sqlite3 chromium clang libclang-rt-14-dev valgrind linux-perf
            postgresql postgresql-common haproxy python3-yaml docker-compose)
bench_pkgs=(python3 python3-torch python3-numpy python3-flask gunicorn wrk)

want=("${build_pkgs[@]}")
if [ "${MLPD_DEPS_MINIMAL:-0}" != 1 ]; then want+=("${test_pkgs[@]}" "${bench_pkgs[@]}"); fi

missing=()
# node and npm may come from another packaging of Node.js (its nodejs bundles npm):
# ask for Debian's only when the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# kubectl (for `kubectl kustomize` of docker/k8s) may come from Kubernetes'
# own packaging; Debian's is kubernetes-client.
if [ "${MLPD_DEPS_MINIMAL:-0}" != 1 ]; then
    command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
fi
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -f package-lock.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "deps: npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
