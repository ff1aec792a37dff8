#!/usr/bin/env bash
# Runs the integration suite inside a pure cgroup-v2 VM (qemu, software emulation).
#
#   bash tests/v2vm/run.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build)
#
# 1. installs qemu-system-x86 if missing; takes a static busybox (installed, or from the
#    busybox-static package unpacked into the cache);
# 2. fetches Debian's kernel (the package linux-image-amd64 points at) with apt-get
#    download, unpacks it with dpkg -x into the cache and keeps vmlinuz and brd.ko
#    (never installed into /boot);
# 3. builds an initramfs: busybox, BUILD_DIR's integration_tests and cgwarden at their
#    host paths (the suite runs cgwarden from there) with their ldd closure, brd.ko,
#    and tests/v2vm/init.sh as /init;
# 4. boots it with cgroup_no_v1=all (pure v2), reads the result line back from the
#    serial log and exits 0 only if every test passed.
# A VM that prints no result within its timeout is dumped (qemu monitor registers,
# sysrq task backtraces on the serial log), killed and retried once; the script never
# waits longer than about 2 x CGWARDEN_V2VM_TIMEOUT.
#
# Environment:
#   CGWARDEN_V2VM_CACHE    kernel/busybox cache (default /var/cache/cgwarden-v2vm as root,
#                          else ~/.cache/cgwarden-v2vm); delete it to fetch a newer kernel
#   CGWARDEN_V2VM_WORK     initramfs and logs (default BUILD_DIR/v2vm); serial-<try>.log there
#   CGWARDEN_V2VM_FILTER   gtest filter for the suite (default '*': all of it)
#   CGWARDEN_V2VM_TIMEOUT  seconds per boot before the VM is killed (default 300)
#   CGWARDEN_V2VM_SILENCE  seconds without serial output that count as a hang (default 120)
#   CGWARDEN_V2VM_KERNEL   a kernel package name (default: what linux-image-amd64 depends on)
#   CGWARDEN_V2VM_NO_BUILD set to skip `cmake --build BUILD_DIR --target integration_tests cgwarden`
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
start_time=$(date +%s)

log() { echo "v2vm: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
elapsed() { echo "$(($(date +%s) - start_time))s"; }

build=${1:-$repo/build}
[ -d "$build" ] || die "build directory '$build' does not exist (configure it: cmake -S $repo -B $build -G Ninja)"
build=$(cd "$build" && pwd)
if [ "$(id -u)" = 0 ]; then
  cache=${CGWARDEN_V2VM_CACHE:-/var/cache/cgwarden-v2vm}
else
  cache=${CGWARDEN_V2VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cgwarden-v2vm}
fi
work=${CGWARDEN_V2VM_WORK:-$build/v2vm}
filter=${CGWARDEN_V2VM_FILTER:-*}
timeout=${CGWARDEN_V2VM_TIMEOUT:-300}
silence=${CGWARDEN_V2VM_SILENCE:-120}
marker=CGWARDEN-V2VM-RESULT
mkdir -p "$cache" "$work"

# ---- the binaries under test -------------------------------------------------------
if [ -z "${CGWARDEN_V2VM_NO_BUILD:-}" ] && [ -f "$build/CMakeCache.txt" ]; then
  cmake --build "$build" --target integration_tests cgwarden >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; die "building integration_tests and cgwarden in $build failed"; }
fi
tests_bin=$build/tests/integration_tests
agent_bin=$build/agent/cgwarden
[ -x "$tests_bin" ] || die "no $tests_bin: build it first (cmake --build $build --target integration_tests)"
[ -x "$agent_bin" ] || die "no $agent_bin: build it first (cmake --build $build --target cgwarden)"

# ---- host tools ----------------------------------------------------------------------
apt_ready=""
apt_prepare() { # apt-get update once, only when apt knows no candidate for $1
  [ -n "$apt_ready" ] && return 0
  local policy
  policy=$(apt-cache policy "$1" 2>/dev/null || true)
  if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    log "apt-get update"
    apt-get update -qq >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; die "apt-get update failed"; }
  fi
  apt_ready=1
}

need_program() { # $1 program, $2 the Debian package that has it
  command -v "$1" >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "$1 is missing; install the $2 package (needs root)"
  apt_prepare "$2"
  log "installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; die "apt-get install $2 failed"; }
}
need_program qemu-system-x86_64 qemu-system-x86
need_program tmux tmux # the suite's `cgwarden top` test runs inside the guest too

exec 9>"$cache/lock"
flock 9 # one fetch at a time per cache

busybox=""
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
  busybox=/bin/busybox # busybox-static installed
elif [ -x "$cache/busybox" ]; then
  busybox=$cache/busybox
