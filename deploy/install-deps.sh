#!/usr/bin/env bash
# Installs Tangram's build and test dependencies from Debian 12 packages.
# Idempotent: when everything is present it prints nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake g++ pkg-config git
  libabsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libopenblas-dev
  libspdlog-dev  # the leveled logger behind base/log.h (base/log.cc falls back to stderr without it)
  clang-format python3
  iproute2 procps  # the multi-host tests: ip netns, tc (tests/netns), pgrep (tests/cluster)
  python3-torch pybind11-dev python3-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
