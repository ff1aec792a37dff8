#include "agent/ServingComponent.h"

#include <spdlog/spdlog.h>

#include "agent/Agent.h"

namespace cgwarden::agent {

Status ServingComponent::start(Agent& agent) {
  const config::AgentSpec& spec = agent.config().agent;
  auto metrics = MetricsService::create(agent.layout(), agent.supervisor().targetProvider(),
                                        MetricsOptions::fromAgentSpec(spec));
  if (!metrics) return metrics.error();
  metrics_ = std::move(*metrics);
  HttpServerOptions options;
  options.listen = spec.listen;
  auto server = HttpServer::start(options);
  if (!server) return server.error();
  server_ = std::move(*server);
  metrics_->start();
  metrics_->registerHandlers(*server_);
  spdlog::info("serving /metrics and /healthz on {}", server_->baseUrl());
  return {};
}

void ServingComponent::stop() {
  if (server_) server_->stop();
  if (metrics_) metrics_->stop();
}

}  // namespace cgwarden::agent