else
  apt_prepare busybox-static
  log "fetching busybox-static into $cache"
  tmp=$(mktemp -d "$cache/busybox.XXXXXX")
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root busybox-static) >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; die "apt-get download busybox-static failed"; }
  dpkg -x "$tmp"/busybox-static_*.deb "$tmp/x"
  install -m 755 "$tmp/x/bin/busybox" "$cache/busybox"
  rm -rf "$tmp"
  busybox=$cache/busybox
fi

# ---- the kernel ----------------------------------------------------------------------
# Cached as $cache/<package>/{vmlinuz,config,modules/brd.ko}.
kernel_pkg=${CGWARDEN_V2VM_KERNEL:-}
if [ -z "$kernel_pkg" ]; then
  for d in $(ls -d "$cache"/linux-image-* 2>/dev/null | sort -V); do
    [ -f "$d/vmlinuz" ] && kernel_pkg=$(basename "$d")
  done
fi
if [ -z "$kernel_pkg" ]; then
  apt_prepare linux-image-amd64
  deps=$(apt-cache depends linux-image-amd64 2>/dev/null || true)
  kernel_pkg=$(sed -n 's/^ *Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' <<<"$deps" | sed -n 1p)
  if [ -z "$kernel_pkg" ]; then
    found=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' 2>/dev/null || true)
    kernel_pkg=$(cut -d' ' -f1 <<<"$found" | sort -V | sed -n '$p')
  fi
  [ -n "$kernel_pkg" ] || die "apt offers no linux-image-*-amd64 package"
fi
kdir=$cache/$kernel_pkg
if [ ! -f "$kdir/vmlinuz" ]; then
  apt_prepare "$kernel_pkg"
  log "fetching $kernel_pkg into $cache ($(elapsed))"
  tmp=$(mktemp -d "$cache/kernel.XXXXXX")
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$kernel_pkg") >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; die "apt-get download $kernel_pkg failed"; }
  dpkg -x "$tmp"/"$kernel_pkg"_*.deb "$tmp/x"
  mkdir -p "$tmp/out/modules"
  cp "$tmp"/x/boot/vmlinuz-* "$tmp/out/vmlinuz"
  cp "$tmp"/x/boot/config-* "$tmp/out/config"
  ko=$(find "$tmp/x/lib/modules" -path '*/drivers/block/brd.ko*' | sed -n 1p)
  [ -n "$ko" ] || die "$kernel_pkg has no drivers/block/brd.ko*"
  case "$ko" in
    *.ko) cp "$ko" "$tmp/out/modules/brd.ko" ;;
    *.ko.xz) xz -dc "$ko" >"$tmp/out/modules/brd.ko" ;;
    *.ko.zst) zstd -qdc "$ko" >"$tmp/out/modules/brd.ko" ;;
    *.ko.gz) gzip -dc "$ko" >"$tmp/out/modules/brd.ko" ;;
    *) die "unknown module compression: $ko" ;;
  esac
  rm -rf "$kdir"
  mv "$tmp/out" "$kdir"
  rm -rf "$tmp"
fi
flock -u 9
log "kernel $kernel_pkg from $kdir ($(elapsed))"

