#!/bin/bash
# bench/launch: wall time per launch of one confined /bin/true, cgwarden against its peers,
# all in one interleaved run (every candidate sees the same machine load).
#
#   bench/launch.sh [ROUNDS] [--write]      (root; default 200 rounds, 10 warm-up)
#
#   CGWARDEN=/path/to/cgwarden   the binary to measure (default: newest build*/agent/cgwarden)
#   NO_INSTALL=1                 do not apt-get install cgroup-tools, bubblewrap, crun, runc
#
# Candidates (each does the equivalent of "a pid/mount/uts/ipc/net/cgroup-namespaced, cgroup-
# limited /bin/true" as far as the tool allows):
#   true       /bin/true (process start-up floor)
#   unshare    unshare --pid --fork --mount --uts --ipc --net --cgroup /bin/true (namespaces, no cgroup)
#   cgexec     cgexec into a prepared cgroup with the same limits (cgroup, no namespaces)
#   bwrap      bwrap --unshare-all --dev-bind / / --proc /proc /bin/true
#   crun       crun run with a minimal bundle (same namespaces and limits); crun 1.8 refuses
#              hybrid hosts, so there it runs in a mount namespace with the cgroup2 unmounted
#   runc       runc run with the same bundle
#   cgwarden   cgwarden exec --memory 64Mi --cpus 0.5 --pids 32 -- /bin/true (all namespaces),
#              plus `cgwarden --version` (start-up alone) and `exec --no-ns` (cgroup work alone)
#
# --write replaces the "## Launch" section of docs/benchmarks.md with the table.
set -euo pipefail

ROUNDS=200
WRITE=0
for a in "$@"; do
  case "$a" in
    --write) WRITE=1 ;;
    *) ROUNDS="$a" ;;
  esac
done
WARMUP=10
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || { echo "bench/launch.sh: needs root (cgroups, namespaces)" >&2; exit 2; }

CGWARDEN="${CGWARDEN:-$(ls -t "$ROOT"/build*/agent/cgwarden 2>/dev/null | head -1)}"
[ -x "$CGWARDEN" ] || { echo "bench/launch.sh: no cgwarden binary; build first or set CGWARDEN" >&2; exit 2; }

if [ "${NO_INSTALL:-0}" != 1 ]; then
  missing=()
  command -v cgexec >/dev/null || missing+=(cgroup-tools)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  command -v crun >/dev/null || missing+=(crun)
  command -v runc >/dev/null || missing+=(runc)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || \
      echo "bench/launch.sh: could not install ${missing[*]}; those candidates are skipped" >&2
  fi
fi

WORK="$(mktemp -d /tmp/cgwarden-bench-launch.XXXXXX)"
BENCH_CG="cgwarden-bench-$$"
cleanup() {
  bench_remove_cgroups "$BENCH_CG"
  rm -rf "$WORK"
}
trap cleanup EXIT

g++ -O2 -std=c++20 -o "$WORK/launch_timer" "$HERE/launch_timer.cpp"

MODE="$("$CGWARDEN" info | sed -n 's/^cgroup \([a-z0-9]*\).*/\1/p' | head -1)"
candidates=()
add() { candidates+=("$@" ";;"); }

add true -- /bin/true
add unshare -- unshare --pid --fork --mount --uts --ipc --net --cgroup /bin/true

# cgexec: a cgroup prepared once with the same limits, in the controllers cgwarden uses.
if command -v cgexec >/dev/null; then
  ctrls=()
  if [ "$MODE" = v2 ]; then
    d=/sys/fs/cgroup/$BENCH_CG/cgexec
    mkdir -p "$d"
    echo 67108864 > "$d/memory.max" 2>/dev/null || true
    echo "50000 100000" > "$d/cpu.max" 2>/dev/null || true
    echo 32 > "$d/pids.max" 2>/dev/null || true
    add cgexec -- cgexec -g "cpu,memory,pids:$BENCH_CG/cgexec" /bin/true
  else
    for c in cpu cpuacct cpuset memory blkio pids freezer; do
      [ -d /sys/fs/cgroup/$c ] || continue
      mkdir -p /sys/fs/cgroup/$c/$BENCH_CG/cgexec
      ctrls+=("$c")
    done
    for lvl in "$BENCH_CG" "$BENCH_CG/cgexec"; do
      cat /sys/fs/cgroup/cpuset/cpuset.cpus > /sys/fs/cgroup/cpuset/$lvl/cpuset.cpus
      cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset/$lvl/cpuset.mems
    done
    echo 67108864 > /sys/fs/cgroup/memory/$BENCH_CG/cgexec/memory.limit_in_bytes
    echo 100000 > /sys/fs/cgroup/cpu/$BENCH_CG/cgexec/cpu.cfs_period_us
    echo 50000 > /sys/fs/cgroup/cpu/$BENCH_CG/cgexec/cpu.cfs_quota_us
    echo 32 > /sys/fs/cgroup/pids/$BENCH_CG/cgexec/pids.max
    if [ -d /sys/fs/cgroup/unified ]; then mkdir -p /sys/fs/cgroup/unified/$BENCH_CG/cgexec; fi
    list="$(IFS=,; echo "${ctrls[*]}")"
    add cgexec -- cgexec -g "$list:$BENCH_CG/cgexec" /bin/true
  fi
fi

command -v bwrap >/dev/null && add bwrap -- bwrap --unshare-all --dev-bind / / --proc /proc /bin/true

