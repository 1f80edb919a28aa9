#!/usr/bin/env bash
# Installs the Debian 12 packages webhookd needs to build, run and test. Idempotent: when every
# package is already installed it only checks and returns (well under a second).
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config git curl
  libcaf-dev libcpp-httplib-dev libcurl4-openssl-dev libevent-dev libpqxx-dev libsqlite3-dev
  libssl-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev catch2
  postgresql-15 chromium  # tests: headless Chromium renders the console
  python3-jwcrypto  # tests: an independent JOSE library decrypts delivered JWE
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