# ---- the initramfs ---------------------------------------------------------------------
root=$work/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,modules,usr/bin,usr/sbin}
cp "$busybox" "$root/bin/busybox"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
cp "$kdir"/modules/*.ko "$root/modules/"

copy_file() { # copies $1 to the same path inside the initramfs (following symlinks)
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
copy_binary() { # a binary at its host path (debug info stripped) plus its ldd closure
  mkdir -p "$root$(dirname "$1")"
  if command -v strip >/dev/null; then strip --strip-debug -o "$root$1" "$1"; else cp "$1" "$root$1"; fi
  local line lib
  while read -r line; do
    case "$line" in
      *"not found"*) die "$1 needs a library that is not found: $line" ;;
      *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
      /*) lib=${line%% (*} ;;
      *) continue ;; # linux-vdso
    esac
    [ -e "$root$lib" ] || copy_file "$lib"
  done < <(ldd "$1")
}
copy_binary "$tests_bin"
copy_binary "$agent_bin"
# The host programs the suite runs, as themselves: busybox's applets are one binary, so a
# copy of busybox's /bin/sleep renamed to a rule's comm would not be sleep at all. init's
# `busybox --install -s` keeps these and links the rest.
for prog in /bin/sh /bin/bash /bin/sleep /bin/true /bin/cat /usr/bin/tmux; do
  [ -x "$prog" ] || die "$prog is missing on the host (tests/run-all.sh installs it)"
  copy_binary "$prog"
done
# tmux refuses to start without a UTF-8 locale; glibc's C.UTF-8 is one directory.
[ -d /usr/lib/locale/C.utf8 ] && { mkdir -p "$root/usr/lib/locale"; cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"; }

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
# The guest's own deadline for the suite ends well before the host kills the VM.
cat >"$root/v2vm.env" <<EOF
V2VM_TESTS='$tests_bin'
V2VM_FILTER='$filter'
V2VM_DEADLINE=$((timeout - 45))
V2VM_SILENCE=$((silence - 30))
EOF

initrd=$work/initramfs.cpio
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$initrd"
log "initramfs $initrd: $(du -m "$initrd" | cut -f1) MB ($(elapsed))"

# ---- boot ------------------------------------------------------------------------------
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill -9 "$qemu_pid" 2>/dev/null || true; fi
  [ -n "${mon_fd_in:-}" ] && exec {mon_fd_in}>&- || true
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM

monitor() { # sends one command to the qemu monitor; its answer lands in monitor-<try>.log
  echo "$1" >&"$mon_fd_in" 2>/dev/null || true
}

# Boots once; sets `outcome` to "marker", "hang" or "exit".
boot() {
  local try=$1
  local serial=$work/serial-$try.log monlog=$work/monitor-$try.log mon=$work/monitor-$try
  rm -f "$serial" "$monlog" "$mon.in" "$mon.out"
  mkfifo "$mon.in" "$mon.out"
  exec {mon_fd_in}<>"$mon.in"
  exec {mon_fd_out}<>"$mon.out"
  cat <&"$mon_fd_out" >"$monlog" &
  local mon_reader=$!

  qemu-system-x86_64 -accel tcg -smp 2 -m 1G -nographic -no-reboot -nic none \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 cgroup_no_v1=all panic=-1 sysrq_always_enabled rdinit=/init" \
    -serial "file:$serial" -monitor "pipe:$mon" </dev/null >"$work/qemu-$try.out" 2>&1 &
  qemu_pid=$!
  touch "$serial"
  tail -n +1 -F --pid="$qemu_pid" "$serial" 2>/dev/null | tr -d '\r' &
  local streamer=$!

  local started last_size=-1 quiet=0 size now why=""
  started=$(date +%s)
  outcome=exit
  while kill -0 "$qemu_pid" 2>/dev/null; do
    sleep 1
    if grep -aq "^$marker " "$serial" 2>/dev/null; then
      outcome=marker
      # Powering off takes a moment; do not wait on a guest that hangs in it.
      for _ in $(seq 1 15); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
      break
    fi
    now=$(date +%s)
    size=$(stat -c %s "$serial" 2>/dev/null || echo 0)
    if [ "$size" = "$last_size" ]; then quiet=$((quiet + 1)); else quiet=0; last_size=$size; fi
    [ $((now - started)) -ge "$timeout" ] && why="no result after ${timeout}s"
    [ "$quiet" -ge "$silence" ] && why="no serial output for ${silence}s"
    if [ -n "$why" ]; then
      outcome=hang
      log "VM hung ($why); dumping registers and kernel backtraces"
      monitor "info registers -a"
      monitor "info cpus"
      for k in 8 l w t; do # console loglevel 8, then backtraces: CPUs, blocked tasks, all tasks
        monitor "sendkey alt-sysrq-$k"
        sleep 1
      done
      sleep 3
      break
    fi
  done
  if kill -0 "$qemu_pid" 2>/dev/null; then
    monitor "quit"
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
  wait "$streamer" 2>/dev/null || true
  exec {mon_fd_in}>&- {mon_fd_out}>&-
  kill "$mon_reader" 2>/dev/null || true
  wait "$mon_reader" 2>/dev/null || true
  unset mon_fd_in
  rm -f "$mon.in" "$mon.out"
  if [ "$outcome" = hang ]; then
    echo "---- qemu monitor ($monlog) ----"
    sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$monlog" | grep -av '^(qemu)' || true
    echo "---- end of qemu monitor ----"
  fi >&2
  if [ "$outcome" = exit ] && [ -s "$work/qemu-$try.out" ]; then
    cat "$work/qemu-$try.out" >&2
  fi
}

result=""
for try in 1 2; do
  log "booting (try $try, timeout ${timeout}s); serial log: $work/serial-$try.log"
  boot_start=$(date +%s)
  boot "$try"
  ln -sfn "serial-$try.log" "$work/serial.log"
  result=$(grep -a "^$marker " "$work/serial-$try.log" | tr -d '\r' | tail -n 1 || true)
  log "try $try ended after $(($(date +%s) - boot_start))s: ${result:-no result line ($outcome)}"
  [ -n "$result" ] && break
  [ "$try" = 1 ] && log "retrying once"
done

[ -n "$result" ] || die "the VM gave no result line in two tries; see $work/serial-*.log ($(elapsed))"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
status=$(field status)
log "summary: $(field passed) passed, $(field failed) failed, $(field skipped) skipped of $(field ran) tests on $(field kernel), pure cgroup v2 (total $(elapsed))"
# The plain closing line CI reads, only when the suite ran to its end.
case "$status" in passed | failed) echo "v2vm: $(field passed) passed, $(field failed) failed" ;; esac
if [ "$status" != passed ]; then
  die "the suite in the VM ended with status=$status exit=$(field exit); serial log: $work/serial.log"
fi
exit 0
