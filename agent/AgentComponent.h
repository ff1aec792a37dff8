#pragma once
// Something that runs beside the supervisor for the agent's lifetime: the metrics sampler,
// the HTTP server (/metrics, /healthz, API, UI), the policer, the adopter.
//
// The Agent starts components in the order they were added, after every configured workload
// has been launched, and stops them in reverse order before the workloads are stopped (so
// /metrics keeps answering while workloads are being launched and until shutdown begins).

#include <string>

#include "collectors/Result.h"

namespace cgwarden::agent {

class Agent;

class AgentComponent {
 public:
  virtual ~AgentComponent() = default;
  virtual std::string name() const = 0;
  // Called from the thread that calls Agent::start(). A failure aborts the agent's start.
  // `agent` outlives the component's stop(): keep references to agent.supervisor() etc.
  virtual Status start(Agent& agent) = 0;
  // Must return promptly; called once, only after a successful start().
  virtual void stop() = 0;
};

}  // namespace cgwarden::agent
