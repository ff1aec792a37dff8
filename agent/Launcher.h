#pragma once
// Starts one workload confined from its first instruction.
//
// Sequence (parent = the agent, child = the new process):
//   1. parent: clone3(CLONE_PIDFD | CLONE_NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET per NamespaceSpec
//      [| CLONE_INTO_CGROUP when Cgroup::cloneIntoFd() >= 0, i.e. pure v2]).
//      Without clone3 (ENOSYS) the legacy clone(2) with the same flags is used.
//   2. v1/hybrid: clone3 puts the child in the cgroup2 PSI twin (hybrid), and the child's first
//      act writes "0" to `tasks` in every v1 hierarchy (AttachMode::Auto, see below). With
//      AttachMode::Parent, or without clone3, the child blocks on a pipe while the parent writes
//      its pid into every hierarchy (Cgroup::attach), then releases it (over a socket pair).
//      Either way not one instruction of the workload's own code runs outside its cgroup.
//   3. child: unshare(CLONE_NEWCGROUP) (after the move, so the workload sees its cgroup as "/"),
//      mount --make-rprivate / and a fresh /proc, sethostname, `lo` up (ioctl SIOCSIFFLAGS),
//      setsid (LaunchOptions::newSession).
//   4. With a pid namespace, or when stdout/stderr go to a rotated log file, the child becomes a
//      small init (pid 1 in its namespace; otherwise a child subreaper) that forks the workload,
//      reaps every zombie, forwards SIGTERM SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGWINCH to it,
//      copies its output into the log file (rotating by size), and exits with the workload's
//      status: its exit code, or 128+signal.
//   5. workload: default signal dispositions, stdio, rlimits, setgroups(0)/setgid/setuid, chdir,
//      every fd >= 3 marked close-on-exec (close_range), execve with a minimal environment
//      (PATH, HOME) plus WorkloadSpec::env; command[0] without '/' is searched in that PATH
//      ("cgwarden" itself means this binary, see kSelfCommand).
//   Any failing step is sent to the parent over a close-on-exec pipe (step + errno), so a
//   missing or non-executable binary comes back as an Error:
//     launch web: exec /usr/bin/nope: No such file or directory (ENOENT) (check command[0] ...)
//
// Why the init writes the log file (not a reader thread in the agent): the workload's output
// must survive the agent (`leave_running`, upgrades); a pipe into the agent would break with
// EPIPE when it exits. The init lives exactly as long as the workload and is charged to its
// cgroup, which is where the cost of its logging belongs.
//
// Between clone and exec the child runs only async-signal-safe code: raw syscalls, no
// allocation (the agent is multi-threaded). Everything it needs is prepared before the clone.

#include <sys/types.h>

#include <chrono>
#include <string>

#include "agent/Cgroup.h"
#include "agent/ExitStatus.h"
#include "collectors/FileIo.h"
#include "collectors/Result.h"
#include "config/Config.h"

namespace cgwarden::agent {

struct LaunchOptions {
  // setsid(): a supervised workload gets its own session so a Ctrl-C at the agent's terminal
  // reaches only the agent (which stops workloads cleanly). `cgwarden exec` keeps the caller's.
  bool newSession = true;
  // stdin from /dev/null (supervised) or inherited (`cgwarden exec`).
  bool stdinFromNull = true;
  // Tests turn this off to exercise the clone(2) fallback (which implies AttachMode::Parent).
  bool useClone3 = true;

  enum class AttachMode {
    // v2: clone3(CLONE_INTO_CGROUP). v1/hybrid: clone3 into the cgroup2 twin (hybrid), then the
    // child's first act is writing "0" to `tasks` in each v1 hierarchy (see below).
    Auto,
    // The parent writes the child's pid to every cgroup.procs while the child waits on a pipe.
    Parent,
  };
  AttachMode attach = AttachMode::Auto;
};
// Why the child moves itself on v1: writing a pid to cgroup.procs takes the global
// cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period (4-16 ms measured
// here); a single thread writing "0" (itself) to `tasks` skips that lock (kernel/cgroup/cgroup.c,
// cgroup_procs_write_start) and costs ~0.05 ms. The child is single-threaded, so moving its
// thread moves the process; it runs only cgwarden's own set-up code before that, and no
// workload instruction runs before every hierarchy holds it.

struct LaunchedProcess {
  pid_t pid = -1;      // host pid of the first process (the init when hasInit)
  UniqueFd pidfd;      // readable (POLLIN) once it has exited; reap with waitpid(pid)
  bool hasInit = false;
  std::chrono::system_clock::time_point startedAt;
};

class Launcher {
 public:
  // Starts `spec` in `cgroup` (which must exist; limits are the caller's business).
  // Blocks until the workload has exec'd or failed (typically well under 10 ms).
  // Output files (OutputSpec::Mode::File) must have a non-empty path; their directory is created.
  static Result<LaunchedProcess> launch(const config::WorkloadSpec& spec, Cgroup& cgroup,
                                        const LaunchOptions& options = {});

  // Whether a launch error is the final execve failing (missing or non-executable binary),
  // as opposed to the set-up before it: shells exit 127 / 126 for those.
  static bool isExecFailure(const Error& error);

  // command[0] "cgwarden" runs this very binary (/proc/self/exe), so the demo's
  // `cgwarden stress` workloads work from a build tree as well as when installed.
  static constexpr const char* kSelfCommand = "cgwarden";

  // The PATH every workload starts with.
  static constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
};

}  // namespace cgwarden::agent
