#include "agent/SupervisorReloadTarget.h"

namespace cgwarden::agent {

Status SupervisorReloadTarget::applyLimits(const std::string& workload, const Limits& limits) {
  return supervisor_.applyLimits(workload, limits);
}

Status SupervisorReloadTarget::updateSettings(const config::WorkloadSpec& spec) {
  return supervisor_.updateSettings(spec);
}

Status SupervisorReloadTarget::launch(const config::WorkloadSpec& spec) { return supervisor_.launch(spec); }

Status SupervisorReloadTarget::remove(const std::string& workload) {
  if (auto st = supervisor_.remove(workload); !st) return st;
  // Waits until it is no longer registered: waitFor answers ENOENT then.
  auto gone = supervisor_.waitFor(workload, [](const WorkloadStatus&) { return false; }, wait_);
  if (gone.ok()) return Error::invalid("remove", workload, "still registered after the wait");
  if (gone.error().errnum == ENOENT) return {};
  return gone.error();
}

}  // namespace cgwarden::agent
