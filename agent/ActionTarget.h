#pragma once
// What the policer acts on. The policer decides; an ActionTarget performs. The real one is
// SupervisorActionTarget (managed workloads through the Supervisor, observed cgroups through
// the cgroup layer); tests use a recording fake.
//
// Every method must be thread-safe (an exec hook's firing runs on its own thread) and must
// not block for long: stop() and restart() start the supervisor's ladder and return.

#include <string>

#include "collectors/CgroupDirs.h"
#include "collectors/Limits.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

// Who an action is aimed at: one sampled target.
struct ActionSubject {
  std::string name;     // workload name; observed cgroups: their path below the mounts
  std::string id;       // cgroup id, "/cgwarden/web"
  bool managed = true;  // false: an observed cgroup (actions only with allow_actions_on_observed)
  // Directory per controller, as in SampleTarget::dirs ("" = the cgroup2 directory).
  collectors::CgroupDirs dirs;
};

class ActionTarget {
 public:
  virtual ~ActionTarget() = default;
  // Sends `signal` to the workload's main process (managed only).
  virtual Status signalMain(const ActionSubject& subject, int signal) = 0;
  // Sends `signal` to every process in the cgroup.
  virtual Status signalCgroup(const ActionSubject& subject, int signal) = 0;
  // Managed: the supervisor's stop (stop_signal, stop_grace, SIGKILL, stays stopped).
  virtual Status stop(const ActionSubject& subject) = 0;
  // Returns once the kernel reports the cgroup frozen.
  virtual Status freeze(const ActionSubject& subject) = 0;
  virtual Status thaw(const ActionSubject& subject) = 0;
  // Writes the set fields live (managed: also recorded as configured).
  virtual Status applyLimits(const ActionSubject& subject, const Limits& limits) = 0;
  // SIGKILLs every process in the cgroup and waits until it is empty.
  virtual Status killAll(const ActionSubject& subject) = 0;
  // Managed: stop with grace and start again.
  virtual Status restart(const ActionSubject& subject) = 0;
};

}  // namespace cgwarden::agent
