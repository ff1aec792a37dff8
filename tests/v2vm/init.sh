#!/bin/busybox sh
# /init of the pure cgroup-v2 test VM (built by tests/v2vm/run.sh; not run on the host).
#
# PID 1 of the guest: mounts the basics and cgroup2 at /sys/fs/cgroup, loads brd (a RAM
# disk for io.max), runs the integration suite and prints one result line
#   CGWARDEN-V2VM-RESULT status=passed|failed|hung|setup-error exit=N ran=N passed=N failed=N skipped=N kernel=...
# then powers off. It enables no controller itself: that is the agent code's job.
# PID 1 must never exit (the kernel would panic), so every path ends in finish().

export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root LANG=C.UTF-8 TERM=dumb
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin /root
/bin/busybox --install -s

finish() {
  printf '\n%s\n' "$1"
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  while :; do sleep 60; done
}

setup_error() {
  echo "v2vm-init: $*"
  finish "CGWARDEN-V2VM-RESULT status=setup-error exit=1 ran=0 passed=0 failed=0 skipped=0 kernel=$(uname -r)"
}

mount -t proc proc /proc || setup_error "mount /proc failed"
mount -t sysfs sysfs /sys || setup_error "mount /sys failed"
mount -t devtmpfs devtmpfs /dev || setup_error "mount /dev failed"
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts || setup_error "mount /dev/pts failed" # tmux
# /tmp stays on the initramfs (itself in RAM): a build dir under /tmp lives there.
chmod 1777 /tmp
mount -t tmpfs tmpfs /run
# The options systemd uses on a pure-v2 host.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup || setup_error "mount cgroup2 failed"
ip link set lo up || setup_error "cannot bring up lo"

. /v2vm.env

for m in /modules/*.ko; do
  [ -e "$m" ] || continue
  case "$(basename "$m")" in
    brd.ko) insmod "$m" rd_nr=1 rd_size=65536 max_part=0 || setup_error "insmod $m failed" ;;
    *) insmod "$m" || setup_error "insmod $m failed" ;;
  esac
done
[ -e /sys/block/ram0 ] || setup_error "no /sys/block/ram0 after insmod brd"

echo "v2vm-init: kernel $(uname -r), $(nproc) cpus, $(sed -n 's/^MemTotal: *//p' /proc/meminfo) memory"
echo "v2vm-init: $(grep ' /sys/fs/cgroup ' /proc/mounts)"
echo "v2vm-init: cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "v2vm-init: cgroup.subtree_control: '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
echo "v2vm-init: /proc/self/cgroup: $(cat /proc/self/cgroup)"
echo "v2vm-init: block devices: $(ls /sys/block | tr '\n' ' ')"
[ -x "$V2VM_TESTS" ] || setup_error "no test binary at $V2VM_TESTS"
if grep -qw v2vm.shell /proc/cmdline; then # by hand (docs/testing.md): a shell instead of the suite
  echo "v2vm-init: shell; the suite is $V2VM_TESTS; exit powers off"
  setsid cttyhack sh
  finish "CGWARDEN-V2VM-RESULT status=setup-error exit=1 ran=0 passed=0 failed=0 skipped=0 kernel=$(uname -r)"
fi

# Kernel messages (the OOM reports the suite provokes) stay out of the test output;
# an oops still reaches the console (the kernel raises the level itself), and the
# whole log is printed below when something failed.
dmesg -n 1

# Watchdog: the suite's own deadline lies inside the host's, and a suite that prints
# nothing for V2VM_SILENCE seconds is stuck; either way the stacks of the test
# process are dumped before it is killed, so the log names where it hung.
(
  start=$(cut -d. -f1 /proc/uptime)
  last=-1
  quiet=0
  while :; do
    sleep 2
    [ -s /tmp/tests.pid ] || continue
    pid=$(cat /tmp/tests.pid)
    [ -d "/proc/$pid" ] || exit 0
    now=$(cut -d. -f1 /proc/uptime)
    size=$(stat -c %s /tmp/gtest.out 2>/dev/null || echo 0)
    if [ "$size" = "$last" ]; then quiet=$((quiet + 2)); else quiet=0; last=$size; fi
    why=""
    [ $((now - start)) -ge "$V2VM_DEADLINE" ] && why="the suite ran past its ${V2VM_DEADLINE}s deadline"
    [ "$quiet" -ge "$V2VM_SILENCE" ] && why="the suite printed nothing for ${V2VM_SILENCE}s"
    [ -n "$why" ] || continue
    echo
    echo "v2vm-init: WATCHDOG: $why; stacks of the test process:"
    for t in /proc/$pid/task/*; do
      echo "--- task ${t##*/} ($(cat "$t/comm" 2>/dev/null)) wchan=$(cat "$t/wchan" 2>/dev/null)"
      cat "$t/stack" 2>/dev/null
    done
    ps -o pid,ppid,stat,comm 2>/dev/null || ps
    echo hung >/tmp/tests.hung
    kill -9 "$pid"
    exit 0
  done
) &
watchdog=$!

cd /tmp || setup_error "cd /tmp failed"
echo "v2vm-init: running $V2VM_TESTS --gtest_filter=$V2VM_FILTER"
set -o pipefail
# The suite runs under a shell, as on any host: were its parent PID 1, the refusal of "an
# ancestor of the agent" would meet the refusal of init first.
sh -c '"$@" & echo $! >/tmp/tests.pid; wait $!' tests "$V2VM_TESTS" --gtest_color=no "--gtest_filter=$V2VM_FILTER" 2>&1 |
  tee /tmp/gtest.out
rc=$?
set +o pipefail
kill "$watchdog" 2>/dev/null

count() { # the number in the first gtest summary line matching $1, else 0
  n=$(sed -n "s/$1/\\1/p" /tmp/gtest.out | head -n 1)
  echo "${n:-0}"
}
ran=$(count '^\[==========\] \([0-9][0-9]*\) tests\{0,1\} from .* ran\..*')
passed=$(count '^\[  PASSED  \] \([0-9][0-9]*\) tests\{0,1\}\..*')
skipped=$(count '^\[  SKIPPED \] \([0-9][0-9]*\) tests\{0,1\}, listed below:.*')
failed=$(count '^\[  FAILED  \] \([0-9][0-9]*\) tests\{0,1\}, listed below:.*')

status=passed
if [ -e /tmp/tests.hung ]; then
  status=hung
elif [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$ran" -eq 0 ]; then
  status=failed
fi
if [ "$status" != passed ]; then
  echo "v2vm-init: ---- kernel log (last 150 lines) ----"
  dmesg | tail -n 150
  echo "v2vm-init: ---- end of kernel log ----"
fi
echo "v2vm-init: cgroups left below /sys/fs/cgroup: $(find /sys/fs/cgroup -mindepth 1 -type d | tr '\n' ' ')"
finish "CGWARDEN-V2VM-RESULT status=$status exit=$rc ran=$ran passed=$passed failed=$failed skipped=$skipped kernel=$(uname -r)"
