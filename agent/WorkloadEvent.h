#pragma once
// Something that happened to a workload, for listeners (logs, metrics counters, the UI's feed).

#include <chrono>
#include <optional>
#include <string>

#include "agent/ExitStatus.h"

namespace cgwarden::agent {

struct WorkloadEvent {
  enum class Kind { Started, Exited, OomKilled, Restarting, Stopped, Failed, LaunchFailed, Removed };
  Kind kind = Kind::Started;
  std::string name;
  std::optional<ExitStatus> exit;         // Exited, OomKilled, and the run before Restarting/Failed
  std::chrono::milliseconds delay{0};     // Restarting: the back-off
  std::string message;                    // human-readable summary, also logged
};

const char* workloadEventName(WorkloadEvent::Kind kind);  // "started", "oom_killed", ...

}  // namespace cgwarden::agent
