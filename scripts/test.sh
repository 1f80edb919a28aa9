#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a throwaway PostgreSQL and runs
# every test (unit, store conformance on SQLite and PostgreSQL, end-to-end) with ctest.
# Extra args go to ctest, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build_dir=${WEBHOOKD_BUILD_DIR:-build}
exec scripts/with-postgres.sh ctest --test-dir "$build_dir" --output-on-failure -j 2 "$@"
