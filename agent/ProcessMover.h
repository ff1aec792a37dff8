#pragma once
// Moves a running process, all its threads and all its descendants into a Cgroup, without
// leaving behind a child forked while the move happens.
//
// Why this is race-free without freezing the source (which we do not own):
//  - writing a pid to cgroup.procs moves its whole thread group, and the kernel holds the
//    thread-group lock, so no thread is created half-way;
//  - fork inherits the parent's cgroup, and a fork either completes before the parent's
//    migration (the child is then already on the parent's children list) or starts after
//    it (the child is born in the target);
//  - so the mover walks the tree parents-first, moves every member not yet in the target
//    (in every hierarchy: on v1 a fork can land between two hierarchies' writes), and
//    repeats until a full pass finds no live member outside the target, at most
//    `maxPasses` times. The children files are not a consistent snapshot while processes
//    fork and exit, so the pass that finds nothing to move is confirmed by a full /proc
//    scan of PPid before the move is declared complete.
//
// Membership of the target is read from cgroup.procs of every directory of the target
// (Cgroup::directories()), not from one hierarchy.
//
// Limits: a member whose parent exits between two passes before the mover has seen it is
// reparented (to init or a subreaper) and is no longer part of the tree; pids are matched
// with their start time, so a recycled pid is never taken for a member.

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/Cgroup.h"
#include "collectors/ProcessInfo.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

struct MoveOptions {
  std::string procRoot = "/proc";
  // The agent's own pid; 0 means getpid(). The agent, its threads and its ancestors are
  // refused (an ancestor's tree would contain the agent).
  pid_t selfPid = 0;
  // Cgroup root of the managed workloads ("cgwarden", relative to the mounts); "" turns the
  // check off. A process inside "<managedRoot>/<W>" for a workload W that is not the target
  // is refused (the root pid) or skipped (a descendant).
  std::string managedRoot;
  // Managed workloads a process may be taken from (a rule `parent: {workload: W}`).
  std::vector<std::string> allowedSources;
  // Bound on discover-and-move passes before giving up with complete = false.
  int maxPasses = 64;
  // Discover descendants by a full /proc PPid scan on every pass instead of the children
  // files (forced when the kernel lacks CONFIG_PROC_CHILDREN).
  bool alwaysScanPpid = false;
};

// A descendant left where it is, and why ("in managed workload web", "the agent itself").
struct SkippedPid {
  pid_t pid = 0;
  std::string reason;
};

struct MoveResult {
  pid_t root = 0;                    // the thread-group id that was asked for
  std::vector<pid_t> moved;          // written to the target's cgroup.procs, first-move order
  std::vector<pid_t> alreadyInside;  // members that were in the target before we wrote them
  std::vector<pid_t> vanished;       // exited (or turned zombie) mid-way: ESRCH is not an error
  std::vector<SkippedPid> skipped;   // descendants left alone on purpose
  std::vector<Error> failures;       // attach errors other than ESRCH, one per pid, not retried
  std::vector<pid_t> members;        // live members in the target when the move completed, sorted
  // CLOCK_MONOTONIC ns right after the root process itself was written into the target
  // (0 when it was already inside): the end of "exec event -> moved" latency.
  uint64_t rootMovedNs = 0;
  int passes = 0;
  // A final pass, confirmed by a /proc PPid scan, found every live member of the tree in
  // the target (failures and skipped excepted). False only when maxPasses ran out.
  bool complete = false;
  bool usedChildrenFiles = false;    // false: every pass scanned /proc PPid
};

// The refusals, checked before anything is created or moved. Returns the process (a
// thread id is resolved to its thread group). Errors:
//   errnum ESRCH                 no such process
//   errnum 0, operation "adopt"  refused: pid 1, the agent itself or one of its threads, an
//                                ancestor of the agent, a kernel thread, a zombie, a process
//                                in another managed workload (detail says which)
// `targetPath` is the target cgroup's path() ("" when none yet): a process already in it is
// accepted.
Result<collectors::ProcessInfo> checkAdoptable(pid_t pid, const MoveOptions& options,
                                               const std::string& targetPath = "");

// Moves `pid`'s thread group and all its descendants into `target` (see above).
// Errors: the refusals of checkAdoptable, or the target's cgroup.procs being unreadable.
// Per-member outcomes, including partial failure, are in the MoveResult.
Result<MoveResult> moveTree(pid_t pid, Cgroup& target, const MoveOptions& options = {});
// The same for a process checkAdoptable has just accepted (saves reading it twice on the
// latency-critical path).
Result<MoveResult> moveTree(const collectors::ProcessInfo& checked, Cgroup& target, const MoveOptions& options);

// The managed workload whose cgroup holds `pid` per /proc/<pid>/cgroup: the first path
// segment below "/<managedRoot>/" in any hierarchy; "" when none. "<managedRoot>/x/y" gives "x".
Result<std::string> managedWorkloadOf(pid_t pid, const std::string& managedRoot,
                                      const std::string& procRoot = "/proc");

}  // namespace cgwarden::agent
