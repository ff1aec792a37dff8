#pragma once
// What to do when a workload's run ends: the restart policy as a pure function.
//
//   never       never restart; the workload ends exited / oom_killed
//   on-failure  restart unless it exited with code 0 (signals and OOM kills are failures)
//   always      restart whatever the outcome
//
// Delays double from initialBackoff up to maxBackoff: 1s, 2s, 4s, ... 30s. After maxRestarts
// restarts in a row (0 = no limit) the workload is `failed`. A run that lasted resetAfter or
// longer starts a new streak (the caller passes attempts = 0 then).

#include <chrono>
#include <cstdint>

#include "config/Config.h"

namespace cgwarden::agent {

struct RestartDecision {
  bool restart = false;
  bool failed = false;                    // gave up: max_restarts reached
  std::chrono::milliseconds delay{0};     // before the restart
};

// `attempts`: restarts already made in the current streak. `succeeded`: exit code 0 and no OOM kill.
RestartDecision decideRestart(const config::RestartSpec& spec, bool succeeded, uint32_t attempts);

// initialBackoff * 2^attempt, capped at maxBackoff (saturating: no overflow for large attempts).
std::chrono::milliseconds backoffDelay(const config::RestartSpec& spec, uint32_t attempt);

const char* restartPolicyName(config::RestartPolicy policy);  // "never", "on-failure", "always"

}  // namespace cgwarden::agent
