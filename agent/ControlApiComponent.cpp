#include "agent/ControlApiComponent.h"

#include <spdlog/spdlog.h>

#include "agent/Agent.h"

namespace cgwarden::agent {

ControlApiComponent::ControlApiComponent(ControlApiHooks hooks) : hooks_(std::move(hooks)) {}

Status ControlApiComponent::start(Agent& agent) {
  server_ = hooks_.server ? hooks_.server() : nullptr;
  if (server_ == nullptr) {
    return Error::invalid("start", "control API", "no HTTP server is running (add the HTTP component first)");
  }
  ControlApiOptions options;
  options.tokenFile = hooks_.tokenFile;
  options.configPath = agent.config().path;
  options.agent = agent.config().agent;
  auto api = ControlApi::create(agent.supervisor(), agent.layout(), options);
  if (!api) return api.error();
  api_ = std::move(*api);
  if (hooks_.snapshots) api_->setSnapshotProvider(hooks_.snapshots);
  if (hooks_.events) api_->setEventsProvider(hooks_.events);
  if (hooks_.adopt) api_->setAdopter(hooks_.adopt);
  if (hooks_.reload) api_->setReloader(hooks_.reload);
  api_->registerHandlers(*server_);
  spdlog::info("control API on {}/api/v1 (bearer token in {})", server_->baseUrl(), api_->tokenPath());
  return {};
}

void ControlApiComponent::stop() {
  if (api_ && server_ != nullptr) api_->unregisterHandlers(*server_);
}

}  // namespace cgwarden::agent
