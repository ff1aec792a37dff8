#!/bin/bash
# bench/scrape: the sampling loop's CPU time per tick, /metrics latency and size, and RSS of
# cgwarden's Sampler + exporter + CivetWeb server at 10, 100 and 1,000 real cgroups on this
# machine and 10,000 in a generated tree with this host's captured cgroup files.
#
#   bench/scrape.sh [--write] [--quick]     (root for the real cgroups)
#
#   BUILD=/path/to/build      the CMake build dir to link against (default: newest build*/)
#   --quick                   10 and 100 only
#   --write                   replace the "## Scrape" section of docs/benchmarks.md
#
# Real cgroups live under cgwarden-bench-<driver pid> in every hierarchy, each holding one
# sleeping process that did a 4 KiB direct read from the first disk; they are removed after
# every run, also when the driver fails or is interrupted.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
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

BUILD="${BUILD:-$(ls -td "$ROOT"/build*/ 2>/dev/null | head -1)}"
BUILD="${BUILD%/}"
[ -f "$BUILD/CMakeCache.txt" ] || { echo "bench/scrape.sh: no configured build dir; set BUILD" >&2; exit 2; }
cmake --build "$BUILD" --target cgwarden_agent >/dev/null

WORK="$(mktemp -d /tmp/cgwarden-scrape-bench.XXXXXX)"
DRIVER_PID=""
remove_bench_cgroups() {  # $1 = driver pid
  local name="cgwarden-bench-$1" m d
  for m in /sys/fs/cgroup/*/; do
    d="$m$name"
    [ -d "$d" ] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  sleep 0.2
  for m in /sys/fs/cgroup/*/; do
    d="$m$name"
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$d" ] && echo "bench/scrape.sh: could not remove $d" >&2 || true
  done
}
finish() {
  if [ -n "$DRIVER_PID" ]; then
    kill "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
    remove_bench_cgroups "$DRIVER_PID"
  fi
  rm -rf "$WORK"
}
trap finish EXIT INT TERM

g++ -O2 -std=c++20 -DCGWARDEN_SOURCE_DIR="\"$ROOT\"" -DSPDLOG_COMPILED_LIB -DSPDLOG_SHARED_LIB \
  -DSPDLOG_FMT_EXTERNAL -DFMT_SHARED -I"$ROOT" -I"$ROOT/tests" -I"$BUILD/generated" \
  "$HERE/scrape_bench.cpp" -o "$WORK/scrape_bench" \
  "$BUILD/agent/libcgwarden_agent.a" "$BUILD/config/libcgwarden_config.a" "$BUILD/collectors/libcgwarden_collectors.a" \
  -lprometheus-cpp-core -lspdlog -lfmt -lcivetweb -lyaml-cpp -lz -lpthread

run() {  # args for the driver; prints its result line
  "$WORK/scrape_bench" "$@" > "$WORK/out" 2> "$WORK/err" &
  DRIVER_PID=$!
  local rc=0
  wait "$DRIVER_PID" || rc=$?
  remove_bench_cgroups "$DRIVER_PID"
  DRIVER_PID=""
  if [ "$rc" != 0 ]; then
    echo "bench/scrape.sh: driver failed ($rc):" >&2
    tail -20 "$WORK/err" >&2
    exit 1
  fi
  cat "$WORK/out"
}

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

SIZES="10 100 1000"
[ "$QUICK" = 1 ] && SIZES="10 100"
RESULTS=()
for n in $SIZES; do
  echo "bench/scrape.sh: $n real cgroups..." >&2
  RESULTS+=("$(run real "$n")")
done
if [ "$QUICK" = 0 ]; then
  echo "bench/scrape.sh: 10000 cgroups in a generated tree..." >&2
  mkdir -p "$WORK/tree"
  RESULTS+=("$(run synthetic 10000 "$WORK/tree" 10)")
  rm -rf "$WORK/tree"
fi

host="$(nproc) CPUs, $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
limit="$(ulimit -n)"
{
  echo "## Scrape"
  echo
  echo "\`bench/scrape.sh\` ($(date -u +%Y-%m-%d), $host, RLIMIT_NOFILE $limit). One sampling tick reads every"
  echo "cgroup's accounting files (hybrid host: cpuacct, cpu, memory, blkio, pids and the cgroup2 twin's PSI, ~15"
  echo "files per cgroup); the loop's CPU time is the sampling thread's own (median and p90 of 20 ticks after 3"
  echo "warm-up ticks). /metrics is fetched over loopback by a separate process: median of 10 (5 at 10,000), plain and"
  echo "gzip. RSS is the agent's (sampler + exporter + server), after sampling and at its peak during scrapes."
  echo
  echo "| cgroups | tick CPU ms (p90) | per cgroup µs | tick wall ms | /metrics ms | gzip ms | body | gzip body | series | RSS MiB | peak RSS MiB | held fds |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for r in "${RESULTS[@]}"; do
    n=$(field "$r" n); mode=$(field "$r" mode)
    label="$n"; [ "$mode" = synthetic ] && label="$n (generated tree)"
    cpu=$(field "$r" tick_cpu_ms); p90=$(field "$r" tick_cpu_p90_ms)
    per=$(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.0f", c * 1000 / n }')
    bytes=$(awk -v b="$(field "$r" bytes)" 'BEGIN { printf (b > 1048576 ? "%.1f MiB" : "%.0f KiB"), (b > 1048576 ? b/1048576 : b/1024) }')
    gz=$(awk -v b="$(field "$r" gzip_bytes)" 'BEGIN { printf (b > 1048576 ? "%.1f MiB" : "%.0f KiB"), (b > 1048576 ? b/1048576 : b/1024) }')
    echo "| $label | $cpu ($p90) | $per | $(field "$r" tick_wall_ms) | $(field "$r" scrape_ms) | $(field "$r" scrape_gzip_ms) | $bytes | $gz | $(field "$r" lines) | $(field "$r" rss_sampling_mib) | $(field "$r" rss_peak_mib) | $(field "$r" held_fds) |"
  done
  echo
  echo "Goals (issue 4): a full sample of 1,000 cgroups under 25 ms CPU, a scrape of 1,000 under 20 ms, linear growth,"
  echo "RSS under 40 MiB at 10,000. cAdvisor, for comparison (users' reports, not measured here): /metrics taking ~5 s"
  echo "past ~150 containers, and GBs of memory at a few hundred containers."
  echo
  echo "Notes: the generated tree holds regular files, cheaper to read than the kernel's (which generates each one on"
  echo "read), so its tick time understates a real host's; its scrape and RSS figures are representative. Above the"
  echo "descriptor budget (half of RLIMIT_NOFILE) files are opened per read, ~4x the cost of a held pread."
} > "$WORK/section.md"

cat "$WORK/section.md"
if [ "$WRITE" = 1 ]; then
  DOC="$ROOT/docs/benchmarks.md"
  [ -f "$DOC" ] || printf '# Benchmarks\n\n' > "$DOC"
  python3 - "$DOC" "$WORK/section.md" <<'PY'
import re, sys
doc, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(doc).read()
m = re.search(r"^## Scrape\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
PY
  echo "bench/scrape.sh: wrote the Scrape section of docs/benchmarks.md" >&2
fi
