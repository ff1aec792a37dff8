#!/bin/bash
# bench/adopt: how fast, and how completely, a process is adopted after its exec.
# cgwarden's Adopter (netlink proc connector + race-free tree move) side by side with
# cgrulesengd (Debian cgroup-tools) on the same rule, in one interleaved run.
#
#   sudo bench/adopt.sh [EXECS] [--write]     (default 1000 execs per candidate)
#
#   BUILD=/path/to/build   build directory with the static libraries (default: newest build*/)
#   NO_INSTALL=1           do not apt-get install cgroup-tools
#
# The matching program is bench/adopt_probe.c, statically linked, copied under a unique name
# (comm "cgwb<pid>"); the rule is "comm == that name -> cgroup cgwarden-bench-<pid>/target"
# in every v1 controller cgwarden uses. Each exec reports from inside the program:
#   first outside   its first instruction ran outside the target (/proc/self/cgroup)
#   latency         first instruction -> it sees itself inside (polled every ~20 us)
#   left behind     a child it forked at once, before being moved, still outside 20 ms after
#                   the program saw itself inside
#   child outside   a child forked after it was inside, outside at its first instruction
# For cgwarden also "exec event -> moved" (the kernel's event timestamp to the end of the
# write that moved the process: cgwarden_adoption_latency_seconds).
#
# cgrulesengd has no flag for its rules file: it runs in a private mount namespace where an
# overlay on /etc adds a temporary cgrules.conf (the real /etc is untouched) and a tmpfs on
# /run takes its socket. Execs are run in chunks of 100, alternating the candidates.
# --write replaces the "## Adopt" section of docs/benchmarks.md.
set -euo pipefail

EXECS=1000
WRITE=0
for a in "$@"; do
  case "$a" in
    --write) WRITE=1 ;;
    *) EXECS="$a" ;;
  esac
done
CHUNK=100
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || { echo "bench/adopt.sh: needs root (cgroups, netlink proc connector)" >&2; exit 2; }
BUILD="$(bench_build_dir bench/adopt.sh)"
[ -f "$BUILD/agent/libcgwarden_agent.a" ] || { echo "bench/adopt.sh: build first (no libcgwarden_agent.a); or set BUILD" >&2; exit 2; }

if [ "${NO_INSTALL:-0}" != 1 ] && ! command -v cgrulesengd >/dev/null; then
  echo "installing cgroup-tools ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q cgroup-tools >/dev/null 2>&1 || \
    echo "bench/adopt.sh: could not install cgroup-tools; cgrulesengd is skipped" >&2
fi

WORK="$(mktemp -d /tmp/cgwarden-bench-adopt.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PROBE="$WORK/cgwb$$"
gcc -O2 -static -o "$PROBE" "$HERE/adopt_probe.c"
bench_compile_driver "$BUILD" "$WORK/adopt_bench" "$HERE/adopt_bench.cpp"

# cgrulesengd in its own mount namespace; %T and %C are filled in by adopt_bench.
cat > "$WORK/cgred.sh" <<'EOS'
#!/bin/sh
# $1 work dir, $2 probe name, $3 controllers, $4 target path
set -e
mkdir -p "$1/etc-up/cgconfig.d" "$1/etc-up/cgrules.d" "$1/etc-work"
printf '*:%s\t%s\t%s\n' "$2" "$3" "$4" > "$1/etc-up/cgrules.conf"
: > "$1/etc-up/cgconfig.conf"
exec unshare --mount --propagation private sh -c '
  mount -t overlay overlay -o lowerdir=/etc,upperdir="$0/etc-up",workdir="$0/etc-work" /etc &&
  mount -t tmpfs tmpfs /run &&
  exec cgrulesengd -n -Q' "$1"
EOS
chmod +x "$WORK/cgred.sh"

CANDIDATES=(cgwarden)
command -v cgrulesengd >/dev/null && CANDIDATES+=(cgrulesengd)
bench_facts  # the load average at start
for cand in "${CANDIDATES[@]}"; do : > "$WORK/$cand.raw"; done
done_execs=0
while [ "$done_execs" -lt "$EXECS" ]; do
  n=$(( EXECS - done_execs < CHUNK ? EXECS - done_execs : CHUNK ))
  for cand in "${CANDIDATES[@]}"; do
    case "$cand" in
      cgwarden) "$WORK/adopt_bench" cgwarden "$PROBE" "$n" 2>/dev/null >> "$WORK/$cand.raw" ;;
      cgrulesengd)
        rm -rf "$WORK/etc-up" "$WORK/etc-work"
        "$WORK/adopt_bench" external "$PROBE" "$n" -- "$WORK/cgred.sh" "$WORK" "$(basename "$PROBE")" %C %T \
          2>>"$WORK/cgred.err" >> "$WORK/$cand.raw" || { echo "cgrulesengd run failed:" >&2; cat "$WORK/cgred.err" >&2; exit 1; }
        ;;
    esac
  done
  done_execs=$(( done_execs + n ))
  echo "  $done_execs/$EXECS execs" >&2
