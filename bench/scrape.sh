#!/bin/bash
# bench/scrape: the sampling loop's CPU time per tick, /metrics latency and size, and RSS of
# cgwarden's Sampler + exporter + CivetWeb server (the project's libraries, driven by
# bench/scrape_bench.cpp) at 10, 100 and 1,000 real cgroups on this machine, and at 100, 1,000
# and 10,000 in a generated tree holding this host's captured cgroup files.
#
#   sudo bench/scrape.sh [--write] [--quick]
#
#   BUILD=/path/to/build      the CMake build dir to link against (default: newest build*/)
#   NOFILE=65536              RLIMIT_NOFILE of the driver (default: deploy/cgwarden.service's
#                             LimitNOFILE; the sampler holds up to half of it open)
#   REAL="1000" GENERATED=""  which sizes to run (default: REAL="10 100 1000",
#                             GENERATED="100 1000 10000"); --write wants the defaults
#   --quick                   real 10 and 100 only
#   --write                   replace the "## Scrape" section of docs/benchmarks.md
#
# Real cgroups live under cgwarden-bench-<driver pid> in every hierarchy, each holding one
# sleeping process that did a 4 KiB direct read from the first disk; they are removed after
# every run, also when the driver fails or is interrupted. The generated tree lives under a
# mktemp directory in /tmp and is removed the same way.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
WRITE=0
QUICK=0
for a in "$@"; do
  case "$a" in
    --write) WRITE=1 ;;
    --quick) QUICK=1 ;;
    *) echo "usage: bench/scrape.sh [--write] [--quick]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/scrape.sh: needs root (real cgroups)" >&2; exit 2; }
bench_facts  # the load average at start
NOFILE="${NOFILE:-$(sed -n 's/^LimitNOFILE=//p' "$ROOT/deploy/cgwarden.service" | head -1)}"
NOFILE="${NOFILE:-65536}"

BUILD="$(bench_build_dir bench/scrape.sh)"
cmake --build "$BUILD" --target cgwarden_agent >/dev/null

BENCH_WORK="$(mktemp -d /tmp/cgwarden-scrape-bench.XXXXXX)"
finish() {
  bench_stop_driver cgwarden-bench
  rm -rf "$BENCH_WORK"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

bench_compile_driver "$BUILD" "$BENCH_WORK/scrape_bench" "$HERE/scrape_bench.cpp" \
  -DCGWARDEN_SOURCE_DIR="\"$ROOT\"" -I"$ROOT/tests"

# Soft and hard, for the drivers (this script ends after them). Raising the hard limit takes
# CAP_SYS_RESOURCE; without it the drivers get the hard limit there is, and the table says so.
WANTED_NOFILE="$NOFILE"
ulimit -n "$NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE="$(ulimit -n)"
: > "$BENCH_WORK/results"
run() {  # args for the driver; appends its result line to $BENCH_WORK/results
  bench_run_driver cgwarden-bench 0 "$BENCH_WORK/scrape_bench" "$@"
  cat "$BENCH_WORK/out" >> "$BENCH_WORK/results"
  echo "  $(cat "$BENCH_WORK/out")" >&2
}

REAL="${REAL-10 100 1000}"
GENERATED="${GENERATED-100 1000 10000}"
if [ "$QUICK" = 1 ]; then REAL="10 100"; GENERATED=""; fi
for n in $REAL; do
  echo "bench/scrape.sh: $n real cgroups..." >&2
  run real "$n"
done
# Where this container's hard limit is below the shipped unit's, 1,000 real cgroups once more
# with every file held, as the unit's LimitNOFILE would allow (see SCRAPE_BENCH_DROP_HANDLES).
if [ "$QUICK" = 0 ] && [ "$NOFILE" -lt "$WANTED_NOFILE" ] && [[ " $REAL " == *" 1000 "* ]]; then
  echo "bench/scrape.sh: 1000 real cgroups, every file held..." >&2
  SCRAPE_BENCH_DROP_HANDLES=1 SCRAPE_BENCH_FD_BUDGET=$((NOFILE - 1000)) run real 1000
  sed -i '$ s/$/ variant=held/' "$BENCH_WORK/results"
fi
for n in $GENERATED; do
  echo "bench/scrape.sh: $n cgroups in a generated tree..." >&2
  mkdir -p "$BENCH_WORK/tree"
  run synthetic "$n" "$BENCH_WORK/tree"
  rm -rf "$BENCH_WORK/tree"
done

RERUN="sudo bench/scrape.sh --write"
[ "$QUICK" = 1 ] && RERUN="sudo bench/scrape.sh --quick --write"
section="$(python3 "$HERE/scrape_table.py" "$BENCH_WORK/results" "$BENCH_DATE" "$BENCH_CORES" "$BENCH_MEM" \
  "$BENCH_KERNEL" "$BENCH_CGROUP_MODE" "$BENCH_LOAD" "$NOFILE" "$WANTED_NOFILE" "$RERUN")"
echo "$section"
[ "$WRITE" = 1 ] && bench_write_section Scrape "$section"
exit 0
