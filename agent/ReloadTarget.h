#pragma once
// What a reload plan (ConfigDiff.h) is executed against: the supervisor in the agent
// (SupervisorReloadTarget), a recording fake in tests.

#include <string>

#include "collectors/Limits.h"
#include "collectors/Result.h"
#include "config/Config.h"

namespace cgwarden::agent {

class ReloadTarget {
 public:
  virtual ~ReloadTarget() = default;
  // Live limits of a running workload (only the set fields).
  virtual Status applyLimits(const std::string& workload, const Limits& limits) = 0;
  // Labels, image, restart policy, stop signal and grace of a registered workload, replaced by
  // `spec`'s without restarting it.
  virtual Status updateSettings(const config::WorkloadSpec& spec) = 0;
  // Starts a new workload.
  virtual Status launch(const config::WorkloadSpec& spec) = 0;
  // Stops a workload and forgets it; returns once it is gone (so its name can be reused).
  virtual Status remove(const std::string& workload) = 0;
};

}  // namespace cgwarden::agent
