#!/usr/bin/env bash
# Configures and builds webhookd into build/ (or $WEBHOOKD_BUILD_DIR). Extra args go to cmake's
# configure step, e.g. scripts/build.sh -DWEBHOOKD_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${WEBHOOKD_BUILD_DIR:-build}
# ccache hashes paths relative to the checkout, so every clone of the project shares its cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
