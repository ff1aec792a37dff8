#pragma once
// What the supervisor knows about one workload, as copied out to callers (API, UI, tests).
//
// States:
//   starting    being launched (cgroup set up, clone in progress)
//   running     its main process is alive
//   stopping    stop signal sent; SIGKILL to the whole cgroup when the grace period ends
//   restarting  waiting out the back-off before the next run
//   exited      ended with an exit code or signal, and the policy does not restart it
//   oom_killed  ended by the kernel's OOM killer, and the policy does not restart it
//   stopped     stopped on request; its cgroup is removed
//   failed      max_restarts reached, or its first launch failed (lastError says why)

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "agent/ExitStatus.h"
#include "collectors/Limits.h"

namespace cgwarden::agent {

// launched: cgwarden started it (restartable). adopted: processes cgwarden took over
// (Adopter, POST /api/v1/adopt); it cannot be restarted since its command is unknown.
enum class WorkloadKind { Launched, Adopted };
const char* workloadKindName(WorkloadKind kind);  // "launched", "adopted"

enum class WorkloadState { Starting, Running, Stopping, Restarting, Exited, OomKilled, Stopped, Failed };

// "starting", "running", ..., "oom_killed" (the SampleTarget::state vocabulary).
const char* workloadStateName(WorkloadState state);

struct WorkloadStatus {
  std::string name;
  WorkloadState state = WorkloadState::Starting;
  WorkloadKind kind = WorkloadKind::Launched;
  pid_t pid = -1;              // host pid of the main process (cgwarden's init with a pid namespace;
                               // adopted: the adopted process, then the lowest remaining member)
  bool childOfAgent = true;    // false: watched by pidfd only (adopted, or re-adopted after an
                               // agent restart); its exit status is then unknown
  std::string cgroupPath;      // relative to the mounts, "cgwarden/web"; empty once removed
  uint32_t restarts = 0;       // automatic restarts since launch(); never decreases
  uint32_t oomKills = 0;       // runs ended by the OOM killer (kernel oom_kill counter rose)
  std::optional<ExitStatus> lastExit;
  bool lastExitWasOom = false;
  std::chrono::system_clock::time_point startedAt{};  // start of the current (or last) run
  std::chrono::milliseconds restartIn{0};             // restarting: time left before the next run
  std::string lastError;       // last launch or stop failure, "" if none
  Limits limits;               // as configured, live changes included
};

}  // namespace cgwarden::agent
