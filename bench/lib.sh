# shellcheck shell=bash
# bench/lib.sh: what the bench/*.sh scripts share. Sourced, never run:
#
#   HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(dirname "$HERE")"
#   source "$HERE/lib.sh"
#
#   bench_facts                      sets BENCH_DATE (UTC, YYYY-MM-DD), BENCH_CORES, BENCH_KERNEL,
#                                    BENCH_MEM (e.g. "24 GiB"), BENCH_CGROUP_MODE (v1|v2|hybrid) and
#                                    BENCH_LOAD (the 1/5/15-minute load average now: call it before
#                                    measuring, so the figure is the load at start)
#   bench_build_dir NAME             the build dir to link against: $BUILD, else the newest configured
#                                    $ROOT/build*/; exits 2 naming NAME when there is none
#   bench_compile_driver BUILD OUT SRC [g++ args...]
#                                    g++ -O2 SRC against the project's static libraries and the
#                                    Debian packages they use, with the same spdlog/fmt defines
#   bench_remove_cgroups NAME [thaw] kills every process in /sys/fs/cgroup/*/NAME (thaw: thaws
#                                    v1 freezers first) and removes the tree; says so if it cannot
#   bench_run_driver PREFIX TEE CMD...
#                                    runs CMD in the background with stdout in $BENCH_WORK/out and
#                                    stderr in $BENCH_WORK/err (TEE=1: also to the terminal), waits,
#                                    then removes the cgroups PREFIX-<its pid>; on failure prints the
#                                    tail of its stderr and exits 1. The caller reads $BENCH_WORK/out.
#   bench_stop_driver PREFIX         for the EXIT/INT/TERM trap: stops a driver still running and
#                                    removes its cgroups
#   bench_write_section TITLE TEXT   replaces the "## TITLE" section of $BENCH_DOC (default
#                                    $ROOT/docs/benchmarks.md; created if missing) with TEXT, which
#                                    starts with its "## TITLE" line, or appends it
#
# bench_run_driver keeps the driver's pid in this shell (BENCH_DRIVER_PID), not in a command
# substitution, so the trap can stop it and clean up after it.

# shellcheck disable=SC2034  # the BENCH_* facts are for the scripts that source this file
bench_facts() {
  BENCH_DATE="$(date -u +%Y-%m-%d)"
  BENCH_CORES="$(nproc)"
  BENCH_KERNEL="$(uname -r)"
  BENCH_MEM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  BENCH_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
  if grep -q ' - cgroup2 ' /proc/self/mountinfo && grep -q ' - cgroup ' /proc/self/mountinfo; then
    BENCH_CGROUP_MODE=hybrid
  elif grep -q ' - cgroup ' /proc/self/mountinfo; then
    BENCH_CGROUP_MODE=v1
  else
    BENCH_CGROUP_MODE=v2
  fi
}

bench_build_dir() {
  local name="$1" build="${BUILD:-}"
  if [ -z "$build" ]; then
    local d
    # shellcheck disable=SC2045  # newest first; the build dirs have no spaces in their names
    for d in $(ls -td "$ROOT"/build*/ 2>/dev/null); do
      [ -f "$d/CMakeCache.txt" ] && { build="$d"; break; }
    done
  fi
  build="${build%/}"
  if [ -z "$build" ] || [ ! -f "$build/CMakeCache.txt" ]; then
    echo "$name: no configured build dir; set BUILD" >&2
    exit 2
  fi
  echo "$build"
}

bench_compile_driver() {
  local build="$1" out="$2" src="$3"
  shift 3
  g++ -O2 -std=c++20 -DSPDLOG_COMPILED_LIB -DSPDLOG_SHARED_LIB -DSPDLOG_FMT_EXTERNAL -DFMT_SHARED \
    -I"$ROOT" -I"$build/generated" "$@" "$src" -o "$out" \
    "$build/agent/libcgwarden_agent.a" "$build/config/libcgwarden_config.a" "$build/collectors/libcgwarden_collectors.a" \
    -lprometheus-cpp-core -lspdlog -lfmt -lcivetweb -lyaml-cpp -lisal -lz -pthread
}

bench_remove_cgroups() {
  local name="$1" thaw="${2:-}" m d
  [ -n "$name" ] || return 0
  for m in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    d="$m$name"
    [ -d "$d" ] || continue
    if [ "$thaw" = thaw ]; then
      find "$d" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null || true
    fi
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  local tries
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    local left=0
    for m in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
      d="$m$name"
      [ -d "$d" ] || continue
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$d" ] && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 0.2
  done
  for m in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$m$name" ] && echo "bench: could not remove $m$name" >&2
  done
  return 0
}

BENCH_DRIVER_PID=""
bench_run_driver() {
  local prefix="$1" tee="$2"
  shift 2
  if [ "$tee" = 1 ]; then
    "$@" > "$BENCH_WORK/out" 2> >(tee "$BENCH_WORK/err" >&2) &
  else
    "$@" > "$BENCH_WORK/out" 2> "$BENCH_WORK/err" &
  fi
  BENCH_DRIVER_PID=$!
  local rc=0
  wait "$BENCH_DRIVER_PID" || rc=$?
  bench_remove_cgroups "$prefix-$BENCH_DRIVER_PID" "${BENCH_THAW:-}"
  BENCH_DRIVER_PID=""
  if [ "$rc" != 0 ]; then
    echo "$(basename "$0"): driver failed ($rc):" >&2
    tail -20 "$BENCH_WORK/err" >&2
    exit 1
  fi
}

bench_stop_driver() {
  local prefix="$1"
  [ -n "$BENCH_DRIVER_PID" ] || return 0
  kill "$BENCH_DRIVER_PID" 2>/dev/null || true
  wait "$BENCH_DRIVER_PID" 2>/dev/null || true
  bench_remove_cgroups "$prefix-$BENCH_DRIVER_PID" "${BENCH_THAW:-}"
  BENCH_DRIVER_PID=""
}

bench_write_section() {
  local title="$1" text="$2" doc="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
  [ -f "$doc" ] || printf '# Benchmarks\n\n' > "$doc"
  SECTION="$text" python3 - "$doc" "$title" <<'PY'
import os, re, sys
path, title = sys.argv[1], sys.argv[2]
text = open(path).read()
section = os.environ["SECTION"].strip("\n") + "\n"
pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
m = pattern.search(text)
if m:
    rest = text[m.end():]
    text = text[:m.start()] + section + ("\n" + rest if rest.strip() else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text.rstrip("\n") + "\n")
PY
  echo "$(basename "$0"): wrote the $title section of $doc" >&2
}
