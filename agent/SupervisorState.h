#pragma once
// The supervisor's persistent state: <state_dir>/state.json, rewritten atomically (temp file,
// fsync, rename: collectors/FileIo.h writeFileAtomic) whenever a workload is registered,
// starts, ends, restarts or is forgotten. A new agent reads it to re-adopt what still runs.
//
// Format (version 1):
//   {"version": 1, "workloads": [
//     {"name": "web", "kind": "launched", "state": "running", "pid": 4242,
//      "start_ticks": 123456,              // /proc/<pid>/stat field 22 (clock ticks since boot)
//      "restarts": 0, "oom_kills": 0,
//      "oom_counter_at_start": 0,          // the cgroup's kernel oom_kill counter when this run began
//      "started_at_ms": 1764619200000,     // wall clock of the run's start (uptime, start-time metric)

//      "spec": {"name": "web", "command": ["nginx"], "limits": {"memory": {"max": 67108864}}, ...}}]}
// Spec keys: name command env working_dir uid gid user group labels image namespaces hostname
// rlimits limits restart stop_signal stop_grace_ms stdout stderr. Missing keys keep the
// WorkloadSpec defaults; durations are integer milliseconds; limits use the Limits field
// names in snake_case (kUnlimited is 18446744073709551615).
//
// A process is the same one as recorded when /proc/<pid>/stat exists, is not a zombie and
// carries the same start time: pid reuse changes the start time.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/WorkloadStatus.h"
#include "collectors/Result.h"
#include "config/Config.h"

namespace cgwarden::agent {


struct StateEntry {
  config::WorkloadSpec spec;   // adopted: name, labels, limits (command empty)
  WorkloadKind kind = WorkloadKind::Launched;
  std::string state;           // workloadStateName() when written
  pid_t pid = -1;              // main process (host pid); -1 when none
  uint64_t startTicks = 0;     // its /proc/<pid>/stat start time
  uint32_t restarts = 0;
  uint32_t oomKills = 0;
  uint64_t oomCounterAtStart = 0;  // kernel oom_kill counter of the cgroup when the run began
  int64_t startedAtMs = 0;         // wall clock (ms since the epoch) when the run began
  bool operator==(const StateEntry&) const;
};

struct AgentState {
  std::vector<StateEntry> workloads;
};

std::string stateToJson(const AgentState& state);
// Errors name `path` and what is wrong ("workloads[1].spec.limits.cpu.weight: not a number").
Result<AgentState> stateFromJson(std::string_view text, const std::string& path);

// A missing file is an empty state; an unreadable or malformed one is an error.
Result<AgentState> readStateFile(const std::string& path);
Status writeStateFile(const std::string& path, const AgentState& state);

// Start time (stat field 22) of a live, non-zombie process; nullopt when gone or a zombie.
std::optional<uint64_t> processStartTicks(pid_t pid, const std::string& procRoot = "/proc");
// pid alive, not a zombie, and started at `startTicks` (so not a recycled pid).
bool sameProcessAlive(pid_t pid, uint64_t startTicks, const std::string& procRoot = "/proc");

}  // namespace cgwarden::agent
