#pragma once
// The real ActionTarget.
//
// Managed workloads go through the Supervisor (so it knows: a policed stop stays stopped, a
// restart is not counted as a crash): signalMain -> Supervisor::signal, stop, restart, freeze,
// thaw, applyLimits (recorded as configured). signalCgroup and killAll open the workload's
// cgroup through Supervisor::cgroups() (a read-only lookup) and use Cgroup::pids / killAll.
//
// Observed cgroups (only with allow_actions_on_observed) are acted on directly in the
// directories the sampler reads (SampleTarget::dirs): signals to every pid in cgroup.procs;
// kill = SIGKILL sweeps until empty (v2: cgroup.kill); freeze via v2 cgroup.freeze or the v1
// freezer hierarchy (<freezer mount><id>/freezer.state); throttle writes only the CPU quota
// (v1 cpu.cfs_quota_us, v2 cpu.max) and memory.high (v2) / memory.soft_limit_in_bytes (v1).
// stop and restart need a managed workload (the engine stops observed cgroups with
// SIGTERM, then killAll after a grace period).

#include "agent/ActionTarget.h"
#include "agent/Supervisor.h"
#include "collectors/CgroupLayout.h"

namespace cgwarden::agent {

class SupervisorActionTarget final : public ActionTarget {
 public:
  SupervisorActionTarget(Supervisor& supervisor, collectors::CgroupLayout layout,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

  Status signalMain(const ActionSubject& subject, int signal) override;
  Status signalCgroup(const ActionSubject& subject, int signal) override;
  Status stop(const ActionSubject& subject) override;
  Status freeze(const ActionSubject& subject) override;
  Status thaw(const ActionSubject& subject) override;
  Status applyLimits(const ActionSubject& subject, const Limits& limits) override;
  Status killAll(const ActionSubject& subject) override;
  Status restart(const ActionSubject& subject) override;

 private:
  Supervisor& supervisor_;
  collectors::CgroupLayout layout_;
  std::chrono::milliseconds timeout_;
};

}  // namespace cgwarden::agent
