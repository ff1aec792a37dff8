#pragma once
// The agent's serving side as one AgentComponent: the HTTP server on agent.listen and the
// MetricsService (sampler over the supervisor's workloads + observed cgroups, /metrics,
// /healthz). Components added after it (control API, policer, adopter) reach the server and
// the latest snapshot through it.

#include <memory>

#include "agent/AgentComponent.h"
#include "agent/HttpServer.h"
#include "agent/MetricsService.h"

namespace cgwarden::agent {

class ServingComponent final : public AgentComponent {
 public:
  std::string name() const override { return "http+metrics"; }
  // Creates the MetricsService over agent.supervisor(), starts the sampling loop, binds the
  // server (an error names the address), registers /metrics and /healthz.
  Status start(Agent& agent) override;
  void stop() override;

  // Valid after a successful start().
  HttpServer& server() { return *server_; }
  MetricsService& metrics() { return *metrics_; }

 private:
  std::unique_ptr<MetricsService> metrics_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace cgwarden::agent