# An OCI bundle: /bin/true and its libraries, the same namespaces and limits.
CRUN_NOTE=""
if command -v crun >/dev/null || command -v runc >/dev/null; then
  B="$WORK/bundle"
  mkdir -p "$B/rootfs/proc" "$B/rootfs/dev" "$B/rootfs/sys" "$B/rootfs/tmp"
  for f in /bin/true $(ldd /bin/true | grep -o '/[^ ]*'); do
    mkdir -p "$B/rootfs$(dirname "$f")"
    cp -L "$f" "$B/rootfs$f"
  done
  cat > "$B/config.json" <<EOF
{
  "ociVersion": "1.0.0",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
              "env": ["PATH=/usr/bin:/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {
    "cgroupsPath": "/$BENCH_CG/oci",
    "resources": {"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 32}},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}]
  }
}
EOF
  if command -v crun >/dev/null; then
    if crun run -b "$B" cgwarden-bench-crun-probe >/dev/null 2>"$WORK/crun.err"; then
      add crun -- crun run -b "$B" "cgwarden-bench-crun-$$"
    elif grep -q "hybrid mode not supported" "$WORK/crun.err"; then
      CRUN_NOTE="crun $(crun --version | sed -n 's/crun version //p') refuses this hybrid host (\"$(head -1 "$WORK/crun.err")\"); measured inside \`unshare -m\` with /sys/fs/cgroup/unified unmounted, which adds that unshare's cost."
      add "crun (unshare -m, cgroup2 unmounted)" -- unshare -m sh -c "umount /sys/fs/cgroup/unified && exec crun run -b $B cgwarden-bench-crun-$$"
    else
      CRUN_NOTE="crun failed here: $(head -1 "$WORK/crun.err")"
    fi
  fi
  command -v runc >/dev/null && add runc -- runc run -b "$B" "cgwarden-bench-runc-$$"
fi

# The same launch, and two pieces of it that locate the cost: the binary's own start-up,
# and the cgroup part alone (no namespaces, no init).
add "cgwarden --version (start-up only)" -- "$CGWARDEN" --version
add "cgwarden exec --no-ns" -- "$CGWARDEN" exec --cgroup-root "$BENCH_CG" --no-ns --memory 64Mi --cpus 0.5 --pids 32 -- /bin/true
add cgwarden -- "$CGWARDEN" exec --cgroup-root "$BENCH_CG" --memory 64Mi --cpus 0.5 --pids 32 -- /bin/true

bench_facts  # the load average at start
RESULTS="$("$WORK/launch_timer" "$ROUNDS" "$WARMUP" "${candidates[@]}")"

unshare_median="$(awk -F'\t' '$1=="unshare"{print $4}' <<<"$RESULTS")"
unshare_cpu="$(awk -F'\t' '$1=="unshare"{print $9}' <<<"$RESULTS")"
table="| candidate | runs | failures | median ms | p90 ms | min ms | median / unshare | median CPU ms | CPU / unshare |
|---|---|---|---|---|---|---|---|---|"
while IFS=$'\t' read -r label runs fails median p90 min mean first cpu; do
  ratio="$(awk -v m="$median" -v u="$unshare_median" 'BEGIN{ if (u > 0) printf "%.2f", m/u; else print "-" }')"
  cratio="$(awk -v m="$cpu" -v u="$unshare_cpu" 'BEGIN{ if (u > 0) printf "%.2f", m/u; else print "-" }')"
  table+=$'\n'"| $label | $runs | $fails | $median | $p90 | $min | ${ratio}x | $cpu | ${cratio}x |"
done <<<"$RESULTS"

cgw_median="$(awk -F'\t' '$1=="cgwarden"{print $4}' <<<"$RESULTS")"
verdict="$(awk -v m="$cgw_median" -v u="$unshare_median" 'BEGIN{ r = m/u; printf "%.2fx unshare: %s the 1.25x goal", r, (r <= 1.25 ? "meets" : "misses") }')"

section="## Launch

Wall time per launch (fork + exec of the tool + wait) and CPU time of the launch's whole process
tree (user + system, from wait4), $ROUNDS interleaved rounds after $WARMUP warm-up rounds, measured $BENCH_DATE on $BENCH_CORES cores, kernel $BENCH_KERNEL, cgroup mode $MODE,
load average at start $BENCH_LOAD. Rerun: \`sudo bench/launch.sh $ROUNDS --write\`.

$table

cgwarden: $verdict (median wall time). Its run includes creating the cgroup in every
hierarchy ($MODE: each v1 controller and the cgroup2 PSI twin), writing the three limits,
joining the cgroup, the six namespaces with a fresh /proc and \`lo\` up, its pid-1 init, and
removing the cgroup afterwards; unshare does only the namespaces, cgexec only the join into a
cgroup prepared beforehand. The two partial rows show where cgwarden's extra cost lies: the
start-up of a C++ binary with its shared libraries (\`--version\`), and creating, limiting and
removing a cgroup in every hierarchy per launch (\`exec --no-ns\` minus \`--version\`); the
namespaces and the init add little on top. The v1 join itself is cheap because the child
moves itself by writing "0" to \`tasks\` (see agent/Launcher.h); writing a pid instead, as
cgexec does (its own pid to \`tasks\`) and as \`cgroup.procs\` always needs, waits for an RCU
grace period (4-16 ms measured here).
${CRUN_NOTE:+
$CRUN_NOTE
}"

echo "$section"
[ "$WRITE" = 1 ] && bench_write_section Launch "$section"
exit 0
