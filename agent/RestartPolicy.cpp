#include "agent/RestartPolicy.h"

#include <algorithm>

namespace cgwarden::agent {

std::chrono::milliseconds backoffDelay(const config::RestartSpec& spec, uint32_t attempt) {
  const int64_t cap = std::max<int64_t>(spec.maxBackoff.count(), 0);
  int64_t delay = std::max<int64_t>(spec.initialBackoff.count(), 0);
  for (uint32_t i = 0; i < attempt && delay < cap; ++i) delay *= 2;
  return std::chrono::milliseconds(std::min(delay, std::max(cap, spec.initialBackoff.count())));
}

RestartDecision decideRestart(const config::RestartSpec& spec, bool succeeded, uint32_t attempts) {
  RestartDecision d;
  switch (spec.policy) {
    case config::RestartPolicy::Never: return d;
    case config::RestartPolicy::OnFailure:
      if (succeeded) return d;
      break;
    case config::RestartPolicy::Always: break;
  }
  if (spec.maxRestarts != 0 && attempts >= spec.maxRestarts) {
    d.failed = true;
    return d;
  }
  d.restart = true;
  d.delay = backoffDelay(spec, attempts);
  return d;
}

const char* restartPolicyName(config::RestartPolicy policy) {
  switch (policy) {
    case config::RestartPolicy::Never: return "never";
    case config::RestartPolicy::OnFailure: return "on-failure";
    case config::RestartPolicy::Always: return "always";
  }
  return "?";
}

}  // namespace cgwarden::agent
