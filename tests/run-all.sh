#!/usr/bin/env bash
# The README's test command (and CI's, through .ci/run): install, build with -Werror,
# and run every test label: unit, integration (root + real cgroups), e2e (a real
# Prometheus), v2vm (the integration suite inside a pure cgroup-v2 qemu VM).
#
#   tests/run-all.sh [ctest args...]     e.g. tests/run-all.sh -L unit
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CGWARDEN_BUILD_DIR:-$src/build}"
export CGWARDEN_EXTRA_PACKAGES="prometheus qemu-system-x86 busybox-static cpio xz-utils zstd iproute2 procps tmux ${CGWARDEN_EXTRA_PACKAGES:-}"
start=$(date +%s)
"$src/deploy/bootstrap.sh" "$build" -DCGWARDEN_WERROR=ON
cd "$build"
status=0
ctest --output-on-failure --timeout 900 "$@" || status=$?
echo "tests/run-all.sh: finished in $(( $(date +%s) - start )) s (exit $status)"
exit $status
