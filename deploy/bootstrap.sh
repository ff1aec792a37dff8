#!/usr/bin/env bash
# Installs what cgwarden needs from Debian packages (only what is missing) and builds it.
# Used by both README commands:  deploy/demo.sh  and  tests/run-all.sh.
#
#   deploy/bootstrap.sh [BUILD_DIR] [extra cmake args...]
#   CGWARDEN_EXTRA_PACKAGES="prometheus qemu-system-x86"  more packages to install
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$src/build}"
shift || true

packages=(cmake ninja-build g++ pkg-config zlib1g-dev libisal-dev
          prometheus-cpp-dev libyaml-cpp-dev libspdlog-dev libcivetweb-dev
          libgtest-dev libgmock-dev nlohmann-json3-dev
          ${CGWARDEN_EXTRA_PACKAGES:-})

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing packages ${missing[*]}; run as root (apt-get install)" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$build" -j"$(nproc)"
