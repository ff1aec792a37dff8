#pragma once
// ReloadTarget over the Supervisor: applyLimits -> Supervisor::applyLimits (live, recorded as
// configured), updateSettings -> Supervisor::updateSettings, launch -> Supervisor::launch, remove -> Supervisor::remove and a wait (up to
// `wait`: longer than any stop_grace in use) until the workload is no longer registered.

#include <chrono>

#include "agent/ReloadTarget.h"
#include "agent/Supervisor.h"

namespace cgwarden::agent {

class SupervisorReloadTarget final : public ReloadTarget {
 public:
  explicit SupervisorReloadTarget(Supervisor& supervisor, std::chrono::milliseconds wait = std::chrono::seconds(30))
      : supervisor_(supervisor), wait_(wait) {}

  Status applyLimits(const std::string& workload, const Limits& limits) override;
  Status updateSettings(const config::WorkloadSpec& spec) override;
  Status launch(const config::WorkloadSpec& spec) override;
  Status remove(const std::string& workload) override;

 private:
  Supervisor& supervisor_;
  std::chrono::milliseconds wait_;
};

}  // namespace cgwarden::agent
