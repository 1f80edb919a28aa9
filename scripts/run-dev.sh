#!/usr/bin/env bash
# Development server: installs what is missing, builds, and runs `webhookd serve` on the embedded
# default store (a SQLite file, ./webhookd.db) with a development config: a generated JWT secret
# kept in .dev/jwt-secret, http:// callbacks and loopback targets allowed.
# Extra args go to `webhookd serve`, e.g. scripts/run-dev.sh --listen 127.0.0.1:9090.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build_dir=${WEBHOOKD_BUILD_DIR:-build}

mkdir -p .dev
[ -s .dev/jwt-secret ] || head -c 32 /dev/urandom | base64 >.dev/jwt-secret
export WEBHOOKD_JWT_SECRET
WEBHOOKD_JWT_SECRET=$(cat .dev/jwt-secret)
export WEBHOOKD_LISTEN=${WEBHOOKD_LISTEN:-127.0.0.1:8080}
export WEBHOOKD_STORE=${WEBHOOKD_STORE:-sqlite:./webhookd.db}
export WEBHOOKD_ALLOW_HTTP=${WEBHOOKD_ALLOW_HTTP:-true}
export WEBHOOKD_ALLOW_PRIVATE_TARGETS=${WEBHOOKD_ALLOW_PRIVATE_TARGETS:-127.0.0.0/8,::1/128}

cat <<MSG
webhookd (development) on http://$WEBHOOKD_LISTEN, store $WEBHOOKD_STORE
Try it from another terminal:
  curl -s http://$WEBHOOKD_LISTEN/healthz
  curl -s http://$WEBHOOKD_LISTEN/readyz
Stop with Ctrl-C.
MSG
exec "$build_dir/app/webhookd" serve "$@"