done

cat > "$WORK/table.py" <<'EOF'
import sys
work, load, execs, kernel, cores, date, cands = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]
def q(v, p):
    if not v: return float("nan")
    v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
rows = []
goal = ""
for c in cands:
    P, E = [], []
    for line in open(f"{work}/{c}.raw"):
        f = line.split()
        if f and f[0] == "P": P.append((int(f[1]), float(f[2]), int(f[3]), int(f[4])))
        elif f and f[0] == "E": E.append(float(f[1]))
    runs = len(P)
    lat = [p[1] for p in P if p[1] >= 0]
    pct = lambda a, b: f"{100.0 * a / b:.1f}%" if b else "-"
    first_out = sum(1 for p in P if p[0] == 0)
    before = [p for p in P if p[2] >= 0]
    after = [p for p in P if p[1] >= 0 and p[3] >= 0]
    ev = f"{q(E, .5):.2f} / {q(E, .99):.2f}" if E else "-"
    rows.append(f"| {c} | {runs} | {len(lat)} | {q(lat, .5):.2f} | {q(lat, .9):.2f} | {q(lat, .99):.2f} | {max(lat) if lat else float('nan'):.2f} | {ev} | "
                f"{pct(first_out, runs)} | {pct(sum(1 for p in before if p[2] == 0), len(before))} | {pct(sum(1 for p in after if p[3] == 0), len(after))} |")
    if c == "cgwarden":
        p99 = q(E, .99) if E else q(lat, .99)
        goal = f"cgwarden exec event -> moved p99 {p99:.2f} ms: {'meets' if p99 < 10 else 'misses'} the 10 ms goal."
print("## Adopt\n")
print(f"{execs} execs per candidate of a statically linked probe matched by `comm`, in interleaved chunks of 100, measured "
      f"{date} on {cores} cores, kernel {kernel}, load average at start {load}. "
      f"Rerun: `sudo bench/adopt.sh {execs} --write`. Times in ms.\n")
print("| candidate | execs | adopted | p50 | p90 | p99 | max | exec event -> moved p50 / p99 | first instruction outside | child forked before the move left behind | child of adopted parent outside |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows: print(r)
print()
print("p50..max: the probe's first instruction -> it sees itself inside the target in every v1 hierarchy (polled every ~20 us).")
print("\n" + goal + "\n")
print("""Both tools are bimodal, and for the same kernel reason: moving another process (writing its pid to
`cgroup.procs` or `tasks`) takes the global `cgroup_threadgroup_rwsem` for writing, and the first
writer after a quiet spell waits for an RCU grace period (rcu_sync), and a grace period lasts longer
the busier the machine: 6-8 ms measured on this 2-core machine at moderate load, 10-20 ms at load ~10
(the 2026-11-28 run, load 5-9: cgwarden event -> moved p99 18.76 ms, cgrulesengd probe-side p99
18.77 ms, both missing 10 ms), while on the idle machine of 2026-12-01 (load 0.02) both p99s stayed
under 5 ms. A move within about one grace period of the previous one costs ~0.15 ms for all nine
hierarchies. So p50 is the warm path and p90/p99 the grace period, and the p99 verdict above holds
for this run's load (see its load average). The lever is the host's cgroup mount option
`favordynmods` (kernel >= 6.0), which keeps that lock in its slow mode and makes every fork and exit
slightly dearer: a host decision, not measured here (it would change every process on this shared host).
cgwarden's own work per exec (read stat/status/cgroup, check, 9 writes) is ~0.3-0.5 ms warm; its
probe-side p50 is ~2 ms above its event p50 because, after moving the process, the mover walks the
tree and confirms with a /proc PPid scan (~1.5 ms of CPU on this 2-core machine at load ~10, which
delays the probe's own polling); cgrulesengd moves the matched process only.

An exec-driven adopter cannot stop the program's first instructions running outside (the event comes
after exec): only launching through cgwarden gives 0 there. Children forked after the adoption are
inside for both. Children forked before the move were caught by both in this run: cgwarden by the
mover's repeated tree walk, libcgroup 2.0.2's cgrulesengd by moving a child whose fork event is older
than its parent's move. cgrulesengd does not notice netlink overruns (its recvfrom result is compared
with ENOBUFS instead of checking errno), so dropped events are never made up by a rescan; cgwarden
counts them and rescans /proc.""")
EOF
section="$(python3 "$WORK/table.py" "$WORK" "$BENCH_LOAD" "$EXECS" "$BENCH_KERNEL" "$BENCH_CORES" "$BENCH_DATE" "${CANDIDATES[@]}")"

echo "$section"
[ "$WRITE" = 1 ] && bench_write_section Adopt "$section"
exit 0
